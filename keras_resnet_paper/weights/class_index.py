"""Class indices of the releases' label sets and `decode_predictions` (wnid, class name, score)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import keras
import numpy as np

from keras_resnet_paper.weights.download import fetch_file
from keras_resnet_paper.weights.releases import get_label_set

__all__ = ["load_class_index", "decode_predictions"]


def load_class_index(
    class_index: str | os.PathLike | Mapping | None = None, label_set: str = "imagenet-1k"
) -> dict[str, list[str]]:
    """Class index {"0": [wnid, name], ...}: given, from a JSON file, or the label set's file
    fetched once (keras.applications' ImageNet index, pinned hash; mirror and cache as `download`)."""
    if isinstance(class_index, Mapping):
        return {str(k): list(v) for k, v in class_index.items()}
    if class_index is None:
        labels = get_label_set(label_set)
        class_index = fetch_file(labels.class_index, labels.base_url)
    with open(os.fspath(class_index), encoding="utf8") as f:  # 40 kB: read per call, no cache
        return {str(k): list(v) for k, v in json.load(f).items()}


def decode_predictions(
    preds, top: int = 5, class_index: str | os.PathLike | Mapping | None = None, label_set: str = "imagenet-1k"
):
    """[[(wnid, class name, score), ...] per sample], best first, like keras.applications."""
    preds = np.asarray(keras.ops.convert_to_numpy(preds))
    index = load_class_index(class_index, label_set)
    if preds.ndim != 2 or preds.shape[1] != len(index):
        raise ValueError(f"decode_predictions expects a batch of shape (samples, {len(index)}); got {preds.shape}.")
    results = []
    for pred in preds:
        best = np.argsort(-pred, kind="stable")[:top]
        results.append([tuple(index[str(i)]) + (float(pred[i]),) for i in best])
    return results
