"""The architecture a set of weights needs, beyond what its shapes show.

Shapes alone cannot tell two geometries of the same depth apart: a bottleneck net that strides on
its first 1x1 (the authors' released models, Sec. 3.3 and Table 1) and one that strides on its
3x3 (the later "v1.5") have identical variables, and so do nets that differ only in
BatchNormalization epsilon, or option A shortcuts that pad their new channels after the input's
and on both sides (Sec. 3.3; akamaster/pytorch_resnet_cifar10). An `Architecture` records those arguments; `resolve_arguments` merges
them with a builder's explicit arguments (a conflict is an error), and `check_model` reads them
back off a built model so loaders refuse a silent mismatch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import keras

from keras_resnet_paper.graph import iter_layers
from keras_resnet_paper.weights.errors import WeightsMismatchError

__all__ = [
    "Architecture",
    "resolve_arguments",
    "check_model",
    "leaf_layers",
    "short_name",
    "detect_stride_in_1x1",
    "model_bn_epsilon",
]


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Builder arguments that weights were trained with; None where the weights do not care."""

    stride_in_1x1: bool | None = None
    shortcut: str | None = None
    bn_epsilon: float | None = None
    zero_padding: str | None = None  # option A's zero channels: "after" the input's, or on "both" sides

    def builder_arguments(self) -> dict[str, Any]:
        """The arguments to pass to a builder, e.g. {"stride_in_1x1": True, "bn_epsilon": 1.001e-5}."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def _same(name: str, a: Any, b: Any) -> bool:
    if name == "shortcut":
        return str(a).upper() == str(b).upper()
    if name == "bn_epsilon":
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    if name == "zero_padding":
        return str(a) == str(b)
    return bool(a) == bool(b)


def resolve_arguments(
    given: Mapping[str, Any], required: Architecture, defaults: Architecture, weights: str
) -> dict[str, Any]:
    """The builder's values: explicit (not None) ones, else what `weights` needs, else the default.

    An explicit value that contradicts what the weights need is a ValueError naming both.
    """
    resolved = {}
    for field in dataclasses.fields(Architecture):
        name = field.name
        value, need = given.get(name), getattr(required, name)
        if value is not None and need is not None and not _same(name, value, need):
            raise ValueError(
                f"{weights} needs {name}={need!r} but got {name}={value!r}: leave {name} unset "
                f"(the weights' value is then used) or build without these weights."
            )
        resolved[name] = value if value is not None else (need if need is not None else getattr(defaults, name))
    return resolved


def check_model(model, required: Architecture, weights: str) -> None:
    """Refuse a built model whose stride placement or BN epsilon differs from what `weights` need."""
    found = Architecture(stride_in_1x1=detect_stride_in_1x1(model), bn_epsilon=model_bn_epsilon(model))
    for name in ("stride_in_1x1", "bn_epsilon"):
        have, need = getattr(found, name), getattr(required, name)
        if have is not None and need is not None and not _same(name, have, need):
            raise WeightsMismatchError(
                f"{weights} needs {name}={need!r} but model {model.name!r} has {name}={have!r}; "
                f"build it with {name}={need!r} (the builders do this by themselves when given these "
                "weights). Nothing was loaded."
            )


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
