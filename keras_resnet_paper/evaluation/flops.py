"""Parameter and FLOP counts as the paper reports them (Table 1; docs/paper.md, 'Parameter and FLOP counts').

FLOPs are multiply-adds of convolutions and fully-connected layers ("3.6 billion FLOPs
(multiply-adds)" for ResNet-34); BN, ReLU, additions and pooling are not counted. Parameters are
trainable parameters (conv kernels, BN gamma/beta, fc weight and bias).
"""

from __future__ import annotations

import math

import keras

from keras_resnet_paper.graph import iter_layers


def count_params(model: keras.Model) -> int:
    """Trainable parameters, the paper's (and torchvision's) definition."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def _conv_macs(layer: keras.layers.Conv2D) -> int:
    out_shape = layer.output.shape
    in_shape = layer.input.shape
    if layer.data_format == "channels_first":
        cin, spatial = in_shape[1], out_shape[2:]
    else:
        cin, spatial = in_shape[-1], out_shape[1:3]
    if any(d is None for d in spatial):
        raise ValueError(
            f"count_flops needs static spatial dimensions, but layer {layer.name!r} outputs "
            f"{tuple(out_shape)}; build the model with a fixed input_shape, e.g. (224, 224, 3)."
        )
    kernel = math.prod(layer.kernel_size)
    return math.prod(spatial) * layer.filters * kernel * cin // layer.groups


def count_flops(model: keras.Model) -> int:
    """Multiply-adds of every Conv2D and Dense layer for one input image."""
    total = 0
    for layer in iter_layers(model):
        if isinstance(layer, keras.layers.Conv2D):
            total += _conv_macs(layer)
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)
