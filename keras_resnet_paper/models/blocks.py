"""Residual and plain building blocks (Sec. 3.3, Fig. 2 and Fig. 5).

Both blocks compute y = relu(F(x) + shortcut(x)), with BN after every conv and the ReLU after
the addition (Sec. 3.2-3.4). With `residual=False` the same layers form the plain block
relu(F(x)) used by the paper's plain baselines.
"""

from __future__ import annotations

import keras

from keras_resnet_paper.models.layers import LayerFactory
from keras_resnet_paper.models.shortcuts import ZeroPaddingShortcut, needs_projection
from keras_resnet_paper.models.spec import BASIC, BOTTLENECK, BOTTLENECK_EXPANSION


def block_output_channels(block: str, width: int) -> int:
    """Channels a block of `width` outputs: w for basic blocks, 4w for bottlenecks (Table 1)."""
    return width * BOTTLENECK_EXPANSION if block == BOTTLENECK else width


def _shortcut(
    x, factory: LayerFactory, out_channels: int, strides: int, option: str, prefix: str, zero_padding: str = "after"
):
    dims_change = strides != 1 or factory.channels(x) != out_channels
    if needs_projection(option, dims_change):
        # Options B/C: 1x1 projection W_s x (Eq. 2), strided where the map shrinks.
        return factory.conv_bn(x, out_channels, 1, strides, f"{prefix}_0")
    if dims_change:
        # Option A: identity with subsampling and zero channels, no parameters.
        return ZeroPaddingShortcut(
            out_channels,
            strides,
            data_format=factory.data_format,
            placement=zero_padding,
            dtype=factory.dtype,
            name=f"{prefix}_0_shortcut",
        )(x)
    return x


def _finish(x, shortcut, factory: LayerFactory, residual: bool, prefix: str):
    if residual:
        x = keras.layers.Add(dtype=factory.dtype, name=f"{prefix}_add")([shortcut, x])
    return factory.relu(name=f"{prefix}_out")(x)


def basic_block(
    x,
    width: int,
    strides: int,
    prefix: str,
    factory: LayerFactory,
    *,
    residual: bool = True,
    shortcut: str = "B",
    zero_init_residual: bool = False,
    zero_padding: str = "after",
):
    """Two 3x3 convs (Fig. 5 left), used by ResNet-18/34 and every CIFAR net."""
    short = _shortcut(x, factory, width, strides, shortcut, prefix, zero_padding) if residual else None
    y = factory.conv_bn(x, width, 3, strides, f"{prefix}_1")
    y = factory.relu(name=f"{prefix}_1_relu")(y)
    y = factory.conv_bn(y, width, 3, 1, f"{prefix}_2", zero_gamma=residual and zero_init_residual)
    return _finish(y, short, factory, residual, prefix)


def bottleneck_block(
    x,
    width: int,
    strides: int,
    prefix: str,
    factory: LayerFactory,
    *,
    residual: bool = True,
    shortcut: str = "B",
    stride_in_1x1: bool = True,
    zero_init_residual: bool = False,
    zero_padding: str = "after",
    bottleneck_width_factor: int = 1,
):
    """1x1 reduce, 3x3, 1x1 expand to 4w (Fig. 5 right), used by ResNet-50/101/152.

    `stride_in_1x1=True` strides the first 1x1 conv as in the authors' released models (and
    keras.applications); False strides the 3x3 (the later "v1.5" placement).
    `bottleneck_width_factor` widens the 1x1 and 3x3 inside (wide ResNets: 2), not the output.
    """
    out_channels = width * BOTTLENECK_EXPANSION
    inner = width * bottleneck_width_factor
    short = _shortcut(x, factory, out_channels, strides, shortcut, prefix, zero_padding) if residual else None
    s1, s3 = (strides, 1) if stride_in_1x1 else (1, strides)
    y = factory.conv_bn(x, inner, 1, s1, f"{prefix}_1")
    y = factory.relu(name=f"{prefix}_1_relu")(y)
    y = factory.conv_bn(y, inner, 3, s3, f"{prefix}_2")
    y = factory.relu(name=f"{prefix}_2_relu")(y)
    y = factory.conv_bn(y, out_channels, 1, 1, f"{prefix}_3", zero_gamma=residual and zero_init_residual)
    return _finish(y, short, factory, residual, prefix)


def make_block(block: str, x, width: int, strides: int, prefix: str, factory: LayerFactory, **options):
    """Dispatch to `basic_block` or `bottleneck_block`."""
    if block == BASIC:
        options.pop("stride_in_1x1", None)
        options.pop("bottleneck_width_factor", None)
        return basic_block(x, width, strides, prefix, factory, **options)
    if block == BOTTLENECK:
        return bottleneck_block(x, width, strides, prefix, factory, **options)
    raise ValueError(f"block={block!r} is not a block type; allowed: 'basic', 'bottleneck'.")
