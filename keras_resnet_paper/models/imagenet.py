"""The ImageNet family (Table 1): ResNet-18/34/50/101/152 and their plain twins."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Unpack

import keras

from keras_resnet_paper.models.builder import (
    ModelArguments,
    Network,
    Stage,
    block_options,
    build_resnet,
    model_arguments,
)
from keras_resnet_paper.models.layers import LayerFactory
from keras_resnet_paper.models.spec import (
    BLOCK_TYPES,
    BOTTLENECK,
    IMAGENET_SPECS,
    IMAGENET_SPECS_BEYOND_PAPER,
    IMAGENET_WIDTHS,
    imagenet_spec,
)
from keras_resnet_paper.validation import ArgumentTypeError, check_bool, check_float, check_int
from keras_resnet_paper.weights.architecture import Architecture, resolve_arguments
from keras_resnet_paper.weights.loading import ResolvedWeights, resolve_weights
from keras_resnet_paper.weights.releases import get_release, is_registered_tag, released_models

#: The builder's own defaults where neither the caller nor the weights decide: option B (Sec. 3.3),
#: the stride on the first 1x1 as in the authors' models, Keras/Caffe-style BN epsilon.
DEFAULT_ARCHITECTURE = Architecture(stride_in_1x1=True, shortcut="B", bn_epsilon=1e-5)
IMAGENET_LABELS = "imagenet-1k"


def imagenet_stem(x, factory: LayerFactory):
    """conv1: 7x7, 64, stride 2, BN, ReLU; then 3x3 max-pool, stride 2 (Table 1).

    Symmetric zero padding (3 for the conv, 1 for the pool) as in the authors' Caffe models; the
    pool's zero padding equals -inf padding because its input is non-negative after the ReLU.
    """
    x = factory.conv_bn(x, 64, 7, 2, "conv1")
    x = factory.relu(name="conv1_relu")(x)
    x = factory.pad(1, name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(
        3, strides=2, data_format=factory.data_format, dtype=factory.dtype, name="pool1_pool"
    )(x)


def _layer_depth(block: str, blocks: Sequence[int]) -> int:
    """Weighted layers: conv1 + 2 or 3 per block + fc (Table 1's depth)."""
    return 2 + sum(blocks) * (3 if block == BOTTLENECK else 2)


def imagenet_resnet(
    depth: int | None = None,
    residual: bool = True,
    *,
    blocks: Sequence[int] | None = None,
    block: str | None = None,
    shortcut: str | None = None,
    stride_in_1x1: bool | None = None,
    bn_epsilon: float | None = None,
    source_layout: str | None = None,
    bottleneck_width_factor: int = 1,
    widths: Sequence[int] | None = None,
    **arguments: Unpack[ModelArguments],
) -> keras.Model:
    """An ImageNet ResNet (or plain net) of Table 1, or ResNet-200, or a wide ResNet.

    Args:
        depth: 18, 34, 50, 101 or 152 (Table 1), or 200 (timm's ResNet-200, beyond the paper); or
            None with `blocks` and `block` for a custom net.
        residual: False builds the plain twin (same layers, no shortcuts; Sec. 4.1).
        blocks: blocks per stage conv2_x..conv5_x for a custom net, e.g. (3, 4, 6, 3).
        block: "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1) for a custom net.
        shortcut: "A" zero-padding identity, "B" projection where dimensions increase (the
            paper's choice for ImageNet, the default), "C" projection everywhere (Sec. 3.3, Table 3).
        stride_in_1x1: stride a downsampling bottleneck on its first 1x1 conv as the authors'
            released models do (the default); False puts it on the 3x3 ("v1.5").
        bn_epsilon: BatchNormalization epsilon (1e-5 by default).
        source_layout: for a torchvision/timm checkpoint in `weights`: "torchvision" (stride on
            the 3x3, every torchvision and timm ResNet) or "caffe" (a port of the authors' models).
        bottleneck_width_factor: the 1x1 and 3x3 inside each bottleneck have this many times w
            filters, the output keeps 4w (2: torchvision's Wide ResNet-50-2 / 101-2; not in the paper).
        widths: the stage widths w, one per stage (default Table 1's 64, 128, 256, 512).
        **arguments: the `ModelArguments` (keras.applications' include_top, weights, input_tensor,
            input_shape, pooling, classes, classifier_activation, name; and bn_momentum,
            zero_init_residual, kernel_initializer, nested, dtype). Weights decide the arguments
            they need (a release its shortcut option, stride placement and BN epsilon; a
            torchvision checkpoint its stride placement): leave those unset.
    """
    _check_arguments(depth, residual, stride_in_1x1, bn_epsilon)
    arguments = model_arguments(arguments, "imagenet_resnet", classes=1000)
    depth, block, blocks = _resolve_depth(depth, block, blocks)
    factor = check_int("bottleneck_width_factor", bottleneck_width_factor, minimum=1)
    weights_name = f"wide_resnet{depth}_{factor}" if factor != 1 else f"resnet{depth}"
    weights = arguments["weights"]
    resolved = _resolve(weights_name, depth, residual, blocks, arguments, source_layout)
    required = dataclasses.replace(resolved.architecture, zero_padding=None)
    if block != BOTTLENECK:  # basic blocks have one geometry: no stride placement to agree on
        required = dataclasses.replace(required, stride_in_1x1=None)
    given = dict(shortcut=shortcut, stride_in_1x1=stride_in_1x1, bn_epsilon=bn_epsilon)
    arch = resolve_arguments(given, required, DEFAULT_ARCHITECTURE, f"weights={weights!r}")
    options = block_options(residual, arguments, arch, bottleneck_width_factor=factor)
    network = Network(imagenet_stem, _stages(blocks, widths), block, options, arch["bn_epsilon"], 224, 32)
    arguments["name"] = arguments["name"] or (weights_name if residual else f"plain{depth}")
    return build_resnet(network, arguments, resolved)


def _resolve(weights_name: str, depth: int, residual: bool, blocks, arguments, source_layout) -> ResolvedWeights:
    """What `weights` mean for this net: a release (which must exist for it and fit its head) or a file."""
    weights = arguments["weights"]
    if is_registered_tag(weights):
        known = {**IMAGENET_SPECS, **IMAGENET_SPECS_BEYOND_PAPER}
        custom = depth not in known or tuple(blocks) != known[depth].blocks
        kind = f"plain-{depth}" if not residual else ("a custom ResNet" if custom else weights_name)
        _check_pretrained(weights_name, kind, arguments["include_top"], arguments["classes"], weights)
    return resolve_weights(weights, weights_name, source_layout=source_layout)


def _stages(blocks: Sequence[int], widths: Sequence[int] | None) -> list[Stage]:
    """conv2_x..: `blocks[i]` blocks of width `widths[i]` (Table 1's by default), stride 2 from conv3_x."""
    widths = IMAGENET_WIDTHS if widths is None else tuple(check_int("widths[]", w, minimum=1) for w in widths)
    if len(widths) != len(blocks):
        raise ValueError(f"widths={widths!r} must give one width per stage ({len(blocks)}).")
    return [
        Stage(index=i + 2, width=w, blocks=n, strides=1 if i == 0 else 2)
        for i, (w, n) in enumerate(zip(widths, blocks))
    ]


def _check_arguments(depth, residual, stride_in_1x1, bn_epsilon) -> None:
    """The ImageNet builder's own arguments (the shared ones are checked by `build_resnet`)."""
    check_int("depth", depth, minimum=1, allow_none=True)
    check_bool("residual", residual)
    check_bool("stride_in_1x1", stride_in_1x1, allow_none=True)
    check_float("bn_epsilon", bn_epsilon, minimum=0.0, low_open=True, allow_none=True)


def _check_blocks(blocks) -> tuple[int, ...]:
    """4 positive int block counts (conv2_x..conv5_x); 1.7 or True is not a count."""
    if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
        raise ArgumentTypeError(f"blocks={blocks!r} must be a tuple of 4 positive ints (conv2_x..conv5_x).")
    blocks = tuple(blocks)
    if len(blocks) != 4:
        raise ValueError(f"blocks={blocks!r} must give 4 positive block counts (conv2_x..conv5_x).")
    return tuple(check_int(f"blocks[{i}]", n, minimum=1) for i, n in enumerate(blocks))


def _resolve_depth(depth, block, blocks) -> tuple[int, str, tuple[int, ...]]:
    """(depth, block, blocks): Table 1's row of `depth`, or a custom net's from `blocks` and `block`."""
    if block is not None and block not in BLOCK_TYPES:
        raise ValueError(f"block={block!r} is not a block type; allowed: 'basic', 'bottleneck'.")
    if blocks is None:
        if depth is None:
            raise ValueError("depth=None needs blocks=(...) and block='basic'|'bottleneck' for a custom net.")
        spec = imagenet_spec(depth)
        if (block or spec.block) != spec.block:
            raise ValueError(f"block={block!r} contradicts depth={depth} of Table 1, which uses {spec.block!r}.")
        return depth, spec.block, spec.blocks
    blocks = _check_blocks(blocks)
    if block is None:
        raise ValueError("blocks=(...) needs block='basic' or 'bottleneck'.")
    layer_depth = _layer_depth(block, blocks)
    if depth is not None and depth != layer_depth:
        raise ValueError(f"depth={depth!r} contradicts blocks={blocks!r} with {block} blocks ({layer_depth} layers).")
    return layer_depth, block, blocks


def _check_pretrained(weights_name: str, kind: str, include_top: bool, classes: int, weights: str) -> None:
    """A release exists for this net (the registry decides) and fits the requested head."""
    released = released_models(weights, IMAGENET_LABELS)
    if kind != weights_name or weights_name not in released:
        where = f"exists for the ImageNet {', '.join(released)} only" if released else "is no ImageNet release"
        raise ValueError(
            f"weights={weights!r} {where}, not for {kind}; use weights=None or a file "
            "(every release: keras_resnet_paper.weights.available_weights())."
        )
    release = get_release(weights_name, weights)
    if include_top and classes != release.num_classes:
        raise ValueError(
            f"classes={classes!r}: weights={weights!r} with include_top=True needs "
            f"classes={release.num_classes}; use include_top=False for a new head."
        )
