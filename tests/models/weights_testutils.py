"""Fixtures for the weight tests: randomised keras.applications models written as weight files."""

from __future__ import annotations

import keras
import numpy as np

from keras_resnet_paper.models import weights as weights_lib

KERAS_APPS = {50: keras.applications.ResNet50, 101: keras.applications.ResNet101,
              152: keras.applications.ResNet152}


def randomize(model, seed=0, conv_bias=0.1):
    """Random kernels, non-zero conv biases and random BN statistics, at a stable scale."""
    rng = np.random.default_rng(seed)
    for layer in weights_lib.leaf_layers(model):
        if isinstance(layer, keras.layers.Conv2D):
            k = layer.kernel
            fan_in = int(np.prod(k.shape[:-1]))
            k.assign(rng.normal(0, np.sqrt(2.0 / fan_in), k.shape).astype("float32"))
            if layer.use_bias:
                layer.bias.assign(rng.normal(0, conv_bias, layer.bias.shape).astype("float32"))
        elif isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape
            small = layer.name.endswith(("_3_bn", "_2_bn")) and "block" in layer.name
            layer.gamma.assign(rng.uniform(0.1, 0.3, n).astype("float32") if small
                               else rng.uniform(0.5, 1.0, n).astype("float32"))
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
    ref = KERAS_APPS[depth](include_top=include_top, weights=None, input_shape=(size, size, 3),
                            classifier_activation=None, pooling=None if include_top else "avg")
    randomize(ref, seed)
    weights_lib.write_keras_applications_h5(path, weights_lib.model_to_keras_applications_layout(ref))
    return ref


def rel_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))
