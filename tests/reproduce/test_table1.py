"""table1: the README's model tables are its output, character for character.

Building every net takes minutes (ResNet-1202), so the fast test renders the tables from ResNet-20
and ResNet-110 built and counted, the other CIFAR nets from the exact linearity in n of the family
(docs/paper.md, 'CIFAR-10 counts'), and the spec's exact counts of the ImageNet nets (asserted
against built models in tests/models/test_counts.py); the slow journey runs the command itself
(tests/journeys/test_reproduce.py).
"""

import pathlib
import re

import pytest

from keras_resnet_paper import paper
from keras_resnet_paper.models import spec
from keras_resnet_paper.reproduce import table1

README = (pathlib.Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def table_blocks(text: str) -> list[str]:
    """Each '### ... family' heading with the table under it."""
    return re.findall(r"^(### [^\n]+ family [^\n]*\n\n(?:\|[^\n]*\|\n?)+)", text, re.M)


@pytest.fixture(scope="module")
def counts():
    """Counts of every net of the tables: built (ResNet-20, ResNet-110), exact from the spec (the
    ImageNet nets), or exact by linearity in n (the other CIFAR nets)."""
    out = {}
    for key in table1.table1_nets():
        family, depth, stride_in_1x1 = key
        if family == "imagenet":
            gflops = paper.IMAGENET_GFLOPS if stride_in_1x1 else paper.IMAGENET_GFLOPS_V1_5
            out[key] = paper.IMAGENET_PARAMS[depth], int(gflops[depth] * 1e9)
    (p20, f20), (p110, f110) = table1.count_net(("cifar", 20, True)), table1.count_net(("cifar", 110, True))
    for depth in paper.CIFAR_PARAMS:  # n grows by 15 from ResNet-20 to ResNet-110
        n = spec.cifar_blocks_per_stage(depth) - 3
        out[("cifar", depth, True)] = p20 + (p110 - p20) // 15 * n, f20 + (f110 - f20) // 15 * n
    return out


def test_readme_model_tables_are_table1s_output(counts):
    rendered = table_blocks(table1.render_tables(counts) + "\n")
    assert len(rendered) == 2
    assert [b.strip() for b in table_blocks(README)] == [b.strip() for b in rendered]


def test_counts_are_the_built_models():
    assert table1.count_net(("imagenet", 18, True)) == (paper.IMAGENET_PARAMS[18], 1_814_073_344)
    assert table1.count_net(("cifar", 20, True)) == (paper.CIFAR_PARAMS[20], 40_551_040)


def test_the_comparison_sets_the_papers_rounded_counts_beside_ours(counts):
    text = table1.render_comparison(counts)
    assert "| ResNet-50 (ImageNet) | 3.8 × 10⁹ FLOPs | 3,860,000,000 FLOPs |" in text
    assert "| ResNet-1202 (CIFAR-10) | 19.4M params | 19,421,274 params |" in text


def test_cifar_counts_are_linear_in_n(counts):
    """What the `counts` fixture relies on, checked against the spec's counts of built nets."""
    assert {d: counts[("cifar", d, True)][0] for d in paper.CIFAR_PARAMS} == paper.CIFAR_PARAMS
