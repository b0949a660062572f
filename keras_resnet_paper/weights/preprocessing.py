"""Input preprocessing and prediction decoding that match the pretrained weights.

The "imagenet" weights (the authors' Caffe models, via keras.applications) expect the Caffe
convention: RGB images in [0, 255] turned to BGR, minus the per-channel ImageNet mean
(103.939, 116.779, 123.68 for B, G, R), no scaling. Checkpoints converted from torchvision use the
"torch" convention instead (RGB / 255, minus mean, divided by std). Both are data in
`keras_resnet_paper.weights.releases.PREPROCESSING`; the per-release metadata names which applies.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

import keras
import numpy as np

from keras_resnet_paper.weights.releases import (
    IMAGENET_CLASS_INDEX,
    PREPROCESSING,
    get_pretrained_config,
)


def preprocessing_config(mode: str | Mapping[str, Any] = "caffe") -> dict[str, Any]:
    """The preprocessing convention: a name ("caffe", "torch"), a convention dict, or release
    metadata from `get_pretrained_config` (its "preprocessing" entry is used)."""
    if isinstance(mode, Mapping):
        if "preprocessing" in mode:
            return dict(PREPROCESSING[mode["preprocessing"]])
        return dict(mode)
    if mode not in PREPROCESSING:
        raise ValueError(f"mode={mode!r}; allowed: {sorted(PREPROCESSING)}.")
    return dict(PREPROCESSING[mode])


def preprocess_input(x, data_format: str | None = None, mode: str | Mapping[str, Any] = "caffe"):
    """Preprocess a batch (or one image) of RGB pixels in [0, 255] for the pretrained weights.

    Works on NumPy arrays (returns a new float32 array; the input is not modified) and on
    tensors (returns a tensor). With the default "caffe" mode it equals
    `keras.applications.resnet.preprocess_input`.
    """
    cfg = preprocessing_config(mode)
    data_format = data_format or keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format={data_format!r}")
    is_numpy = isinstance(x, np.ndarray) or np.isscalar(x) or isinstance(x, (list, tuple))
    ops = np if is_numpy else keras.ops
    x = np.asarray(x, dtype=np.float32) if is_numpy else keras.ops.cast(x, "float32")
    ndim = x.ndim if is_numpy else len(x.shape)
    axis = -1 if data_format == "channels_last" else (0 if ndim == 3 else 1)
    if cfg["color_order"] == "BGR":
        x = ops.flip(x, axis=axis)
    shape = [1] * ndim
    shape[axis] = 3
    x = x * np.float32(cfg["scale"]) - np.reshape(np.asarray(cfg["mean"], np.float32), shape)
    if cfg.get("std") is not None:
        x = x / np.reshape(np.asarray(cfg["std"], np.float32), shape)
    return x


def resize_and_center_crop(images, size: int = 224, crop_pct: float = 0.875):
    """Evaluation geometry of the releases: shorter side to size / crop_pct (256), centre crop.

    Eager helper on concrete arrays (keras.ops, any backend) with the geometry and antialiased
    bilinear resize of the validation pipeline (`keras_resnet_paper.data`, Sec. 3.4 single crop).
    """
    images = keras.ops.convert_to_tensor(images)
    squeeze = len(images.shape) == 3
    if squeeze:
        images = images[None]
    h, w = int(images.shape[1]), int(images.shape[2])
    scale = (size / crop_pct) / min(h, w)
    new_h, new_w = max(size, int(round(h * scale))), max(size, int(round(w * scale)))
    images = keras.ops.image.resize(keras.ops.cast(images, "float32"), (new_h, new_w),
                                    interpolation="bilinear", antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    images = images[:, top:top + size, left:left + size, :]
    return images[0] if squeeze else images


def load_class_index(class_index: str | os.PathLike | Mapping | None = None) -> dict[str, list[str]]:
    """ImageNet class index {"0": [wnid, name], ...}: given, from a JSON file, or downloaded once
    (keras.applications' file, pinned hash)."""
    if isinstance(class_index, Mapping):
        return {str(k): list(v) for k, v in class_index.items()}
    if class_index is None:
        spec = IMAGENET_CLASS_INDEX
        class_index = keras.utils.get_file(spec["file_name"], spec["url"], cache_subdir="models",
                                           file_hash=spec["file_hash"])
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


def preprocessing_for(model_name: str, weights: str = "imagenet") -> dict[str, Any]:
    """Everything needed to feed release `weights` of `model_name`: the convention and geometry."""
    cfg = get_pretrained_config(model_name, weights)
    out = preprocessing_config(cfg)
    out.update(input_size=cfg["input_size"], crop_pct=cfg["crop_pct"],
               interpolation=cfg["interpolation"])
    return out
