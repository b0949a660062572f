"""Estimated cost of a grid, from step times measured on the development CPU (no GPU figure has
been measured yet; benchmarks/RESULTS.md): the seconds per iteration grow with the multiply-adds a
step computes (docs/paper.md, 'Parameter and FLOP counts'), fitted on the offline runs of plain-20,
plain-56, ResNet-20 and ResNet-56 at batch 128 and 32×32; other nets and sizes are scaled by their
FLOPs, a rough guide. Shards are balanced with the same figure.
"""

from __future__ import annotations

from keras_resnet_paper import paper
from keras_resnet_paper.models import spec
from keras_resnet_paper.reproduce.experiments import Experiment, Net
from keras_resnet_paper.reproduce.grid import Run

__all__ = ["DEVICE", "net_mflops", "step_seconds", "run_seconds", "grid_seconds", "describe_seconds"]

#: Where the step times were measured (benchmarks/RESULTS.md, 'Devices used so far').
DEVICE = "CPU-2 (2 vCPUs shared with other jobs)"
#: Seconds per training iteration at batch 128 = _STEP_FIXED_S + _STEP_S_PER_GFLOP x GFLOPs of one
#: image's forward pass, and _RUN_FIXED_S per run (start-up, data, tracing, final evaluation):
#: fitted on `fig6 --offline` on CPU-2 under a load average of 4-6 (2026-11-24), 300 iterations:
#: plain-20 299 s, ResNet-20 218 s, plain-56 652 s, ResNet-56 603 s (each run's own wall time).
_STEP_FIXED_S = 0.07
_STEP_S_PER_GFLOP = 14.5
_RUN_FIXED_S = 60.0
_OFFLINE_IMAGE = 32  # the offline digits are 32x32: ImageNet nets then cost (32/224)^2 of their Table 1 FLOPs
_IMAGENET_LENGTH = 600_000  # the most the plateau schedule runs (Sec. 3.4)
_CIFAR_LENGTH = 64_000


def _depth(net: Net) -> int:
    return int("".join(c for c in net.model if c.isdigit()))


def _imagenet(net: Net) -> bool:
    return _depth(net) in spec.IMAGENET_SPECS  # 18, 34, 50, 101, 152: no CIFAR depth 6n + 2 among them


def net_mflops(net: Net, *, offline: bool = False) -> float:
    """Multiply-adds of one image's forward pass, in millions (CIFAR: exact; ImageNet: Table 1's,
    at 32x32 with --offline)."""
    if _imagenet(net):
        mflops = 1e3 * paper.IMAGENET_GFLOPS[_depth(net)]
        return mflops * (_OFFLINE_IMAGE / 224) ** 2 if offline else mflops
    n = spec.cifar_blocks_per_stage(_depth(net))
    # conv1, then 6n - 1 3x3 convolutions that each cost 16 x 16 x 9 x 32^2 (the two downsampling
    # ones cost half as much, the same as one), and the classifier.
    return (32 * 32 * 16 * 27 + 2_359_296 * (6 * n - 1) + 640) / 1e6


def step_seconds(net: Net, *, offline: bool = False) -> float:
    """Seconds of one training iteration of `net` on the measured CPU, at its recipe's batch."""
    batch = 256 if _imagenet(net) else 128  # imagenet_paper's batch, offline too
    return (_STEP_FIXED_S + _STEP_S_PER_GFLOP * net_mflops(net, offline=offline) / 1e3) * batch / 128


def run_seconds(run: Run, experiment: Experiment, *, offline: bool, iterations: int | None) -> float:
    """Estimated seconds of one run on the measured CPU."""
    length = iterations or (
        (experiment.offline_iterations or 300) if offline else _IMAGENET_LENGTH if _imagenet(run.net) else _CIFAR_LENGTH
    )
    return _RUN_FIXED_S + length * step_seconds(run.net, offline=offline)


def grid_seconds(runs: list[Run], experiment: Experiment, *, offline: bool, iterations: int | None) -> float:
    return sum(run_seconds(r, experiment, offline=offline, iterations=iterations) for r in runs)


def describe_seconds(seconds: float) -> str:
    """'12 min', '3.4 h', '41 days' (CPU time on the measured CPU)."""
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"
