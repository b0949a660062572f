"""The import direction of docs/DESIGN.md: the weights never import the models (the builders import
the weights), and the leaf modules import nothing of the package."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).parents[1] / "keras_resnet_paper"
LEAVES = ("paper.py", "names.py", "graph.py", "terminal.py", "data/augmentations.py")


def _imports(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted((PACKAGE / "weights").glob("*.py")), ids=lambda p: p.name)
def test_weights_never_import_the_models(path):
    assert not [m for m in _imports(path) if m.startswith("keras_resnet_paper.models")]


@pytest.mark.parametrize("name", LEAVES)
def test_leaf_modules_import_nothing_of_the_package(name):
    assert not [m for m in _imports(PACKAGE / name) if m.startswith("keras_resnet_paper")]


def test_the_start_of_a_command_imports_only_the_terminal():
    """startup.py runs first in the package's __init__: it may draw its phase line, nothing more."""
    assert {m for m in _imports(PACKAGE / "startup.py") if m.startswith("keras_resnet_paper")} == {
        "keras_resnet_paper",
        "keras_resnet_paper.terminal",
    }
