"""Weight files for the tests, written in the real formats: randomised models in the
keras.applications (Keras 2 HDF5) layout, and the writer of that layout."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import h5py
import keras
import numpy as np

from keras_resnet_paper import weights as weights_lib
from keras_resnet_paper.weights.architecture import leaf_layers, short_name

PHOTOS = ("china", "flower")  # scikit-learn's sample JPEGs: one class folder each, labels 0 and 1
KERAS_APPS = {50: keras.applications.ResNet50, 101: keras.applications.ResNet101, 152: keras.applications.ResNet152}


def write_keras_applications_h5(path: str, layers: list[tuple[str, dict[str, np.ndarray]]]) -> None:
    """Write [(layer name, {short weight name: array})] in the Keras 2 / keras.applications layout.

    Weight names are written as ``layer/short:0`` like Keras 2 did; layers without weights get an
    empty ``weight_names``.
    """
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode("utf8") for name, _ in layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for name, weights in layers:
            group = f.create_group(name)
            names = [f"{name}/{short}:0" for short in weights]
            group.attrs["weight_names"] = [n.encode("utf8") for n in names]
            for full, value in zip(names, weights.values()):
                group.create_dataset(full, data=np.asarray(value))


def model_to_keras_applications_layout(model) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The weights of `model` (leaf layers, in order) as [(layer name, {short name: array})]."""
    return [
        (layer.name, {short_name(v.path): np.asarray(v.numpy()) for v in layer.weights}) for layer in leaf_layers(model)
    ]


def randomize(model, seed=0, conv_bias=0.1):
    """Random kernels, non-zero conv biases and random BN statistics, at a stable scale."""
    rng = np.random.default_rng(seed)
    for layer in leaf_layers(model):
        if isinstance(layer, keras.layers.Conv2D):
            k = layer.kernel
            fan_in = int(np.prod(k.shape[:-1]))
            k.assign(rng.normal(0, np.sqrt(2.0 / fan_in), k.shape).astype("float32"))
            if layer.use_bias:
                layer.bias.assign(rng.normal(0, conv_bias, layer.bias.shape).astype("float32"))
        elif isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape
            small = layer.name.endswith(("_3_bn", "_2_bn")) and "block" in layer.name
            layer.gamma.assign(
                rng.uniform(0.1, 0.3, n).astype("float32") if small else rng.uniform(0.5, 1.0, n).astype("float32")
            )
            layer.beta.assign(rng.normal(0, 0.1, n).astype("float32"))
            layer.moving_mean.assign(rng.normal(0, 0.2, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
        elif isinstance(layer, keras.layers.Dense):
            fan_in = layer.kernel.shape[0]
            layer.kernel.assign(rng.normal(0, 1 / np.sqrt(fan_in), layer.kernel.shape).astype("float32"))
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape).astype("float32"))
    return model


def keras_applications_reference(depth, include_top, path, size=64, seed=0):
    """A randomised keras.applications ResNet (logits, no softmax), written to `path` in its layout."""
    ref = KERAS_APPS[depth](
        include_top=include_top,
        weights=None,
        input_shape=(size, size, 3),
        classifier_activation=None,
        pooling=None if include_top else "avg",
    )
    randomize(ref, seed)
    write_keras_applications_h5(path, model_to_keras_applications_layout(ref))
    return ref


def rel_error(a, b):
    """max |a - b| / max |b| in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def snapshot(model) -> list[np.ndarray]:
    """Copies of every variable of `model`."""
    return [np.array(v.numpy()) for v in model.weights]


def assert_untouched(model, before: list[np.ndarray]) -> None:
    """Every variable of `model` still equals its `snapshot`."""
    for a, b in zip(before, snapshot(model)):
        np.testing.assert_array_equal(a, b)


def sha256(path) -> str:
    """The sha256 hex digest of a file."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def release_of(path, model: str = "resnet50") -> weights_lib.Release:
    """The registered release of `model` with its no-top file replaced by `path` (name, hash)."""
    return dataclasses.replace(
        weights_lib.get_release(model), notop_file=weights_lib.ReleaseFile(os.path.basename(path), sha256(path))
    )
