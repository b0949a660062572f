"""BatchNormalization folded into the convolution before it, for inference (Sec. 3.4: BN after
every convolution; docs/paper.md, 'Batch normalization').

At inference a BN layer is a fixed affine map per channel, y = s * (z - mean) + beta with
s = gamma / sqrt(moving_variance + epsilon). When z is a convolution's output, z = W * x + b, the
two are one convolution: W' = W * s (per output channel) and b' = (b - mean) * s + beta. The
folded net computes the same function with one layer fewer per convolution and no per-channel
rescaling at run time; a deployed file (TFLite, ONNX) gets plain convolutions with a bias.

`fold_batchnorm(model)` returns a new model: every BatchNormalization that directly follows a
Conv2D whose output feeds nothing else is folded into it; the BN layer becomes an `Identity` of the
same name, so layer names (and `feature_extractor`, `stage_outputs`) work unchanged. Nested models
(one sub-model per stage and block, ResNet-1202) are folded inside. The original model is left
untouched: the new one has its own variables.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

__all__ = ["fold_batchnorm", "folded_pairs"]


def _models(model: keras.Model) -> Iterator[keras.Model]:
    """`model` and every sub-model inside it, outermost first."""
    yield model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _models(layer)


def _inputs_of(layer) -> list:
    value = layer.input
    return list(value) if isinstance(value, (list, tuple)) else [value]


def folded_pairs(model: keras.Model) -> list[tuple[keras.layers.Conv2D, keras.layers.BatchNormalization]]:
    """The (Conv2D, BatchNormalization) pairs `fold_batchnorm` folds: the BN takes the conv's
    output, nothing else does, and the BN normalises the conv's channel axis."""
    pairs = []
    for sub in _models(model):
        layers = [layer for layer in sub.layers if not isinstance(layer, keras.layers.InputLayer)]
        consumers: dict[int, int] = {}
        for layer in layers:
            for tensor in _inputs_of(layer):
                consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
        convs = {id(layer.output): layer for layer in layers if type(layer) is keras.layers.Conv2D}
        for bn in layers:
            if not isinstance(bn, keras.layers.BatchNormalization):
                continue
            conv = convs.get(id(_inputs_of(bn)[0]))
            if conv is None or consumers.get(id(conv.output)) != 1 or id(conv.output) in {id(t) for t in sub.outputs}:
                continue
            channel_axis = -1 if conv.data_format == "channels_last" else 1
            if _axis(bn.axis, len(conv.output.shape)) == _axis(channel_axis, len(conv.output.shape)):
                pairs.append((conv, bn))
    return pairs


def _axis(axis, rank: int) -> int:
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    return axis % rank if isinstance(axis, int) else -1


def _folded_weights(conv: keras.layers.Conv2D, bn: keras.layers.BatchNormalization) -> list[np.ndarray]:
    """[kernel, bias] of the convolution that equals `bn(conv(x))` at inference, in float64 then
    cast to the conv's variable dtype."""
    kernel = np.asarray(conv.kernel.numpy(), np.float64)
    bias = np.asarray(conv.bias.numpy(), np.float64) if conv.use_bias else np.zeros(kernel.shape[-1])
    gamma = np.asarray(bn.gamma.numpy(), np.float64) if bn.scale else 1.0
    beta = np.asarray(bn.beta.numpy(), np.float64) if bn.center else 0.0
    mean = np.asarray(bn.moving_mean.numpy(), np.float64)
    scale = gamma / np.sqrt(np.asarray(bn.moving_variance.numpy(), np.float64) + bn.epsilon)
    dtype = conv.kernel.dtype
    return [(kernel * scale).astype(dtype), ((bias - mean) * scale + beta).astype(dtype)]


def _named_leaves(model: keras.Model, prefix: str = "") -> Iterator[tuple[str, keras.layers.Layer]]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _named_leaves(layer, f"{prefix}{layer.name}/")
        elif not isinstance(layer, keras.layers.InputLayer):
            yield f"{prefix}{layer.name}", layer


def fold_batchnorm(model: keras.Model) -> keras.Model:
    """A new model computing `model`'s inference function with every BatchNormalization that
    follows a convolution folded into it (module docstring); `model` is not changed.

    BN layers that follow no convolution (none in the paper's nets) are kept as they are.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model={model!r} must be a built keras.Model.")
    pairs = folded_pairs(model)
    convs = {id(conv): bn for conv, bn in pairs}
    bns = {id(bn) for _, bn in pairs}

    def clone(layer):
        if id(layer) in bns:
            return keras.layers.Identity(name=layer.name, dtype=layer.dtype_policy)
        config = layer.get_config()
        if id(layer) in convs:
            config.update(use_bias=True, bias_initializer="zeros", bias_regularizer=None, bias_constraint=None)
        return layer.__class__.from_config(config)

    def call(layer, *args, **kwargs):  # a BN's call carries `training`/`mask`, which Identity does not take
        return layer(*args) if isinstance(layer, keras.layers.Identity) else layer(*args, **kwargs)

    folded = keras.models.clone_model(model, clone_function=clone, call_function=call, recursive=True)
    originals = dict(_named_leaves(model))
    for name, layer in _named_leaves(folded):
        source = originals[name]
        if id(source) in convs:
            layer.set_weights(_folded_weights(source, convs[id(source)]))
        elif id(source) not in bns:
            layer.set_weights(source.get_weights())
    if getattr(model, "preprocessing", None) is not None:
        folded.preprocessing = model.preprocessing
    return folded
