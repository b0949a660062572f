"""The CIFAR-10 family (Sec. 4.2, Table 6): depth 6n+2, residual or plain."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras

from keras_resnet_paper.models.builder import Stage, build_resnet
from keras_resnet_paper.models.layers import LayerFactory
from keras_resnet_paper.models.spec import BASIC, CIFAR_WIDTHS, cifar_blocks_per_stage
from keras_resnet_paper.weights.torch_checkpoint import checkpoint_zero_padding


def cifar_stem(x, factory: LayerFactory):
    """The first layer: 3x3 conv, 16 filters, BN, ReLU (Sec. 4.2)."""
    x = factory.conv_bn(x, CIFAR_WIDTHS[0], 3, 1, "conv1")
    return factory.relu(name="conv1_relu")(x)


def cifar_resnet(
    depth: int,
    residual: bool = True,
    *,
    shortcut: str = "A",
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: Any = "softmax",
    bn_momentum: float = 0.9,
    bn_epsilon: float = 1e-5,
    zero_init_residual: bool = False,
    kernel_initializer: Any = "he_normal",
    nested: bool | None = None,
    dtype: Any = None,
    name: str | None = None,
    zero_padding: str | None = None,
) -> keras.Model:
    """A CIFAR ResNet (or plain net) of depth 6n+2 (Sec. 4.2).

    3x3 conv (16) then three stages of n basic blocks with 16, 32, 64 filters on 32², 16², 8²
    maps, subsampling by stride-2 convs, global average pooling and a `classes`-way fc.
    All shortcuts are option A by default, as in the paper. ResNet-1202 and other nets of more
    than 100 blocks are built nested (one sub-model per stage and per block).

    The arguments are those of `imagenet_resnet`; `weights` is None, a weights file saved by this
    package, or a CIFAR checkpoint in the layout of akamaster/pytorch_resnet_cifar10 (the file
    `torch.save` wrote, or its state dict as .safetensors/.npz: `conv1`, `layer1..3`, `linear`).
    `zero_padding` places option A's zero channels "after" the input's (the default) or on "both"
    sides (how those checkpoints were trained); None: what `weights` needs, else "after".
    """
    n = cifar_blocks_per_stage(depth)
    zero_padding = _zero_padding(weights, zero_padding)
    if weights == "imagenet":
        raise ValueError("weights='imagenet' does not exist for CIFAR nets; use None or a weights file.")
    stages = [Stage(index=i + 2, width=w, blocks=n, strides=1 if i == 0 else 2) for i, w in enumerate(CIFAR_WIDTHS)]
    return build_resnet(
        stem=cifar_stem,
        stages=stages,
        block=BASIC,
        residual=residual,
        shortcut=shortcut,
        stride_in_1x1=True,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        bn_momentum=bn_momentum,
        bn_epsilon=bn_epsilon,
        zero_init_residual=zero_init_residual,
        kernel_initializer=kernel_initializer,
        nested=nested,
        dtype=dtype,
        name=name or f"{'resnet' if residual else 'plain'}{depth}_cifar",
        default_size=32,
        min_size=4,
        weights_name=f"cifar_resnet{depth}",
        zero_padding=zero_padding,
    )


def _zero_padding(weights: Any, zero_padding: str | None) -> str:
    """The option-A placement to build: the one given, else the one `weights` needs, else "after";
    a contradiction is a ValueError."""
    required = checkpoint_zero_padding(weights) if isinstance(weights, (str, os.PathLike)) else None
    if zero_padding is not None and required is not None and zero_padding != required:
        raise ValueError(
            f"zero_padding={zero_padding!r} contradicts weights={os.fspath(weights)!r}, a CIFAR checkpoint "
            f"trained with option A's zero channels on {required!r} sides: leave zero_padding out."
        )
    return zero_padding or required or "after"
