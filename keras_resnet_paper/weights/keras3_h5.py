"""Keras 3 `.weights.h5` files (this package's own `model.save_weights`), checked before loading.

Keras 3 would load a file of another depth or shortcut option partially or fail half-way; the
file's groups and variable shapes are compared with the model's first, and only a file that fits
is handed to `model.load_weights`.
"""

from __future__ import annotations

import os

import h5py
import keras
import numpy as np

from keras_resnet_paper.compat import to_snake_case
from keras_resnet_paper.weights.assign import mismatch_error, refuse_non_finite
from keras_resnet_paper.weights.errors import WeightsFileError, WeightsMismatchError

__all__ = ["keras3_layout", "keras3_file_layout", "load_keras3_weights"]


def _snake(name: str) -> str:
    return to_snake_case(name)


def keras3_layout(model, prefix: str = "layers") -> list[tuple[str, str, list[tuple], list[str]]]:
    """(h5 group, layer name, variable shapes, variable paths) of every layer, as Keras 3
    `save_weights` writes."""
    out, used = [], {}
    for layer in model.layers:
        key = _snake(layer.__class__.__name__)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        path = f"{prefix}/{key}"
        if isinstance(layer, keras.Model) and hasattr(layer, "layers"):
            out.extend(keras3_layout(layer, f"{path}/layers"))
        else:
            out.append(
                (
                    f"{path}/vars",
                    layer.name,
                    [tuple(v.shape) for v in layer.variables],
                    [v.path for v in layer.variables],
                )
            )
    return out


def keras3_file_layout(path: str) -> dict[str, list[tuple]]:
    """{h5 group: variable shapes} of a Keras 3 `.weights.h5` file."""
    found: dict[str, list[tuple]] = {}
    try:
        with h5py.File(path, "r") as f:

            def visit(name, obj):
                if name.startswith("layers/") and name.endswith("/vars") and isinstance(obj, h5py.Group):
                    found[name] = [tuple(obj[str(i)].shape) for i in range(len(obj))]

            f.visititems(visit)
    except (OSError, KeyError) as err:
        raise WeightsFileError(
            f"Cannot read {path!r} as a Keras .weights.h5 file (truncated or corrupt?): {err}. Nothing was loaded."
        ) from None
    return found


def load_keras3_weights(model, path: str) -> None:
    """Check a Keras 3 `.weights.h5` file against the model's structure, then load it."""
    expected = keras3_layout(model)
    found = keras3_file_layout(path)
    problems = []
    for group, layer_name, shapes, _ in expected:
        got = found.pop(group, None)
        if got is None:
            if shapes:
                problems.append((layer_name, "has weights in the model but none in the file"))
        elif got != shapes:
            problems.append((layer_name, f"variable shapes {got} in the file, {shapes} in the model"))
    for group, shapes in found.items():
        if shapes:
            problems.append((group, "is in the file but not in the model"))
    if problems:
        raise mismatch_error(os.fspath(path), model, problems)
    with h5py.File(path, "r") as f:  # the values, checked before Keras reads them
        refuse_non_finite(
            os.fspath(path),
            (
                (name, f[group][str(i)][()])
                for group, _, _, names in expected
                if group in f
                for i, name in enumerate(names)
            ),
        )
    backup = [(v, np.array(v.numpy())) for v in model.weights]
    try:
        model.load_weights(path)
    except Exception as err:
        for var, value in backup:
            var.assign(value)
        raise WeightsMismatchError(f"Keras could not load {path!r}: {err}. Nothing was loaded.") from err
