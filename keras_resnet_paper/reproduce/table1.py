"""Table 1 and the CIFAR-10 architectures of Sec. 4.2, computed: every net of the paper is built
and its parameters and multiply-adds counted (docs/paper.md, 'ImageNet architectures (Table 1)',
'CIFAR-10 architectures', 'Parameter and FLOP counts'). Nothing is trained.

The output is the README's two model tables, character for character (tests/reproduce keeps them
equal), beside the paper's errors; `report.md` adds the paper's own rounded counts beside ours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from keras_resnet_paper import paper
from keras_resnet_paper.models import spec
from keras_resnet_paper.reproduce import paper_results

__all__ = [
    "IMAGENET_HEADING",
    "CIFAR_HEADING",
    "table1_nets",
    "count_net",
    "compute_counts",
    "render_tables",
    "render_comparison",
]

IMAGENET_HEADING = "### ImageNet family (Table 1; 224×224, option B, stride on the 1×1 as in the authors' release)"
CIFAR_HEADING = "### CIFAR family (Sec. 4.2, Table 6; 32×32, option A)"
IMAGENET_DEPTHS = tuple(spec.IMAGENET_SPECS)
CIFAR_DEPTHS = tuple(paper.CIFAR_PARAMS)

#: A net of the tables: ("imagenet", depth, stride_in_1x1) or ("cifar", depth, True).
NetKey = tuple[str, int, bool]
Counts = Mapping[NetKey, tuple[int, int]]  # (trainable parameters, multiply-adds)


def table1_nets() -> list[NetKey]:
    """Every net the tables count: ImageNet depths (and the v1.5 bottleneck nets), CIFAR depths."""
    nets: list[NetKey] = [("imagenet", d, True) for d in IMAGENET_DEPTHS]
    nets += [("imagenet", d, False) for d in IMAGENET_DEPTHS if spec.IMAGENET_SPECS[d].block == spec.BOTTLENECK]
    return nets + [("cifar", d, True) for d in CIFAR_DEPTHS]


def count_net(key: NetKey) -> tuple[int, int]:
    """Build the net of `key` and count it (`krp.count_params`, `krp.count_flops`)."""
    import keras

    from keras_resnet_paper.evaluation.flops import count_flops, count_params
    from keras_resnet_paper.models import cifar_resnet, imagenet_resnet

    family, depth, stride_in_1x1 = key
    model = imagenet_resnet(depth, stride_in_1x1=stride_in_1x1) if family == "imagenet" else cifar_resnet(depth)
    counts = count_params(model), count_flops(model)
    del model
    keras.backend.clear_session()
    return counts


def compute_counts(
    count: Callable[[NetKey], tuple[int, int]] = count_net, say: Callable[[str], None] | None = None
) -> dict[NetKey, tuple[int, int]]:
    """Counts of every net of `table1_nets()` (building ResNet-1202 takes a minute or two on a CPU)."""
    out = {}
    for key in table1_nets():
        if say:
            say(f"counting {key[0]} {key[1]}{'' if key[2] else ' (v1.5)'}")
        out[key] = count(key)
    return out


def _rows(table: list[list[str]]) -> list[str]:
    """Markdown rows, every column but the last padded to its widest cell (the README's layout)."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    return ["| " + " | ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[-1]]) + " |" for row in table]


def _imagenet_error(depth: int) -> str:
    top1, top5 = paper.IMAGENET_PAPER_ERROR[depth]
    return f"{top1:.2f} / {'–' if top5 is None else f'{top5:.2f}'}" + (" (B)" if depth == 34 else "")


def _cifar_error(depth: int) -> str:
    cell = paper_results.TABLE6[f"resnet{depth}"]
    return f"{cell.top1:.2f}" + (f" ({cell.mean:.2f} ± {cell.std:.2f})" if cell.mean is not None else "")


def render_tables(counts: Counts) -> str:
    """The README's model tables: the ImageNet family, then the CIFAR family."""
    imagenet = []
    for d in IMAGENET_DEPTHS:
        params, flops = counts[("imagenet", d, True)]
        v15 = counts.get(("imagenet", d, False))
        s = spec.IMAGENET_SPECS[d]
        imagenet.append(
            [
                f"`ResNet{d}`",
                s.block,
                ",".join(map(str, s.blocks)),
                f"{params:,}",
                f"{flops / 1e9:.2f}",
                "–" if v15 is None else f"{v15[1] / 1e9:.2f}",
                _imagenet_error(d),
            ]
        )
    cifar = []
    for d in CIFAR_DEPTHS:
        params, flops = counts[("cifar", d, True)]
        cifar.append(
            [f"`ResNet{d}`", str(spec.cifar_blocks_per_stage(d)), f"{params:,}", f"{flops / 1e6:.1f}", _cifar_error(d)]
        )
    return "\n".join(
        [
            IMAGENET_HEADING,
            "",
            "| model | block | blocks per stage | params | GFLOPs | GFLOPs v1.5 | paper top-1 / top-5 err. (10-crop) |",
            "|---|---|---|---|---|---|---|",
            *_rows(imagenet),
            "",
            CIFAR_HEADING,
            "",
            "| model | n | params | MFLOPs | paper test error % |",
            "|---|---|---|---|---|",
            *_rows(cifar),
        ]
    )


def render_comparison(counts: Counts) -> str:
    """The paper's rounded counts beside ours: Table 1's FLOPs, Table 6's parameters."""
    lines = ["| net | paper | ours |", "|---|---|---|"]
    for d in IMAGENET_DEPTHS:
        lines.append(
            f"| ResNet-{d} (ImageNet) | {paper_results.TABLE1_GFLOPS[d]} × 10⁹ FLOPs "
            f"| {counts[('imagenet', d, True)][1]:,} FLOPs |"
        )
    for d in CIFAR_DEPTHS:
        lines.append(
            f"| ResNet-{d} (CIFAR-10) | {paper_results.TABLE6_PARAMS_M[d]}M params "
            f"| {counts[('cifar', d, True)][0]:,} params |"
        )
    return "\n".join(lines)
