"""The README stays true: its model tables and commands agree with the code."""

import pathlib
import re

from keras_resnet_paper import paper
from keras_resnet_paper.models import spec

README = (pathlib.Path(__file__).parents[1] / "README.md").read_text()


def _rows(model_prefix: str) -> dict[int, list[str]]:
    rows = {}
    for line in README.splitlines():
        m = re.match(rf"\| `{model_prefix}(\d+)`\s*\|(.*)\|$", line)
        if m and int(m.group(1)) not in rows:  # the model tables come first
            rows[int(m.group(1))] = [c.strip() for c in m.group(2).split("|")]
    return rows


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def test_imagenet_table_matches_spec():
    rows = _rows("ResNet")
    for depth, params in paper.IMAGENET_PARAMS.items():
        cells = rows[depth]
        assert _int(cells[2]) == params, depth
        assert float(cells[3]) == paper.IMAGENET_GFLOPS[depth], depth
        assert cells[5].startswith(f"{paper.IMAGENET_PAPER_ERROR[depth][0]:.2f}"), depth


def test_cifar_table_matches_spec():
    rows = _rows("ResNet")
    for depth, params in paper.CIFAR_PARAMS.items():
        cells = rows[depth]
        assert _int(cells[0]) == spec.cifar_blocks_per_stage(depth)
        assert _int(cells[1]) == params, depth
        assert float(cells[3].split()[0]) == paper.CIFAR_PAPER_ERROR[depth], depth


def test_commands_are_the_ci_commands():
    ci = (pathlib.Path(__file__).parents[1] / ".ci" / "run").read_text()
    test_command = (
        'pip install ".[test]" && ruff check . && ruff format --check . && python -m pytest && python -m pytest -m slow'
    )
    assert test_command in README and test_command in ci
    assert "python -m keras_resnet_paper.train --recipe cifar10_paper --model resnet20 --offline" in README


# The README's Python blocks run as pasted in journeys/test_readme_python.py.
