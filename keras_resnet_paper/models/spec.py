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

#: Trainable parameters with option B (docs/paper.md, 'ImageNet counts'; torchvision's counts).
IMAGENET_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
#: Multiply-adds in GFLOPs with the stride on the 1x1 (authors' release) and on the 3x3 ("v1.5").
IMAGENET_GFLOPS = {18: 1.81, 34: 3.66, 50: 3.86, 101: 7.57, 152: 11.28}
IMAGENET_GFLOPS_V1_5 = {50: 4.09, 101: 7.80, 152: 11.51}
#: Top-1 / top-5 error (%), 10-crop, Table 3 (ResNet-18 from Table 2, top-1 only; option B for 34).
IMAGENET_PAPER_ERROR = {
    18: (27.88, None),
    34: (24.52, 7.46),
    50: (22.85, 6.71),
    101: (21.75, 6.05),
    152: (21.43, 5.71),
}

#: CIFAR-10 trainable parameters with option A and test error (%) (Sec. 4.2, Table 6).
CIFAR_PARAMS = {
    20: 269_722,
    32: 464_154,
    44: 658_586,
    56: 853_018,
    110: 1_727_962,
    1202: 19_421_274,
}
CIFAR_PAPER_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}


def imagenet_spec(depth: int) -> ImageNetSpec:
    """The Table 1 spec of `depth`; ValueError for a depth the paper does not define."""
    if depth not in IMAGENET_SPECS:
        raise ValueError(
            f"depth={depth!r} is not an ImageNet depth of the paper; allowed: "
            f"{sorted(IMAGENET_SPECS)} (or pass blocks=(...) and block='basic'|'bottleneck')."
        )
    return IMAGENET_SPECS[depth]


def cifar_blocks_per_stage(depth: int) -> int:
    """n for a CIFAR net of depth 6n+2 (Sec. 4.2); ValueError otherwise."""
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"CIFAR depth={depth!r} is not of the form 6n+2 with n >= 1 "
            "(allowed: 8, 14, 20, 26, 32, 44, 56, 110, 1202, ...)."
        )
    return (depth - 2) // 6
