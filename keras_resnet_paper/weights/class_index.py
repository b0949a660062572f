"""The ImageNet class index and `decode_predictions` (wnid, class name, score), best first."""

from __future__ import annotations

import json
import os
from typing import Mapping

import keras
import numpy as np

from keras_resnet_paper.weights.download import fetch_file
from keras_resnet_paper.weights.releases import ReleaseFile

__all__ = ["IMAGENET_CLASS_INDEX", "CLASS_INDEX_BASE_URL", "load_class_index", "decode_predictions"]

#: The class index keras.applications' `decode_predictions` uses, with its pinned md5.
IMAGENET_CLASS_INDEX = ReleaseFile("imagenet_class_index.json", "c2c37ea517e94d9795004a39431a14cb")
CLASS_INDEX_BASE_URL = "https://storage.googleapis.com/download.tensorflow.org/data/"


def load_class_index(class_index: str | os.PathLike | Mapping | None = None) -> dict[str, list[str]]:
    """ImageNet class index {"0": [wnid, name], ...}: given, from a JSON file, or fetched once
    (keras.applications' file, pinned hash; mirror and cache as `download.fetch_file`)."""
    if isinstance(class_index, Mapping):
        return {str(k): list(v) for k, v in class_index.items()}
    if class_index is None:
        class_index = fetch_file(IMAGENET_CLASS_INDEX, CLASS_INDEX_BASE_URL)
    with open(os.fspath(class_index), encoding="utf8") as f:  # 40 kB: read per call, no cache
        return {str(k): list(v) for k, v in json.load(f).items()}


def decode_predictions(preds, top: int = 5, class_index: str | os.PathLike | Mapping | None = None):
    """[[(wnid, class name, score), ...] per sample], best first, like keras.applications."""
    preds = np.asarray(keras.ops.convert_to_numpy(preds))
    index = load_class_index(class_index)
    if preds.ndim != 2 or preds.shape[1] != len(index):
        raise ValueError(
            f"decode_predictions expects a batch of shape (samples, {len(index)}); got {preds.shape}."
        )
    results = []
    for pred in preds:
        best = np.argsort(-pred, kind="stable")[:top]
        results.append([tuple(index[str(i)]) + (float(pred[i]),) for i in best])
    return results
