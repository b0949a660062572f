"""Every command of the README, run as a user runs it on a fresh machine without a network.

`COVERED` maps each documented command to the test that runs it; a command added to the README
without a journey fails `test_every_readme_command_has_a_journey`.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest
from journey import REPO, assert_one_line_error
from readme_commands import readme_commands

MAIN_JOB = "python -m keras_resnet_paper.train --recipe cifar10_paper --model resnet20 --offline"
PAPER_RUN = "python -m keras_resnet_paper.train --recipe cifar10_paper --model resnet110"
IMAGENET_RUN = (
    "python -m keras_resnet_paper.train --recipe imagenet_paper --model resnet50 --data_dir "
    "~/tensorflow_datasets --strategy mirrored --precision mixed_float16 --jit_compile --steps_per_execution 10"
)
MULTI_WORKER_RUN = (
    "python -m keras_resnet_paper.train --recipe imagenet_paper --model resnet50 --strategy multi_worker "
    "--batch_size 256 --model_dir /shared/runs/resnet50"
)
SHORT = ["--iterations", "20", "--eval_every", "10", "--batch_size", "32", "--notensorboard"]

#: README command -> the test that runs it ("module::test" for tests outside this file).
COVERED = {
    MAIN_JOB: "test_main_job_shortened",
    "python -m keras_resnet_paper.export --model_dir runs/cifar10_offline/resnet20 --format tflite --quantize int8": (
        "tests/journeys/test_export_command.py"
    ),
    "python -m keras_resnet_paper.export --model_dir runs/cifar10_offline/resnet20 --format onnx": (
        "tests/journeys/test_export_command.py"
    ),
    "python -m keras_resnet_paper.export --model resnet50 --weights imagenet --format tflite": (
        "tests/journeys/test_export_command.py"
    ),
    "ruff check .": "the README's test command: .ci/run runs it",
    "ruff format --check .": "the README's test command: .ci/run runs it",
    "python -m pytest": "the README's test command: .ci/run runs it",
    "python -m pytest -m slow": "the README's test command: .ci/run runs it",
    "python -m pytest -m paper": "tests/journeys/test_reproduce.py",
    PAPER_RUN: "test_paper_run_without_network",
    IMAGENET_RUN: "test_imagenet_run_without_data",
    MULTI_WORKER_RUN: "test_multi_worker_run_on_two_local_workers",
    "python -m keras_resnet_paper.train --list_recipes": "test_recipes_listed_and_printed",
    "python -m keras_resnet_paper.train --recipe cifar10_paper --print_recipe --override boundaries=30000,45000": "test_recipes_listed_and_printed",
    "python benchmarks/input_pipeline.py": "test_benchmarks_run_shortened",
    "python benchmarks/model_throughput.py": "test_benchmarks_run_shortened",
    "python benchmarks/train_throughput.py --batch_imagenet 128 --batch_cifar 128 --steps 50": "test_benchmarks_run_shortened",
    "python benchmarks/torch_reader.py": "test_torch_reader_benchmark",
    "python benchmarks/quantized_latency.py --model resnet50": "test_benchmarks_run_shortened",
    **{
        command: "tests/journeys/test_backend_commands.py"
        for command in (
            "KERAS_BACKEND=jax python -m keras_resnet_paper.train --recipe cifar10_paper --model resnet20 --offline",
            "XLA_FLAGS=--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax python -m keras_resnet_paper.train "
            "--recipe cifar10_paper --model resnet20 --offline --strategy mirrored",
            "KERAS_BACKEND=torch python -m keras_resnet_paper.train --recipe cifar10_paper --model resnet20 --offline",
            "KERAS_BACKEND=jax python -m keras_resnet_paper.train --recipe imagenet_paper --model resnet50 --strategy "
            "multi_worker --batch_size 256 --model_dir /shared/runs/resnet50_jax",
            "python benchmarks/backend_throughput.py",
        )
    },
    "python examples/transfer_learning.py": "tests/examples/test_transfer_learning.py",
    "python examples/transfer_learning.py --offline": "tests/examples/test_transfer_learning.py",
    "python examples/detection.py": "tests/examples/test_detection.py",
    **{
        command: "tests/journeys/test_reproduce.py"
        for command in (
            "python -m keras_resnet_paper.reproduce --list",
            "python -m keras_resnet_paper.reproduce table1",
            "python -m keras_resnet_paper.reproduce fig6 --offline",
            "python -m keras_resnet_paper.reproduce fig7 --offline",
            "python -m keras_resnet_paper.reproduce fig6 --runs 5 --data_dir ~/data/cifar-10-binary.tar.gz --gpus 0,1,2,3",
            "python -m keras_resnet_paper.reproduce table3 --data_dir ~/tensorflow_datasets --gpus 0,1,2,3,4,5,6,7 "
            "--devices_per_run 2",
            "python -m keras_resnet_paper.reproduce fig6 --offline --shard 0/2 --grid_dir /shared/grids/cifar10_offline",
            "python -m keras_resnet_paper.reproduce fig6 --offline --shard 1/2 --grid_dir /shared/grids/cifar10_offline",
            "python -m keras_resnet_paper.reproduce fig6 --offline --report_only --grid_dir /shared/grids/cifar10_offline",
        )
    },
}


def test_every_readme_command_has_a_journey():
    commands = readme_commands()
    missing = [c for c in commands if c not in COVERED]
    assert not missing, f"README commands without a journey test (add them to COVERED): {missing}"
    here = pathlib.Path(__file__).read_text()
    for command, test in COVERED.items():
        if test.startswith("tests/"):
            assert (REPO / test).exists(), (command, test)
        elif test.startswith("test_"):
            assert f"def {test}(" in here, (command, test)
    assert MAIN_JOB in commands


def _files(run_dir: pathlib.Path) -> set[str]:
    return {p.name for p in run_dir.rglob("*") if p.is_file()}


def test_main_job_shortened(run_command):
    """The main job as documented, 20 iterations, its output a pipe (as in a log file): a line per
    evaluation, one summary, the files."""
    out = run_command(MAIN_JOB.split() + SHORT, timeout=900)
    assert out.returncode == 0, out.describe()
    run_dir = run_command.work / "runs" / "cifar10_offline" / "resnet20"
    assert {
        "report.md",
        "report.json",
        "history.csv",
        "final.weights.h5",
        "error_curves.png",
        "run.json",
        "best.weights.h5",
    } <= _files(run_dir), out.describe()
    lines = out.stdout.splitlines()
    assert [l.split("  ")[0] for l in lines if l.startswith("iteration")] == ["iteration 10/20", "iteration 20/20"]
    assert sum(l.startswith("Done: resnet20") for l in lines) == 1, out.describe()
    assert "\r" not in out.stdout and "\x1b" not in out.stdout  # not a terminal: no bar, no colours
    assert "…" not in out.stdout + out.stderr  # nor the live lines of its phases (start-up, evaluation)
    # a log file has one line per evaluation, then the summary (merged from test_output.py)
    shown = [l for l in lines if l.strip()]
    assert shown[0].startswith("iteration 10/20") and shown[0].endswith("best"), shown
    assert shown[1].startswith("iteration 20/20") and shown[2].startswith("Done: resnet20"), shown
    assert len(out.stdout) < 2000  # 20 iterations: a few hundred bytes, not a progress-bar dump
    report = json.loads((run_dir / "report.json").read_text())
    summary = next(l for l in lines if "test top-1 error" in l)
    assert f"{100 * report['test_top1_error']:.2f}%" in summary


@pytest.mark.slow
def test_main_job_verbatim(run_command):
    """The README's first command, unshortened: 300 iterations on the offline digits reach a low
    test error (merged: training/test_training_runs.py's offline-recipe accuracy check, < 8%)."""
    out = run_command(MAIN_JOB, timeout=1500)
    assert out.returncode == 0, out.describe()
    report = json.loads((run_command.work / "runs" / "cifar10_offline" / "resnet20" / "report.json").read_text())
    assert report["iterations"] == 300 and report["test_top1_error"] < 0.08, report


def test_paper_run_without_network(run_command):
    """The paper's CIFAR-10 run on a machine without a network: one line, what to do, exit 2."""
    out = run_command(PAPER_RUN, timeout=300)
    assert_one_line_error(out, "'cifar10'", "--data_dir", "--offline", "cifar-10-binary.tar.gz")
    assert not (run_command.work / "runs").exists(), "a failed run leaves no folder behind"


def test_imagenet_run_without_data(run_command):
    """ImageNet with an empty data_dir: tfds needs the manual download; one line, exit 2."""
    out = run_command(IMAGENET_RUN, timeout=300, env={"HOME": str(run_command.work)})
    assert_one_line_error(out, "'imagenet2012'", "--data_dir")
    assert not (run_command.work / "runs").exists()


@pytest.mark.slow
def test_multi_worker_run_on_two_local_workers(run_command, tmp_path):
    """The README's multi-machine command on two local processes (TF_CONFIG on 127.0.0.1), on the
    offline data and shortened. SIGTERM to worker 1 only: both workers stop at the same step (exit
    143) and the chief checkpoints it; the same command resumes, both finish, the chief alone
    writes the report."""
    import signal
    import socket
    import subprocess

    from journey import argv_of, offline_env

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    model_dir = tmp_path / "shared" / "runs" / "resnet50"
    command = MULTI_WORKER_RUN.replace("/shared/runs/resnet50", str(model_dir)).replace(
        "--batch_size 256", "--batch_size 16"
    )
    argv = argv_of(command) + [
        "--offline",
        "--model",
        "resnet8",
        "--iterations",
        "24",
        "--eval_every",
        "4",
        "--notensorboard",
    ]

    def workers():
        return [
            subprocess.Popen(
                argv,
                cwd=run_command.work,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=offline_env(
                    {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
                ),
            )
            for i in range(2)
        ]

    first = workers()
    for line in first[1].stdout:
        if line.startswith("iteration  4/24"):
            first[1].send_signal(signal.SIGTERM)
            break
    ends = [p.communicate(timeout=900) for p in first]
    assert [p.returncode for p in first] == [143, 143], ends[0][1][-3000:] + ends[1][1][-3000:]
    step = json.loads((model_dir / "checkpoints" / "checkpoint.json").read_text())["step"]
    assert step in (10, 20)  # the workers agree every 10 steps (SignalStop.AGREE_EVERY); 20 if the signal came late
    assert all(f"Stopped by SIGTERM at step {step}:" in err for _, err in ends), [err[-1500:] for _, err in ends]
    procs = workers()
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr[-3000:]
        assert f"Resuming from step {step} of 24" in stdout, stdout
    assert "Done: resnet8" in outs[0][0]
    assert (model_dir / "report.json").exists() and (model_dir / "final.weights.h5").exists()


def test_recipes_listed_and_printed(run_command):
    out = run_command("python -m keras_resnet_paper.train --list_recipes", timeout=300)
    assert out.returncode == 0, out.describe()
    assert [l.split()[0] for l in out.stdout.splitlines() if l.strip()] == [
        "cifar10_holdout",
        "cifar10_offline",
        "cifar10_paper",
        "imagenet_paper",
    ]
    out = run_command(
        "python -m keras_resnet_paper.train --recipe cifar10_paper --print_recipe --override boundaries=30000,45000",
        timeout=300,
    )
    assert out.returncode == 0, out.describe()
    assert re.search(r"boundaries\W+\(?30000, 45000\)?", out.stdout), out.stdout


def test_torch_reader_benchmark(run_command):
    """Without torch (as in CI) one line saying what it needs; with it, a short run on ResNet-18."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        out = run_command("python benchmarks/torch_reader.py", timeout=300)
        assert_one_line_error(out, "torch_reader.py: error:", "pip install torch")
        return
    out = run_command("python benchmarks/torch_reader.py --model resnet18 --rounds 1", timeout=600)
    assert out.returncode == 0, out.describe()
    assert [l.split()[0] for l in out.stdout.splitlines() if " ratio " in l] == ["zip", "legacy"], out.stdout


@pytest.mark.slow
def test_benchmarks_run_shortened(run_command):
    """The benchmark commands, shortened to a few images and steps: they run and report ratios."""
    out = run_command(
        "python benchmarks/input_pipeline.py --num_files 8 --images 64 --warmup 32 --batch_size 8 --repeats 1",
        timeout=600,
    )
    assert out.returncode == 0, out.describe()
    assert "decode" in out.stdout
    out = run_command(
        "python benchmarks/model_throughput.py --depths 50,20 --batch_size 1 --image_size 64 --steps 1 --rounds 1",
        timeout=600,
    )
    assert out.returncode == 0, out.describe()
    assert "keras.applications" in out.stdout and "ResNet-20 (32px): ours" in out.stdout
    out = run_command(
        "python benchmarks/train_throughput.py --models resnet20 --precisions float32 --jit off "
        "--batch_cifar 8 --steps 2 --warmup 1",
        timeout=600,
    )
    assert out.returncode == 0, out.describe()
    assert "resnet20" in out.stdout
    out = run_command(
        "python benchmarks/quantized_latency.py --model resnet20 --calibration 4 --repeats 2", timeout=600
    )
    assert out.returncode == 0, out.describe()
    assert re.search(r"^resnet20 TFLite, .* int8 [\d.]+x faster; top-1 agreement", out.stdout, re.M), out.describe()


# The README's Python blocks, the training one among them: test_readme_python.py.
