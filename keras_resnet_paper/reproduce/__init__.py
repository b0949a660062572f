"""Reproduce the paper's experiments: grids of ordinary training runs, then its tables and figures
beside its numbers (`python -m keras_resnet_paper.reproduce --list`).

Modules, one concept each: `paper_results` (the paper's numbers), `effects` (its effects as
orderings), `experiments` (the registry), `grid` (runs, states, shards), `devices` (GPU slots,
hardware), `runner` (training subprocesses), `costs` (estimates from measured step times),
`results` (what the runs measured), `responses` (Fig. 7), `figures`, `report`, `table1`, and
`command` (the command line).
"""

from keras_resnet_paper.reproduce.experiments import EXPERIMENTS, Experiment, Net, get_experiment

__all__ = ["EXPERIMENTS", "Experiment", "Net", "get_experiment"]
