"""The model family as data: one frozen `Variant` record per named network, registered by name.

A record says everything that tells a network apart from the rest of its family (docs/DESIGN.md):
the family (the ImageNet nets of Table 1, with a 7x7 stem at 224 px; the CIFAR nets of Sec. 4.2,
with a 3x3 stem at 32 px), the block type and blocks per stage, the stage widths, the width of a
bottleneck's inner convolutions, residual or plain, the default shortcut option and option A's
zero-padding placement, the input size and the number of classes. The named constructors
(`ResNet50`, `WideResNet50_2`, `Plain20`, ...), `get_model`, the command line's `--model` and the
README's tables read this registry; the paper's counts and errors are kept apart, in
`keras_resnet_paper.paper`.

One name, one network: names are compared normalised ("ResNet-50" = "resnet50"), an ImageNet and a
CIFAR net never share one, and `register_variant` refuses a name that already means something.
CIFAR nets of any depth 6n+2 are spelt `cifar_resnet<6n+2>` / `cifar_plain<6n+2>`; the short
`resnet<6n+2>` / `plain<6n+2>` keep working for depths where no ImageNet net has that name.
"""

from __future__ import annotations

import dataclasses
import re

from keras_resnet_paper.models.spec import (
    BASIC,
    BOTTLENECK,
    CIFAR_WIDTHS,
    IMAGENET_SPECS,
    IMAGENET_SPECS_BEYOND_PAPER,
    IMAGENET_WIDTHS,
)
from keras_resnet_paper.names import normalize_model_name

__all__ = ["Variant", "VARIANTS", "register_variant", "find_variant", "variant_names", "FAMILIES"]

FAMILIES = ("imagenet", "cifar")
_CIFAR_SPELLING = re.compile(r"^(cifar)?(resnet|plain)(\d+)$")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One network of the family (Table 1, Sec. 4.2, and the few beyond the paper)."""

    name: str  # canonical, e.g. "resnet50", "wide_resnet50_2", "plain20"
    constructor: str  # its named constructor, e.g. "ResNet50", "WideResNet50_2"
    family: str  # "imagenet" | "cifar"
    block: str  # "basic" | "bottleneck"
    blocks: tuple[int, ...]  # blocks per stage (conv2_x, conv3_x, ...)
    widths: tuple[int, ...]  # stage widths w (a bottleneck outputs 4w)
    bottleneck_width_factor: int = 1  # a bottleneck's 1x1 and 3x3 have factor * w filters (wide: 2)
    residual: bool = True
    shortcut: str = "B"  # the default option (Sec. 3.3): "B" on ImageNet, "A" on CIFAR-10
    zero_padding: str = "after"  # where option A's zero channels go by default
    input_size: int = 224
    classes: int = 1000
    summary: str = ""

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family={self.family!r}; allowed: {FAMILIES}.")
        if self.block not in (BASIC, BOTTLENECK) or len(self.blocks) != len(self.widths):
            raise ValueError(f"{self.name}: block={self.block!r}, blocks={self.blocks!r}, widths={self.widths!r}.")

    @property
    def depth(self) -> int:
        """Weighted layers: the stem conv, 2 or 3 per block, the fc (Table 1's depth)."""
        return 2 + sum(self.blocks) * (3 if self.block == BOTTLENECK else 2)


def _imagenet(depth: int, residual: bool = True, factor: int = 1, summary: str = "") -> Variant:
    spec = {**IMAGENET_SPECS, **IMAGENET_SPECS_BEYOND_PAPER}[depth]
    kind = "resnet" if residual else "plain"
    name = f"wide_resnet{depth}_{factor}" if factor != 1 else f"{kind}{depth}"
    constructor = f"WideResNet{depth}_{factor}" if factor != 1 else f"{kind.capitalize().replace('net', 'Net')}{depth}"
    default = f"{'ResNet' if residual else 'plain'}-{depth} of Table 1" + (
        "" if residual else " (no shortcuts, Sec. 4.1)"
    )
    return Variant(
        name, constructor, "imagenet", spec.block, spec.blocks, IMAGENET_WIDTHS, factor, residual,
        summary=summary or default,
    )  # fmt: skip


def _cifar(depth: int, residual: bool = True) -> Variant:
    n = (depth - 2) // 6
    kind = "resnet" if residual else "plain"
    return Variant(
        f"{kind}{depth}", f"{kind.capitalize().replace('net', 'Net')}{depth}", "cifar", BASIC, (n, n, n),
        CIFAR_WIDTHS, 1, residual, shortcut="A", input_size=32, classes=10,
        summary=f"{'ResNet' if residual else 'plain'}-{depth} for CIFAR-10 (Sec. 4.2, n={n})",
    )  # fmt: skip


#: The built-in networks, in the order of the README's tables.
BUILT_IN: tuple[Variant, ...] = (
    *(_imagenet(d) for d in IMAGENET_SPECS),
    _imagenet(200, summary="ResNet-200: Table 1's design with [3, 24, 36, 3] bottlenecks (not in the paper)"),
    _imagenet(50, factor=2, summary="Wide ResNet-50-2: ResNet-50 with bottlenecks twice as wide inside (not in the paper)"),
    _imagenet(101, factor=2, summary="Wide ResNet-101-2: ResNet-101 with bottlenecks twice as wide inside (not in the paper)"),
    *(_imagenet(d, residual=False) for d in IMAGENET_SPECS),
    *(_cifar(d) for d in (20, 32, 44, 56, 110, 1202)),
    *(_cifar(d, residual=False) for d in (20, 32, 44, 56, 110)),
)  # fmt: skip

#: {normalised name: record}: the registry (the built-in networks and any `register_variant` added).
VARIANTS: dict[str, Variant] = {normalize_model_name(v.name): v for v in BUILT_IN}


def _cifar_variant(key: str) -> Variant | None:
    """The CIFAR net a name spells (`cifar_resnet<6n+2>`, or the short `resnet<6n+2>` where no
    ImageNet net has that name); a ValueError for a short name that is ambiguous."""
    m = _CIFAR_SPELLING.match(key)
    if not m or int(m[3]) < 8 or (int(m[3]) - 2) % 6:
        return None
    prefix, kind, depth = m[1], m[2], int(m[3])
    imagenet = [
        k for k in (f"resnet{depth}", f"plain{depth}") if VARIANTS.get(k, None) and VARIANTS[k].family == "imagenet"
    ]
    if not prefix and imagenet:
        raise ValueError(
            f"model={key!r} is ambiguous: {imagenet[0]} is an ImageNet net; spell the CIFAR net of depth {depth} "
            f"cifar_{kind}{depth}."
        )
    registered = VARIANTS.get(f"{kind}{depth}")
    if registered is not None and registered.family == "cifar":
        return registered
    variant = _cifar(depth, kind == "resnet")
    return dataclasses.replace(variant, name=f"cifar_{kind}{depth}" if prefix else f"{kind}{depth}")


def find_variant(name: str) -> Variant:
    """The network `name` means: a registered one, or a CIFAR net of any depth 6n+2. A ValueError
    lists what is allowed."""
    key = normalize_model_name(name)
    if key in VARIANTS:
        return VARIANTS[key]
    variant = _cifar_variant(key)
    if variant is None:
        raise ValueError(
            f"model={name!r} is not a model of the family; use one of {', '.join(variant_names())}, or "
            "cifar_resnet<6n+2> / cifar_plain<6n+2> for any CIFAR depth (8, 14, 20, ...)."
        )
    return variant


def variant_names(family: str | None = None) -> list[str]:
    """The registered names (of one family), in registry order."""
    return [v.name for v in VARIANTS.values() if family is None or v.family == family]


def register_variant(variant: Variant) -> Variant:
    """Add a network to the registry. A name that already means a network (registered, or a CIFAR
    spelling) is a ValueError: a registration never changes what a name means."""
    if not isinstance(variant, Variant):
        raise ValueError(f"register_variant takes a Variant; got {variant!r}.")
    key = normalize_model_name(variant.name)
    try:
        existing = find_variant(key)
    except ValueError:
        existing = None
    if existing is not None and existing != variant:
        raise ValueError(
            f"model name {variant.name!r} already means {existing.summary or existing.name}; choose another name."
        )
    VARIANTS[key] = variant
    return variant
