"""Top-1 / top-5 error (the paper reports errors, not accuracies)."""

from __future__ import annotations

import keras
import numpy as np

from keras_resnet_paper.validation import check_finite_array, check_int, check_labels

__all__ = ["TopKError", "topk_error", "top1_top5_error"]


@keras.saving.register_keras_serializable(package="keras_resnet_paper")
class TopKError(keras.metrics.SparseTopKCategoricalAccuracy):
    """1 - top-k accuracy for integer labels; named "top1_error", "top5_error" by default."""

    def __init__(self, k: int = 1, name: str | None = None, dtype=None):
        check_int("k", k, minimum=1)
        super().__init__(k=k, name=name or f"top{k}_error", dtype=dtype)

    def result(self):
        return 1.0 - super().result()


def topk_error(scores, labels, k: int = 1) -> float:
    """Fraction of rows of `scores` [N, C] whose label is not among the k highest scores.

    Ties are resolved by index order (stable), so the error is never under-counted by ties.
    """
    check_int("k", k, minimum=1)
    scores = check_finite_array("scores", scores, dtype=np.float64)
    labels = check_labels("labels", np.asarray(labels).reshape(-1)).astype(np.int64)
    if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(f"scores must be [N, C] matching labels [N]; got {scores.shape} and {labels.shape}.")
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(1.0 - np.mean(np.any(top == labels[:, None], axis=1)))


def top1_top5_error(scores, labels) -> dict[str, float]:
    """{"top1_error": ..., "top5_error": ...} for scores [N, C] and integer labels [N]."""
    return {"top1_error": topk_error(scores, labels, 1), "top5_error": topk_error(scores, labels, 5)}
