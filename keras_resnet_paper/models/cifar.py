"""The CIFAR-10 family (Sec. 4.2, Table 6): depth 6n+2, residual or plain."""

from __future__ import annotations

import dataclasses
from typing import Any, Unpack

import keras

from keras_resnet_paper.models import builder
from keras_resnet_paper.models.builder import ModelArguments, Network, Stage
from keras_resnet_paper.models.layers import LayerFactory
from keras_resnet_paper.models.spec import BASIC, CIFAR_WIDTHS, cifar_blocks_per_stage
from keras_resnet_paper.validation import check_bool
from keras_resnet_paper.weights.architecture import Architecture, resolve_arguments
from keras_resnet_paper.weights.loading import ResolvedWeights, resolve_weights
from keras_resnet_paper.weights.releases import get_release, is_registered_tag, released_models

#: The CIFAR builder's defaults where neither the caller nor the weights decide: option A (Sec. 4.2),
#: its zero channels after the input's, BN epsilon 1e-5.
DEFAULT_ARCHITECTURE = Architecture(shortcut="A", bn_epsilon=1e-5, zero_padding="after")
CIFAR_LABELS = "cifar-10"


def cifar_stem(x, factory: LayerFactory):
    """The first layer: 3x3 conv, 16 filters, BN, ReLU (Sec. 4.2)."""
    x = factory.conv_bn(x, CIFAR_WIDTHS[0], 3, 1, "conv1")
    return factory.relu(name="conv1_relu")(x)


def cifar_resnet(
    depth: int,
    residual: bool = True,
    *,
    shortcut: str | None = None,
    bn_epsilon: float | None = None,
    zero_padding: str | None = None,
    **arguments: Unpack[ModelArguments],
) -> keras.Model:
    """A CIFAR ResNet (or plain net) of depth 6n+2 (Sec. 4.2).

    3x3 conv (16) then three stages of n basic blocks with 16, 32, 64 filters on 32², 16², 8²
    maps, subsampling by stride-2 convs, global average pooling and a `classes`-way fc (10 by
    default). All shortcuts are option A by default, as in the paper. ResNet-1202 and other nets
    of more than 100 blocks are built nested (one sub-model per stage and per block).

    `arguments` are the `ModelArguments` (keras.applications' and the options every net shares);
    `weights` is None, "cifar10" (ResNet-20/32/44/56/110/1202 as trained by
    akamaster/pytorch_resnet_cifar10, fetched once and hash-checked), a weights file saved by this
    package, or a CIFAR checkpoint in akamaster's layout (the file `torch.save` wrote, or its state
    dict as .safetensors/.npz: `conv1`, `layer1..3`, `linear`). `shortcut` (default "A") and
    `bn_epsilon` (default 1e-5) as in `imagenet_resnet`; `zero_padding` places option A's zero
    channels "after" the input's (the default) or on "both" sides (how those checkpoints were
    trained). Left unset, they take what `weights` need; a contradiction is a ValueError.
    """
    n = cifar_blocks_per_stage(depth)
    check_bool("residual", residual)
    arguments = builder.model_arguments(arguments, "cifar_resnet", classes=10)
    weights = arguments["weights"]
    resolved = _resolve(depth, residual, weights)
    given = dict(shortcut=shortcut, bn_epsilon=bn_epsilon, zero_padding=zero_padding)
    required = dataclasses.replace(resolved.architecture, stride_in_1x1=None)  # basic blocks: one geometry
    arch = resolve_arguments(given, required, DEFAULT_ARCHITECTURE, f"weights={weights!r}")
    options = builder.block_options(residual, arguments, arch)
    stages = [Stage(index=i + 2, width=w, blocks=n, strides=1 if i == 0 else 2) for i, w in enumerate(CIFAR_WIDTHS)]
    network = Network(cifar_stem, stages, BASIC, options, arch["bn_epsilon"], default_size=32, min_size=4)
    arguments["name"] = arguments["name"] or f"{'resnet' if residual else 'plain'}{depth}_cifar"
    return builder.build_resnet(network, arguments, resolved)


def _resolve(depth: int, residual: bool, weights: Any) -> ResolvedWeights:
    """What `weights` mean for the CIFAR net of `depth`: a "cifar10" release (of a ResNet of that
    depth only), or a file (akamaster's layout needs option A's zero channels on both sides)."""
    if is_registered_tag(weights):
        _release(depth, residual, weights)
    return resolve_weights(weights, f"resnet{depth}")


def _release(depth: int, residual: bool, weights: str):
    """The CIFAR release `weights` of ResNet-`depth`; a ValueError naming the depths it exists for."""
    released = sorted(int(model[len("resnet") :]) for model in released_models(weights, CIFAR_LABELS))
    if not residual or depth not in released:
        where = f"exists for the CIFAR ResNet-{'/'.join(map(str, released))}" if released else "is no CIFAR release"
        raise ValueError(
            f"weights={weights!r} {where}, not for the CIFAR {'ResNet' if residual else 'plain net'} of depth "
            f"{depth}; use weights=None or a file (every release: keras_resnet_paper.weights.available_weights())."
        )
    return get_release(f"resnet{depth}", weights)
