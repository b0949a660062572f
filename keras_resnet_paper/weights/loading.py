"""`load_weights`: recognise what `weights=` names and hand it to the right reader.

Every builder calls `load_weights(model, weights, model_name=..., include_top=...)` once the model
is built and `weights` is not None. Whatever the source, the whole file is read and matched
against the model before a single variable is assigned: a mismatch raises `WeightsMismatchError`
naming the first mismatching layer, and the model is untouched. Only safe readers are used (h5py,
NumPy with ``allow_pickle=False``, the safetensors reader of `safetensors_io`); nothing is unpickled.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import h5py
import numpy as np

from keras_resnet_paper.weights.architecture import detect_stride_in_1x1, leaf_by_name, model_bn_epsilon
from keras_resnet_paper.weights.errors import WeightsMismatchError
from keras_resnet_paper.weights.keras3_h5 import load_keras3_weights
from keras_resnet_paper.weights.keras_applications_h5 import load_keras_applications_h5
from keras_resnet_paper.weights.releases import (
    PRETRAINED_CONFIGS,
    get_pretrained_config,
    get_weights_file,
    is_registered_tag,
)
from keras_resnet_paper.weights.torch_checkpoint import load_torchvision_weights

__all__ = ["detect_h5_layout", "check_release_compatible", "load_weights"]


def detect_h5_layout(path: str) -> str:
    """'keras_applications_h5' (Keras 2 layout) or 'keras3_weights_h5' (Keras 3 save_weights)."""
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            if "layer_names" in root.attrs or "layer_names0" in root.attrs:
                return "keras_applications_h5"
            if "layers" in f or "vars" in f:
                return "keras3_weights_h5"
    except (OSError, KeyError) as err:
        raise WeightsMismatchError(
            f"Cannot read weights file {path!r} as HDF5 (truncated or corrupt?): {err}"
        ) from err
    raise WeightsMismatchError(
        f"{path!r} is an HDF5 file in neither known layout (no 'layer_names' attribute of a "
        "keras.applications/Keras 2 weights file, no 'layers' group of a Keras 3 .weights.h5)."
    )


def check_release_compatible(model, cfg: dict[str, Any], include_top: bool) -> None:
    """Refuse a model whose geometry silently differs from the release (shapes cannot tell)."""
    stride = detect_stride_in_1x1(model)
    if stride is not None and stride != cfg["stride_in_1x1"]:
        raise WeightsMismatchError(
            f"Weights {cfg['model_name']}/{cfg['tag']} were trained with stride_in_1x1="
            f"{cfg['stride_in_1x1']} but the model has stride_in_1x1={stride}; build it with "
            f"stride_in_1x1={cfg['stride_in_1x1']}."
        )
    if include_top:
        top = leaf_by_name(model).get("predictions")
        if top is not None and top.units != cfg["num_classes"]:
            raise WeightsMismatchError(
                f"Weights {cfg['model_name']}/{cfg['tag']} with include_top=True need "
                f"classes={cfg['num_classes']}, got {top.units}; use include_top=False for a new head."
            )
    eps = model_bn_epsilon(model)
    if eps is not None and not np.isclose(eps, cfg["bn_epsilon"], rtol=1e-6, atol=0):
        warnings.warn(
            f"BatchNormalization epsilon is {eps} but {cfg['model_name']}/{cfg['tag']} used "
            f"{cfg['bn_epsilon']}; outputs will differ slightly from the release "
            f"(build with bn_epsilon={cfg['bn_epsilon']}).",
            stacklevel=3,
        )


def load_weights(model, weights, *, model_name: str | None = None, include_top: bool = True,
                 cache_dir: str | None = None, source_layout: str | None = None):
    """Load `weights` (None, a registry tag such as "imagenet", or a file path) into `model`.

    The format of a path is recognised from the file: HDF5 in the keras.applications (Keras 2)
    layout or the Keras 3 `.weights.h5` layout, or a torchvision-layout state dict in a
    ``.safetensors`` or ``.npz`` file (bottleneck nets: `source_layout` "torchvision" = stride
    on the 3x3, the default, or "caffe"). Returns the model.
    """
    if weights is None:
        return model
    if is_registered_tag(weights):
        cfg = get_pretrained_config(model_name or model.name, weights)
        check_release_compatible(model, cfg, include_top)
        load_keras_applications_h5(model, get_weights_file(cfg["model_name"], weights,
                                                           include_top, cache_dir))
        return model
    path = os.fspath(weights)
    if not os.path.exists(path):
        raise ValueError(
            f"weights={weights!r} is neither None, a registered tag "
            f"({sorted({t for tags in PRETRAINED_CONFIGS.values() for t in tags})}) nor an "
            "existing file."
        )
    if path.lower().endswith((".safetensors", ".npz")):
        load_torchvision_weights(model, path, source_layout=source_layout or "torchvision")
        return model
    if detect_h5_layout(path) == "keras_applications_h5":
        load_keras_applications_h5(model, path)
    else:
        load_keras3_weights(model, path)
    return model
