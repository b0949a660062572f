"""Every Python block of the README runs as pasted, in the README's order, in one fresh interpreter:
a block uses only names it defines or that an earlier block defined, and says in a comment what it
needs of the user (a prepared data set, a path of theirs, the network). The test gives it exactly
that through readme_stand_ins.py (mock tfds sets, files in their real formats at the README's
paths, a local weights mirror) and changes nothing else in the blocks' text."""

from __future__ import annotations

import re
import sys

import pytest
from journey import REPO
from readme_stand_ins import PATHS

TESTS = REPO / "tests"


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), flags=re.S)


def test_every_placeholder_path_stands_in_a_block_and_says_it_is_the_users():
    text = "".join(readme_python_blocks())
    for placeholder in PATHS:
        assert placeholder in text, placeholder


@pytest.mark.slow
def test_every_python_block_of_the_readme_runs_as_pasted(run_command):
    root = run_command.work / "stand_ins"
    blocks = readme_python_blocks()
    assert len(blocks) >= 8
    script = [
        "import sys",
        f"sys.path[:0] = {[str(TESTS / 'journeys'), str(TESTS / 'data'), str(TESTS / 'weights')]!r}",
        "import readme_stand_ins",
        f"_stand_ins = readme_stand_ins.enter({str(root)!r})",
    ]
    for number, block in enumerate(blocks, 1):
        for placeholder, stand_in in PATHS.items():
            block = block.replace(f'"{placeholder}"', repr(str(root / stand_in)))
        script += [f"print('--- README block {number}', flush=True)", block]
    script += [
        "maps = {name: int(value.shape[1]) for name, value in features(images).items()}",
        "assert maps == {'conv2_x': 56, 'conv3_x': 28, 'conv4_x': 14, 'conv5_x': 7}, maps",
        "assert result.steps == 100 and 0 <= result.final['top1_error'] < 0.5, result.final",
        "assert set(stds) == set(plain_stds) and len(stds) == 19",  # the 3x3 layers of a 20-layer net
        "print('--- every block ran', flush=True)",
        "_stand_ins.close()",
    ]
    out = run_command([sys.executable, "-c", "\n".join(script)], timeout=1500)
    assert out.returncode == 0, out.describe()
    assert "--- every block ran" in out.stdout
    assert (run_command.work / "runs" / "r20" / "run.json").exists() and (run_command.work / "fig7.png").exists()
