"""The README's commands that pick a backend, run as a user runs them (tests/journeys/journey.py),
shortened: the main job on JAX, on JAX over two CPU devices, on PyTorch (skipped without it), the
many-machine run on JAX as two local processes, and the backend benchmark."""

from __future__ import annotations

import importlib.util
import re
import shlex
import socket
import subprocess

import pytest
from journey import REPO, argv_of, assert_one_line_error, offline_env
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
    out = run_command(
        "python benchmarks/backend_throughput.py --backends tensorflow,jax --workloads resnet20_train "
        "--batch_cifar 8 --steps 1 --rounds 1",
        timeout=900,
    )
    assert out.returncode == 0, out.describe()
    assert re.search(r"\| resnet20_train \| jax \| [\d.]+ \| [\d.]+ \|", out.stdout), out.stdout


def _cluster_variables() -> dict[str, str]:
    """The README's `export KERAS_DISTRIBUTION_...` line (for process 0)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    (line,) = [l for l in text.splitlines() if l.startswith("export KERAS_DISTRIBUTION_")]
    return dict(word.split("=", 1) for word in shlex.split(line)[1:])


@pytest.mark.slow  # about 2 minutes: two JAX processes on 2 CPU cores
def test_many_machines_on_jax_as_two_local_processes(run_command, tmp_path):
    """The README's JAX many-machine command, its cluster variables pointed at 127.0.0.1, on the
    offline data and shortened: both processes finish; process 0 alone writes the report."""
    variables = _cluster_variables()
    assert (
        set(variables)
        == {"KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID"}
        and variables["KERAS_DISTRIBUTION_PROCESS_ID"] == "0"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model_dir = tmp_path / "shared" / "runs" / "resnet50_jax"
    command = _documented("KERAS_BACKEND=jax", "--model_dir /shared/runs/resnet50_jax")
    env, argv = split_env(
        command.replace("/shared/runs/resnet50_jax", str(model_dir)).replace("--batch_size 256", "--batch_size 16")
    )
    argv += ["--offline", "--model", "resnet8", "--iterations", "4", "--eval_every", "2", "--notensorboard"]
    procs = [
        subprocess.Popen(
            argv,
            cwd=run_command.work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=offline_env(
                {
                    **env,
                    **variables,
                    "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
                    "KERAS_DISTRIBUTION_PROCESS_ID": str(i),
                }
            ),
        )
        for i in range(int(variables["KERAS_DISTRIBUTION_NUM_PROCESSES"]))
    ]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr[-3000:]
        assert "Done: resnet8" in stdout, stdout
    assert (model_dir / "report.json").exists() and (model_dir / "final.weights.h5").exists()
    assert not (model_dir / "report.json.tmp").exists()


def test_many_machines_on_jax_without_a_cluster_is_one_line(run_command):
    command = _documented("KERAS_BACKEND=jax", "--model_dir /shared/runs/resnet50_jax")
    out = _run(
        run_command, command.replace("/shared/runs/resnet50_jax", "runs/jax_cluster"), ["--offline"], timeout=300
    )
    assert_one_line_error(out, "--strategy=multi_worker on JAX needs the cluster", "KERAS_DISTRIBUTION_JOB_ADDRESSES")
    assert not (run_command.work / "runs").exists()
