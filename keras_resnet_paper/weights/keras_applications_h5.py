"""Reader of the keras.applications (Keras 2 `save_weights`) HDF5 layout, matched by layer name.

The layout: a root attribute ``layer_names`` (possibly chunked as ``layer_names0``, ...), one group
per layer with an attribute ``weight_names`` such as ``conv1_conv/kernel:0``. Weights are mapped by
layer name onto our (possibly nested) model. The conv biases of those files, which our
convolutions do not have, are folded exactly into the following BatchNormalization's moving mean:
BN(Wx + b) with mean m equals BN(Wx) with mean m - b. A model without a head (include_top=False)
leaves out the file's ``predictions`` layer (logged).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import h5py
import numpy as np

from keras_resnet_paper.weights.architecture import leaf_layers, short_name
from keras_resnet_paper.weights.assign import assign_all, mismatch_error
from keras_resnet_paper.weights.errors import WeightsFileError

log = logging.getLogger(__name__)

__all__ = ["read_keras_applications_h5", "match_by_name", "load_keras_applications_h5"]


def h5_attr_list(group, name: str) -> list[str]:
    """A string-list attribute, possibly chunked as name0, name1, ... (Keras 2 convention)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def read_keras_applications_h5(path: str) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """Read a Keras 2 layout weights file: (layer order, {layer: {short weight name: array}})."""
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            order = h5_attr_list(root, "layer_names")
            arrays: dict[str, dict[str, np.ndarray]] = {}
            for layer_name in order:
                group = root[layer_name]
                names = h5_attr_list(group, "weight_names")
                if names:
                    arrays[layer_name] = {short_name(n): np.asarray(group[n]) for n in names}
    except (OSError, KeyError, ValueError) as err:
        raise WeightsFileError(
            f"Cannot read {path!r} as a keras.applications HDF5 file (truncated or corrupt?): {err}. "
            "Nothing was loaded."
        ) from None
    return [n for n in order if n in arrays], arrays


def _bn_after(conv_name: str) -> str | None:
    return conv_name[: -len("_conv")] + "_bn" if conv_name.endswith("_conv") else None


def _match_layer(layer, entry, by_name, arrays, problems, folds, values) -> None:
    """Match one layer's file entry; records problems, conv-bias folds and (variable, value) pairs."""
    own = {short_name(v.path): v for v in layer.weights}
    missing = sorted(set(own) - set(entry))
    extra = sorted(set(entry) - set(own))
    if "bias" in extra and "kernel" in own and "bias" not in own:
        extra.remove("bias")
        bn = _bn_after(layer.name)
        if bn is None or bn not in by_name or bn not in arrays:
            problems.append(
                (
                    layer.name,
                    "the file has a conv bias the model lacks and there "
                    "is no following BatchNormalization to fold it into",
                )
            )
        else:
            folds.append((layer.name, bn, entry["bias"]))
    if missing or extra:
        problems.append((layer.name, f"weights differ: model has {sorted(own)}, file has {sorted(entry)}"))
        return
    for short, var in own.items():
        value = entry[short]
        if tuple(value.shape) != tuple(var.shape):
            problems.append(
                (
                    layer.name,
                    f"'{short}' has shape {tuple(value.shape)} in the file but {tuple(var.shape)} in the model",
                )
            )
            return
        values[id(var)] = (var, value)


def match_by_name(
    model, order: list[str], arrays: dict[str, dict[str, np.ndarray]], source: str
) -> list[tuple[Any, np.ndarray]]:
    """Match {layer: {weight: array}} onto the model's layers by name.

    Conv biases absent from the model are folded into the following BN's moving mean. Returns the
    assignments; raises `WeightsMismatchError` (listing the problems in model order) on mismatch.
    """
    problems: list[tuple[str, str]] = []
    values: dict[int, tuple[Any, np.ndarray]] = {}
    folds: list[tuple[str, str, np.ndarray]] = []  # (conv, bn, bias)
    layers = [layer for layer in leaf_layers(model) if layer.weights]
    by_name = {layer.name: layer for layer in layers}
    for layer in layers:
        entry = arrays.get(layer.name)
        if entry is None:
            problems.append((layer.name, "has weights in the model but none in the file"))
            continue
        _match_layer(layer, entry, by_name, arrays, problems, folds, values)
    for name in order:
        if name not in by_name:
            problems.append((name, "is in the file but not in the model"))
    for conv, bn, bias in folds:
        var = next(v for v in by_name[bn].weights if short_name(v.path) == "moving_mean")
        if id(var) in values and values[id(var)][1].shape == bias.shape:
            mean = values[id(var)][1].astype(np.float64) - bias.astype(np.float64)
            values[id(var)] = (var, mean.astype(np.float32))
        elif not any(p[0] in (bn, conv) for p in problems):
            problems.append((conv, f"bias of shape {bias.shape} cannot fold into {bn}"))
    if problems:
        raise mismatch_error(source, model, problems)
    return list(values.values())


def _without_head(model, order: list[str], arrays: dict) -> list[str]:
    """Leave out the file's `predictions` layer when the model has none (include_top=False)."""
    if "predictions" in arrays and "predictions" not in {layer.name for layer in leaf_layers(model)}:
        log.info("Model %r has no head (include_top=False): leaving out the file's 'predictions'.", model.name)
        del arrays["predictions"]
        order = [name for name in order if name != "predictions"]
    return order


def load_keras_applications_h5(model, path: str) -> None:
    """Load a keras.applications-layout HDF5 file onto `model` by layer name (all or nothing)."""
    order, arrays = read_keras_applications_h5(path)
    order = _without_head(model, order, arrays)
    assign_all(match_by_name(model, order, arrays, source=os.fspath(path)), os.fspath(path))
