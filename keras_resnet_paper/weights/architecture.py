"""What a set of weights needs of a built model, read back off the model's layers.

Shapes alone cannot tell two geometries of the same depth apart: a bottleneck net that strides on
its first 1x1 (the authors' released models, Sec. 3.3) and one that strides on its 3x3 (the later
"v1.5") have identical variables, and so do nets that differ only in BatchNormalization epsilon.
These helpers read the geometry off a built model so loaders can refuse a silent mismatch.
"""

from __future__ import annotations

import keras

from keras_resnet_paper.models.graph import iter_layers

__all__ = ["leaf_layers", "short_name", "detect_stride_in_1x1", "model_bn_epsilon"]


def leaf_layers(model) -> list:
    """All leaf layers of `model` (nested stage/block models included), in graph order."""
    return list(iter_layers(model))


def leaf_by_name(model) -> dict:
    """{layer name: leaf layer} of `model`."""
    return {layer.name: layer for layer in leaf_layers(model)}


def short_name(weight_name: str) -> str:
    """'conv1_conv/kernel:0' -> 'kernel'."""
    return weight_name.split("/")[-1].split(":")[0]


def detect_stride_in_1x1(model) -> bool | None:
    """Where the downsampling bottlenecks of `model` stride: True (1x1), False (3x3), None (n/a)."""
    layers = leaf_by_name(model)
    for stage in (3, 4, 5):
        first = layers.get(f"conv{stage}_block1_1_conv")
        if first is None or f"conv{stage}_block1_3_conv" not in layers:
            continue
        return tuple(first.strides) != (1, 1)
    return None


def model_bn_epsilon(model) -> float | None:
    """The epsilon of the model's first BatchNormalization layer (None if it has none)."""
    for layer in leaf_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            return float(layer.epsilon)
    return None
