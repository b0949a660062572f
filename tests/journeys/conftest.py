"""Fixtures of the journey suite; see journey.py for what a journey is."""

from __future__ import annotations

import hashlib
import pathlib
import subprocess
import sys

import pytest
from command_batch import run_batch
from journey import REPO, Outcome, argv_of, offline_env


@pytest.fixture(scope="session")
def installed_package():
    """The installed keras_resnet_paper, checked to be the working tree's (a stale install would
    test yesterday's code): the same files with the same bytes."""
    where = "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('keras_resnet_paper').origin))"
    out = subprocess.run(  # found, not imported: no TensorFlow start-up
        [sys.executable, "-c", where],
        cwd="/",
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=300,
    )
    assert out.returncode == 0, f"keras_resnet_paper is not installed here (pip install .):\n{out.stderr[-2000:]}"
    installed = pathlib.Path(out.stdout.strip().splitlines()[-1])
    source = REPO / "keras_resnet_paper"

    def digest(root: pathlib.Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.py"))
        }

    stale = sorted(k for k, v in digest(source).items() if digest(installed).get(k) != v)
    if stale:
        pytest.fail(
            f"the installed keras_resnet_paper ({installed}) differs from the working tree in {stale[:5]}: "
            "run `pip install .` first",
            pytrace=False,
        )
    return installed


@pytest.fixture
def run_command(installed_package, tmp_path):
    """run_command("python -m keras_resnet_paper.train --help", timeout=120) -> Outcome.

    Runs in an empty folder (`tmp_path / "work"`, also `cwd` of relative outputs such as runs/),
    offline, with a time limit."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)

    def run(
        command: str | list[str],
        *,
        timeout: float = 600,
        env: dict[str, str] | None = None,
        cwd: pathlib.Path | None = None,
    ) -> Outcome:
        argv = argv_of(command) if isinstance(command, str) else list(command)
        done = subprocess.run(
            argv,
            cwd=cwd or work,
            env=offline_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Outcome(argv, done.returncode, done.stdout, done.stderr)

    run.work = work
    return run


@pytest.fixture(scope="module")
def run_commands(installed_package, tmp_path_factory):
    """run_commands("python -m keras_resnet_paper.train", [args, ...]) -> [Outcome, ...]: command
    lines of one documented command run in one offline process of the installed package
    (tests/command_batch.py), each in its own folder (`outcome.cwd`; `setup[i](folder)` fills it). For the many mistakes
    of one command; a documented command itself runs in its own subprocess (`run_command`)."""

    def run(
        command: str,
        runs: list[list[str]],
        *,
        env: dict[str, str] | None = None,
        timeout: float = 600,
        setup: list | None = None,
    ):
        folder = tmp_path_factory.mktemp("batch")
        return run_batch(command, runs, folder, offline_env(env), timeout=timeout, setup=setup)

    return run
