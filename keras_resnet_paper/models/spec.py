"""Architecture tables: one spec per depth (Table 1, Sec. 4.2; docs/paper.md, 'ImageNet architectures (Table 1)').

Everything the builders need to know about a depth lives here, as data.
"""

from __future__ import annotations

import dataclasses

BASIC = "basic"
BOTTLENECK = "bottleneck"
BLOCK_TYPES = (BASIC, BOTTLENECK)
SHORTCUT_OPTIONS = ("A", "B", "C")

#: Bottleneck blocks expand their last 1x1 conv by this factor (Table 1: [1x1,w; 3x3,w; 1x1,4w]).
BOTTLENECK_EXPANSION = 4

#: Stage widths w of conv2_x .. conv5_x (Table 1).
IMAGENET_WIDTHS = (64, 128, 256, 512)
#: Stage widths of the three CIFAR stages on 32², 16², 8² maps (Sec. 4.2).
CIFAR_WIDTHS = (16, 32, 64)


@dataclasses.dataclass(frozen=True)
class ImageNetSpec:
    """One row of Table 1: the block type and how many blocks each stage stacks."""

    block: str
    blocks: tuple[int, ...]


#: Table 1 of the paper, depth -> (block, blocks per stage conv2_x..conv5_x).
IMAGENET_SPECS: dict[int, ImageNetSpec] = {
    18: ImageNetSpec(BASIC, (2, 2, 2, 2)),
    34: ImageNetSpec(BASIC, (3, 4, 6, 3)),
    50: ImageNetSpec(BOTTLENECK, (3, 4, 6, 3)),
    101: ImageNetSpec(BOTTLENECK, (3, 4, 23, 3)),
    152: ImageNetSpec(BOTTLENECK, (3, 8, 36, 3)),
}


#: Deeper nets of the same design, not in the paper: ResNet-200 (timm's `resnet200`).
IMAGENET_SPECS_BEYOND_PAPER: dict[int, ImageNetSpec] = {200: ImageNetSpec(BOTTLENECK, (3, 24, 36, 3))}


def imagenet_spec(depth: int) -> ImageNetSpec:
    """The Table 1 spec of `depth` (or of ResNet-200); ValueError for any other depth."""
    specs = {**IMAGENET_SPECS, **IMAGENET_SPECS_BEYOND_PAPER}
    if depth not in specs:
        raise ValueError(
            f"depth={depth!r} is not an ImageNet depth; allowed: "
            f"{sorted(specs)} (or pass blocks=(...) and block='basic'|'bottleneck')."
        )
    return specs[depth]


def cifar_blocks_per_stage(depth: int) -> int:
    """n for a CIFAR net of depth 6n+2 (Sec. 4.2); ValueError otherwise."""
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"CIFAR depth={depth!r} is not of the form 6n+2 with n >= 1 "
            "(allowed: 8, 14, 20, 26, 32, 44, 56, 110, 1202, ...)."
        )
    return (depth - 2) // 6
