"""Evaluation: FLOP and parameter counts (more protocols in the submodules)."""

from keras_resnet_paper.evaluation.flops import count_flops, count_params

__all__ = ["count_flops", "count_params"]
