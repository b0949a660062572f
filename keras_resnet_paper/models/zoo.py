"""The named models of the paper: thin constructors over `imagenet_resnet` and `cifar_resnet`.

Every constructor takes the keras.applications arguments (include_top, weights, input_tensor,
input_shape, pooling, classes, classifier_activation, name) plus any option of its builder.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import keras

from keras_resnet_paper.models.cifar import cifar_resnet
from keras_resnet_paper.models.imagenet import imagenet_resnet
from keras_resnet_paper.models.names import CIFAR_NAME, normalize_model_name


def _named(builder: Callable[..., keras.Model], depth: int, residual: bool, classes: int, doc: str):
    def constructor(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple | None = None,
        pooling: str | None = None,
        classes: int = classes,
        classifier_activation: Any = "softmax",
        name: str | None = None,
        **kwargs: Any,
    ) -> keras.Model:
        return builder(
            depth,
            residual,
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

    kind = "ResNet" if residual else "Plain"
    constructor.__name__ = constructor.__qualname__ = f"{kind}{depth}"
    constructor.__doc__ = (
        f"{kind}-{depth}: {doc}\n\n"
        f"Arguments as keras.applications; further options (shortcut, nested, dtype, ...) as "
        f"`{builder.__name__}`, which this calls with depth={depth}, residual={residual}."
    )
    constructor.__signature__ = inspect.signature(constructor)
    return constructor


_IMAGENET = "ImageNet net of Table 1 (option B shortcuts by default, Sec. 3.3)."
_IMAGENET_PLAIN = "plain ImageNet baseline of Sec. 4.1 (Table 1 layers, no shortcuts)."
_CIFAR = "CIFAR-10 net of Sec. 4.2 (option A shortcuts by default)."
_CIFAR_PLAIN = "plain CIFAR-10 baseline of Sec. 4.2 (Fig. 6)."

ResNet18 = _named(imagenet_resnet, 18, True, 1000, _IMAGENET)
ResNet34 = _named(imagenet_resnet, 34, True, 1000, _IMAGENET)
ResNet50 = _named(imagenet_resnet, 50, True, 1000, _IMAGENET)
ResNet101 = _named(imagenet_resnet, 101, True, 1000, _IMAGENET)
ResNet152 = _named(imagenet_resnet, 152, True, 1000, _IMAGENET)
Plain18 = _named(imagenet_resnet, 18, False, 1000, _IMAGENET_PLAIN)
Plain34 = _named(imagenet_resnet, 34, False, 1000, _IMAGENET_PLAIN)
Plain50 = _named(imagenet_resnet, 50, False, 1000, _IMAGENET_PLAIN)
Plain101 = _named(imagenet_resnet, 101, False, 1000, _IMAGENET_PLAIN)
Plain152 = _named(imagenet_resnet, 152, False, 1000, _IMAGENET_PLAIN)

ResNet20 = _named(cifar_resnet, 20, True, 10, _CIFAR)
ResNet32 = _named(cifar_resnet, 32, True, 10, _CIFAR)
ResNet44 = _named(cifar_resnet, 44, True, 10, _CIFAR)
ResNet56 = _named(cifar_resnet, 56, True, 10, _CIFAR)
ResNet110 = _named(cifar_resnet, 110, True, 10, _CIFAR)
ResNet1202 = _named(cifar_resnet, 1202, True, 10, _CIFAR)
Plain20 = _named(cifar_resnet, 20, False, 10, _CIFAR_PLAIN)
Plain32 = _named(cifar_resnet, 32, False, 10, _CIFAR_PLAIN)
Plain44 = _named(cifar_resnet, 44, False, 10, _CIFAR_PLAIN)
Plain56 = _named(cifar_resnet, 56, False, 10, _CIFAR_PLAIN)
Plain110 = _named(cifar_resnet, 110, False, 10, _CIFAR_PLAIN)

#: Lower-case model names (CLI `--model`) -> constructor.
MODELS: dict[str, Callable[..., keras.Model]] = {
    fn.__name__.lower(): fn
    for fn in (
        ResNet18,
        ResNet34,
        ResNet50,
        ResNet101,
        ResNet152,
        Plain18,
        Plain34,
        Plain50,
        Plain101,
        Plain152,
        ResNet20,
        ResNet32,
        ResNet44,
        ResNet56,
        ResNet110,
        ResNet1202,
        Plain20,
        Plain32,
        Plain44,
        Plain56,
        Plain110,
    )
}


def resolve_model_name(name: str) -> str:
    """The registry's name for `name`: a named model of the paper (`MODELS`) or a CIFAR net of any
    depth 6n+2 (Sec. 4.2), "resnet8", "plain14", ... A ValueError lists what is allowed."""
    key = normalize_model_name(name)
    m = CIFAR_NAME.match(key)
    if key in MODELS or (m and int(m.group(2)) >= 8 and (int(m.group(2)) - 2) % 6 == 0):
        return key
    raise ValueError(
        f"model={name!r} is not a model of the paper; use one of {', '.join(sorted(MODELS))}, "
        "or resnet<6n+2> / plain<6n+2> for any CIFAR depth (8, 14, 20, ...)."
    )


def get_model(name: str, **kwargs: Any) -> keras.Model:
    """Build a model by name ("resnet20", "plain34", or any CIFAR "resnet<6n+2>"); the one registry
    behind the command line, the trainer, the recipes and the weights. ValueError lists the names."""
    key = resolve_model_name(name)
    if key in MODELS:
        return MODELS[key](**kwargs)
    m = CIFAR_NAME.match(key)
    return cifar_resnet(int(m.group(2)), m.group(1) == "resnet", **kwargs)
