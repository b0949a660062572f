"""Feeding images to pretrained weights: `preprocess_input` and the release's `preprocessing_for`.

The "imagenet" releases (the authors' Caffe models, via keras.applications) expect the Caffe
convention: RGB images in [0, 255] turned to BGR, minus the per-channel ImageNet mean, no scaling.
Checkpoints converted from torchvision use the "torch" convention instead (RGB / 255, minus mean,
divided by std). Each is a `conventions.Preprocessing` record; a release names its own, and a
model built with weights carries it as `model.preprocessing`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from keras_resnet_paper.weights.conventions import as_preprocessing, resize_and_center_crop
from keras_resnet_paper.weights.releases import get_release

__all__ = ["preprocess_input", "preprocessing_for", "resize_and_center_crop"]


def preprocess_input(x, data_format: str | None = None, mode: Any = "caffe"):
    """Normalise a batch (or one image) of RGB pixels in [0, 255] for pretrained weights.

    `mode` is a convention name ("caffe", "torch"), a `Preprocessing`, a release, or a model built
    with weights. NumPy in, a new float32 array out (the input is not modified); a tensor in, a
    tensor out. With the default "caffe" it equals `keras.applications.resnet.preprocess_input`.
    """
    try:
        preprocessing = as_preprocessing(mode)
    except ValueError as err:
        raise ValueError(f"mode={mode!r}: {err}") from None
    return preprocessing.normalize(x, data_format)


def preprocessing_for(model_name: str, weights: str = "imagenet") -> dict[str, Any]:
    """The input convention and test geometry of release `weights` of `model_name`, as a dict
    (color_order, scale, mean, std, input_size, crop_pct, interpolation)."""
    preprocessing = get_release(model_name, weights).preprocessing
    return {f.name: getattr(preprocessing, f.name) for f in dataclasses.fields(preprocessing)}
