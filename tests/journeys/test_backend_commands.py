"""The README's "Backends" commands, run as a user runs them (tests/journeys/journey.py), shortened:
the main job on JAX, on JAX over two CPU devices, on PyTorch (skipped without it), and the
backend benchmark."""

from __future__ import annotations

import importlib.util
import re
import shlex

import pytest

from journey import argv_of
from readme_commands import readme_commands

SHORT = ["--iterations", "20", "--eval_every", "10", "--batch_size", "32", "--notensorboard"]
_ASSIGNMENT = re.compile(r"^[A-Z_]+=\S*$")


def backend_commands() -> list[str]:
    """The README's commands that choose a backend with KERAS_BACKEND=..., in README order."""
    return [c for c in readme_commands() if "KERAS_BACKEND=" in c]


def split_env(command: str) -> tuple[dict[str, str], list[str]]:
    """`A=1 B=2 python ...` as ({"A": "1", "B": "2"}, argv of `python ...`)."""
    words = shlex.split(command)
    env = {}
    while words and _ASSIGNMENT.match(words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, argv_of(shlex.join(words))


def _documented(start: str, end: str) -> str:
    """The one README command that starts with `start` and ends with `end`."""
    found = [c for c in backend_commands() if c.startswith(start) and c.endswith(end)]
    assert len(found) == 1, (start, end, backend_commands())
    return found[0]


def _run(run_command, command: str, extra: list[str], timeout: float = 900):
    env, argv = split_env(command)
    return run_command(argv + extra, env=env, timeout=timeout)


def _assert_trained(out, run_dir) -> None:
    assert out.returncode == 0, out.describe()
    lines = out.stdout.splitlines()
    assert [l.split("  ")[0] for l in lines if l.startswith("iteration")] == ["iteration 10/20", "iteration 20/20"]
    assert (run_dir / "report.json").exists() and (run_dir / "error_curves.png").exists()


@pytest.mark.slow  # about 2 minutes: JAX compiles ResNet-20's step on 2 CPU cores
def test_main_job_on_jax(run_command):
    out = _run(run_command, _documented("KERAS_BACKEND=jax", "--model resnet20 --offline"), SHORT)
    _assert_trained(out, run_command.work / "runs" / "cifar10_offline" / "resnet20")
    assert "fallback" not in out.stdout, out.describe()


@pytest.mark.slow
def test_main_job_on_jax_over_two_cpu_devices(run_command):
    out = _run(run_command, _documented("XLA_FLAGS=", "--strategy mirrored"), SHORT)
    _assert_trained(out, run_command.work / "runs" / "cifar10_offline" / "resnet20")
    assert "fallback: BN statistics are over the global batch" in out.stdout, out.describe()  # 2 devices


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_main_job_on_torch(run_command):
    out = _run(run_command, _documented("KERAS_BACKEND=torch", "--offline"), SHORT)
    _assert_trained(out, run_command.work / "runs" / "cifar10_offline" / "resnet20")


@pytest.mark.slow
def test_backend_benchmark_shortened(run_command):
    out = run_command("python benchmarks/backend_throughput.py --backends tensorflow,jax --workloads resnet20_train "
                      "--batch_cifar 8 --steps 1 --rounds 1", timeout=900)
    assert out.returncode == 0, out.describe()
    assert re.search(r"\| resnet20_train \| jax \| [\d.]+ \| [\d.]+ \|", out.stdout), out.stdout
