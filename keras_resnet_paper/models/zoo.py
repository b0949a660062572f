"""The named models: one constructor per registered network (`variants`), generated, with
keras.applications' signature written once here.

Every constructor takes the keras.applications arguments (include_top, weights, input_tensor,
input_shape, pooling, classes, classifier_activation, name) plus any option of its builder
(`imagenet_resnet` or `cifar_resnet`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import keras

from keras_resnet_paper.models.cifar import cifar_resnet
from keras_resnet_paper.models.imagenet import imagenet_resnet
from keras_resnet_paper.models.spec import BASIC, CIFAR_WIDTHS
from keras_resnet_paper.models.variants import VARIANTS, Variant, find_variant


def build_variant(variant: Variant, **kwargs: Any) -> keras.Model:
    """Build the network a record describes, with any builder option in `kwargs`."""
    if variant.family == "cifar":
        if tuple(variant.widths) != CIFAR_WIDTHS or variant.block != BASIC:
            raise ValueError(f"{variant.name}: a CIFAR net of Sec. 4.2 has basic blocks of widths {CIFAR_WIDTHS}.")
        return cifar_resnet(variant.depth, variant.residual, **kwargs)
    kwargs.setdefault("bottleneck_width_factor", variant.bottleneck_width_factor)
    kwargs["name"] = kwargs.get("name") or variant.name
    return imagenet_resnet(
        None, variant.residual, blocks=variant.blocks, block=variant.block, widths=variant.widths, **kwargs
    )


def constructor_of(variant: Variant) -> Callable[..., keras.Model]:
    """The named constructor of `variant`: keras.applications' arguments, then the builder's."""

    def constructor(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple | None = None,
        pooling: str | None = None,
        classes: int = variant.classes,
        classifier_activation: Any = "softmax",
        name: str | None = None,
        **kwargs: Any,
    ) -> keras.Model:
        return build_variant(
            variant,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            name=name,
            **kwargs,
        )

    builder = "cifar_resnet" if variant.family == "cifar" else "imagenet_resnet"
    constructor.__name__ = constructor.__qualname__ = variant.constructor
    constructor.__doc__ = (
        f"{variant.summary}.\n\nArguments as keras.applications; further options (shortcut, nested, dtype, ...) "
        f"as `{builder}`, which this calls with depth={variant.depth}, residual={variant.residual}."
    )
    constructor.__signature__ = inspect.signature(constructor)
    return constructor


#: {name: constructor} of every registered network (the command line's `--model` choices).
MODELS: dict[str, Callable[..., keras.Model]] = {v.name: constructor_of(v) for v in VARIANTS.values()}
globals().update({fn.__name__: fn for fn in MODELS.values()})

__all__ = ["MODELS", "build_variant", "constructor_of", "get_model", "resolve_model_name"] + [
    fn.__name__ for fn in MODELS.values()
]


def resolve_model_name(name: str) -> str:
    """The registry's name for `name` ("ResNet-50" -> "resnet50"; "cifar_resnet8", and the short
    "resnet8" where no ImageNet net has that name). A ValueError lists what is allowed."""
    return find_variant(name).name


def get_model(name: str, **kwargs: Any) -> keras.Model:
    """Build a model by name ("resnet20", "plain34", "wide_resnet50_2", any "cifar_resnet<6n+2>");
    the one registry behind the command line, the trainer, the recipes and the weights."""
    return build_variant(find_variant(name), **kwargs)
