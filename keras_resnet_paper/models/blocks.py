"""Residual and plain building blocks (Sec. 3.3, Fig. 2 and Fig. 5).

Both blocks compute y = relu(F(x) + shortcut(x)), with BN after every conv and the ReLU after
the addition (Sec. 3.2-3.4). With `residual=False` the same layers form the plain block
relu(F(x)) used by the paper's plain baselines.
"""

from __future__ import annotations

import dataclasses

import keras

from keras_resnet_paper.models.layers import LayerFactory
from keras_resnet_paper.models.shortcuts import (
    ZERO_PADDING_PLACEMENTS,
    needs_projection,
    option_a_shortcut,
    validate_shortcut,
)
from keras_resnet_paper.models.spec import BASIC, BOTTLENECK, BOTTLENECK_EXPANSION
from keras_resnet_paper.validation import check_bool, check_int


def block_output_channels(block: str, width: int) -> int:
    """Channels a block of `width` outputs: w for basic blocks, 4w for bottlenecks (Table 1)."""
    return width * BOTTLENECK_EXPANSION if block == BOTTLENECK else width


def _shortcut(x, factory: LayerFactory, out_channels: int, strides: int, prefix: str, options: BlockOptions):
    """The block's shortcut (Sec. 3.3), or None in a plain block."""
    if not options.residual:
        return None
    option, zero_padding = options.shortcut, options.zero_padding
    dims_change = strides != 1 or factory.channels(x) != out_channels
    if needs_projection(option, dims_change):
        # Options B/C: 1x1 projection W_s x (Eq. 2), strided where the map shrinks.
        return factory.conv_bn(x, out_channels, 1, strides, f"{prefix}_0")
    if dims_change:
        # Option A: identity with subsampling and zero channels, no parameters.
        return option_a_shortcut(x, out_channels, strides, factory.data_format, zero_padding, factory.dtype, prefix)
    return x


def _finish(x, shortcut, factory: LayerFactory, prefix: str):
    """relu(F(x) + shortcut(x)), or relu(F(x)) in a plain block (no shortcut)."""
    if shortcut is not None:
        x = keras.layers.Add(dtype=factory.dtype, name=f"{prefix}_add")([shortcut, x])
    return factory.relu(name=f"{prefix}_out")(x)


@dataclasses.dataclass(frozen=True)
class BlockOptions:
    """How every block of a net is built, checked once here (Sec. 3.3, Fig. 5).

    residual: False builds the plain block relu(F(x)) (Sec. 4.1). shortcut: option "A", "B" or
    "C" (Sec. 3.3). stride_in_1x1: a downsampling bottleneck strides its first 1x1 (the authors'
    models) or, False, its 3x3 ("v1.5"). zero_init_residual: zero gamma in each residual branch's
    last BN (not in the paper). zero_padding: option A's zero channels "after" the input's or on
    "both" sides. bottleneck_width_factor: the 1x1 and 3x3 inside a bottleneck are this many times
    wider (wide ResNets: 2), the output is not.
    """

    residual: bool = True
    shortcut: str = "B"
    stride_in_1x1: bool = True
    zero_init_residual: bool = False
    zero_padding: str = "after"
    bottleneck_width_factor: int = 1

    def __post_init__(self):
        for flag in ("residual", "stride_in_1x1", "zero_init_residual"):
            check_bool(flag, getattr(self, flag))
        object.__setattr__(self, "shortcut", validate_shortcut(self.shortcut))
        if self.zero_padding not in ZERO_PADDING_PLACEMENTS:
            raise ValueError(f"zero_padding={self.zero_padding!r} is not allowed; allowed: 'after', 'both'.")
        check_int("bottleneck_width_factor", self.bottleneck_width_factor, minimum=1)


def basic_block(
    x, width: int, strides: int, prefix: str, factory: LayerFactory, options: BlockOptions = BlockOptions()
):
    """Two 3x3 convs (Fig. 5 left), used by ResNet-18/34 and every CIFAR net."""
    short = _shortcut(x, factory, width, strides, prefix, options)
    y = factory.conv_bn(x, width, 3, strides, f"{prefix}_1")
    y = factory.relu(name=f"{prefix}_1_relu")(y)
    y = factory.conv_bn(y, width, 3, 1, f"{prefix}_2", zero_gamma=options.residual and options.zero_init_residual)
    return _finish(y, short, factory, prefix)


def bottleneck_block(
    x, width: int, strides: int, prefix: str, factory: LayerFactory, options: BlockOptions = BlockOptions()
):
    """1x1 reduce, 3x3, 1x1 expand to 4w (Fig. 5 right), used by ResNet-50/101/152.

    The stride sits on the first 1x1 (`options.stride_in_1x1`, the authors' released models and
    keras.applications) or on the 3x3; `options.bottleneck_width_factor` widens the inner convs.
    """
    out_channels = width * BOTTLENECK_EXPANSION
    inner = width * options.bottleneck_width_factor
    short = _shortcut(x, factory, out_channels, strides, prefix, options)
    s1, s3 = (strides, 1) if options.stride_in_1x1 else (1, strides)
    y = factory.conv_bn(x, inner, 1, s1, f"{prefix}_1")
    y = factory.relu(name=f"{prefix}_1_relu")(y)
    y = factory.conv_bn(y, inner, 3, s3, f"{prefix}_2")
    y = factory.relu(name=f"{prefix}_2_relu")(y)
    y = factory.conv_bn(
        y, out_channels, 1, 1, f"{prefix}_3", zero_gamma=options.residual and options.zero_init_residual
    )
    return _finish(y, short, factory, prefix)


def make_block(block: str, x, width: int, strides: int, prefix: str, factory: LayerFactory, options: BlockOptions):
    """Dispatch to `basic_block` or `bottleneck_block`."""
    if block == BASIC:
        return basic_block(x, width, strides, prefix, factory, options)
    if block == BOTTLENECK:
        return bottleneck_block(x, width, strides, prefix, factory, options)
    raise ValueError(f"block={block!r} is not a block type; allowed: 'basic', 'bottleneck'.")
