"""The library on every Keras backend (issue 13): each backend in its own process, since Keras
reads KERAS_BACKEND once, at import. JAX is a test dependency (CI runs these); PyTorch's wheels are
large, so its tests skip when it is not installed (`pip install ".[torch]"`)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from keras_resnet_paper.models.zoo import get_model
from keras_resnet_paper.training import backends

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parents[1]
HAS = {name: importlib.util.find_spec(name) is not None for name in ("jax", "torch")}
BACKENDS = [
    pytest.param(b, marks=pytest.mark.skipif(not HAS[b], reason=f"{b} is not installed")) for b in ("jax", "torch")
]


def run_on(
    backend: str, command: str, args: dict | None = None, *, env: dict | None = None, timeout: float = 600
) -> dict:
    """`backend_process.py COMMAND` on `backend`; its RESULT dict."""
    environment = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, str(HERE / "backend_process.py"), command, json.dumps(args or {})],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=ROOT,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.parametrize("backend", BACKENDS)
def test_pure_keras_parts_import_without_tensorflow(backend):
    """The models, the optimizer, the schedules, the callbacks, the task and PadCropFlip."""
    result = run_on(backend, "imports")
    assert not result["tensorflow_imported"], result
    assert result["augmented_changes_images"] and "PaperSGD" in result["parts"]


# (model, builder arguments): CIFAR options A/B/C, a plain net, ImageNet basic and bottleneck, nested
ZOO = [
    ("resnet20", {}),
    ("resnet20", {"shortcut": "B"}),
    ("resnet20", {"shortcut": "C"}),
    ("plain20", {}),
    ("resnet18", {"input_shape": (64, 64, 3), "classes": 10}),
    ("resnet50", {"input_shape": (64, 64, 3), "classes": 10, "nested": True}),
]


@pytest.mark.slow  # 45-85 s: six models built on TensorFlow, compiled again on the backend
@pytest.mark.parametrize("backend", BACKENDS)
def test_models_give_tensorflows_outputs_with_its_weights(backend, tmp_path):
    """Every family of the zoo, weights saved on TensorFlow, outputs on `backend` (BN in inference)."""
    rng = np.random.default_rng(0)
    expected = {}
    for i, (name, kwargs) in enumerate(ZOO):
        model = get_model(name, **kwargs)
        for variable in model.non_trainable_variables:  # non-trivial BN statistics
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype("float32"))
        model.save_weights(tmp_path / f"{i}.weights.h5")
        x = rng.normal(size=(2, *model.input_shape[1:])).astype("float32")
        np.save(tmp_path / f"{i}.x.npy", x)
        expected[i] = model.predict(x, verbose=0)
    files = [(str(tmp_path / f"{i}.weights.h5"), str(tmp_path / f"{i}.x.npy")) for i in range(len(ZOO))]
    run_on(backend, "outputs", {"models": [[name, kwargs, *f] for (name, kwargs), f in zip(ZOO, files)]})
    for i, (name, kwargs) in enumerate(ZOO):
        np.testing.assert_allclose(
            np.load(files[i][1] + ".out.npy"), expected[i], atol=1e-5, err_msg=f"{name} {kwargs}"
        )


def test_strategies_a_backend_lacks_are_refused_naming_the_ones_that_have_them():
    for strategy, backend in (("mirrored", "torch"), ("tpu", "jax"), ("tpu", "torch")):
        with pytest.raises(ValueError, match=f"--strategy={strategy} runs on KERAS_BACKEND=tensorflow"):
            backends._check_supported(strategy, backend)
    with pytest.raises(
        ValueError, match="--strategy=multi_worker runs on KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax"
    ):
        backends._check_supported("multi_worker", "torch")
    backends._check_supported("multi_worker", "jax")
    backends._check_supported("default", "torch")
    with pytest.raises(ValueError, match="choose one of"):
        backends._check_supported("horovod", "jax")


# ------------------------------------------------------------------------------------- training
@pytest.mark.slow  # about 40 s
def test_jax_data_parallel_over_two_host_devices():
    """keras.distribution.DataParallel over 2 CPU devices: the variables live on both, the loss
    falls, BN's global-batch statistics are said (a fallback note)."""
    if not HAS["jax"]:
        pytest.skip("jax is not installed")
    result = run_on(
        "jax",
        "train",
        {"model": "resnet8", "options": {"strategy": "mirrored", "iterations": 24, "eval_every": 12, "batch_size": 32}},
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
    assert result["devices"] == 2 and result["steps"] == 24, result
    assert result["losses"][-1] < result["losses"][0], result
    assert any("global batch" in note for note in result["fallbacks"]), result


def _jax_processes(argv: list[str], n: int = 2, **popen) -> list[subprocess.Popen]:
    """`argv` as the `n` processes of one JAX cluster on 127.0.0.1 (Keras' cluster variables)."""
    with socket.socket() as free:  # the coordinator's port
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    environment = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
        "KERAS_DISTRIBUTION_NUM_PROCESSES": str(n),
    }
    return [
        subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**environment, "KERAS_DISTRIBUTION_PROCESS_ID": str(i)},
            **popen,
        )
        for i in range(n)
    ]


@pytest.mark.slow  # about 90 s
def test_jax_multi_process_run_stops_together_resumes_agrees_and_evaluates_the_whole_test_set(tmp_path):
    """Two JAX processes joined by Keras' cluster variables (`--strategy multi_worker`). SIGTERM to
    process 1 only: both stop at the same step (exit 143; the next agreement, step 10, or 20 on a
    loaded machine) and process 0 checkpoints it. The same run
    resumes there; both end with the same weights, the loss falls, and the final test metrics,
    from padded evaluation batches split over the processes, are what one TensorFlow process gets
    from the final weights."""
    if not HAS["jax"]:
        pytest.skip("jax is not installed")
    run_dir = tmp_path / "run"
    first = _jax_processes(
        [
            sys.executable,
            "-m",
            "keras_resnet_paper.train",
            "--recipe",
            "cifar10_offline",
            "--model",
            "resnet8",
            "--strategy",
            "multi_worker",
            "--iterations",
            "24",
            "--eval_every",
            "3",
            "--batch_size",
            "32",
            "--verbose",
            "2",
            "--notensorboard",
            "--model_dir",
            str(run_dir),
        ]
    )
    for line in first[1].stdout:
        if line.startswith("iteration  3/24"):
            first[1].send_signal(signal.SIGTERM)
            break
    ends = [p.communicate(timeout=600) for p in first]
    assert [p.returncode for p in first] == [143, 143], ends[0][1][-3000:] + ends[1][1][-3000:]
    stopped = json.loads((run_dir / "checkpoints" / "checkpoint.json").read_text())["step"]
    assert stopped in (10, 20) and all(f"at step {stopped}" in err for _, err in ends), (stopped, ends[1][1][-2000:])

    args = {
        "model": "resnet8",
        "model_dir": str(run_dir),
        "options": {"strategy": "multi_worker", "iterations": 24, "eval_every": 3, "batch_size": 32},
    }
    procs = _jax_processes([sys.executable, str(HERE / "backend_process.py"), "train", json.dumps(args)])
    outs = [p.communicate(timeout=600) for p in procs]
    results = []
    for p, (out, err) in zip(procs, outs):
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        assert p.returncode == 0 and lines, f"exit {p.returncode}\n{out[-2000:]}\n{err[-4000:]}"
        results.append(json.loads(lines[-1][len("RESULT ") :]))
    chief, worker = results
    assert chief["steps"] == worker["steps"] == 24 and chief["devices"] == 2, chief
    assert chief["trainable_sum"] == worker["trainable_sum"] and chief["final"] == worker["final"]
    assert chief["losses"][-1] < chief["losses"][0], chief
    environment = json.loads((run_dir / "run.json").read_text())["environment"]
    assert environment["backend"] == "jax" and environment["replicas"] == len(environment["devices"]) == 2

    from keras_resnet_paper.training.run_config import resolve_run
    from keras_resnet_paper.training.task import ImageClassificationTask

    task = ImageClassificationTask(resolve_run("cifar10_offline", "resnet8", batch_size=32))
    data = task.build_inputs()
    model = task.build_model(data)
    model.compile(loss=task.build_losses(), metrics=task.build_metrics())
    model.load_weights(run_dir / "final.weights.h5")
    size = sum(int(y.shape[0]) for _, y in data.test)
    assert size % 32, "the offline test set should end in a partial batch"
    assert chief["final"] == pytest.approx(model.evaluate(data.test, verbose=0, return_dict=True), rel=1e-5)


@pytest.mark.slow  # about 45 s each
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_short_fit_on_one_device(backend):
    result = run_on(
        backend,
        "train",
        {"model": "resnet8", "options": {"strategy": "default", "iterations": 24, "eval_every": 12, "batch_size": 32}},
    )
    assert result["devices"] == 1 and result["steps"] == 24, result
    assert result["losses"][-1] < result["losses"][0], result


@pytest.mark.slow  # about 90 s
def test_jax_main_job_is_killed_and_resumes(tmp_path):
    """The command line on JAX: SIGTERM after the first evaluation is exit 143 with a checkpoint;
    the same command resumes there, the loss falls, the report and the plot are written."""
    if not HAS["jax"]:
        pytest.skip("jax is not installed")
    command = [
        sys.executable,
        "-m",
        "keras_resnet_paper.train",
        "--recipe",
        "cifar10_paper",
        "--model",
        "resnet8",
        "--offline",
        "--iterations",
        "40",
        "--eval_every",
        "20",
        "--batch_size",
        "32",
        "--notensorboard",
        "--model_dir",
        str(tmp_path / "run"),
    ]
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    for line in first.stdout:
        if line.startswith("iteration 20/40"):
            first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=600) == 143, first.stderr.read()[-3000:]
    again = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Resuming from step 2" in again.stdout and "resumed at 2" in again.stdout, again.stdout
    rows = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    assert [int(float(r["iteration"])) for r in rows] == [20, 40] and float(rows[1]["loss"]) < float(rows[0]["loss"])
    assert (tmp_path / "run" / "report.md").exists() and (tmp_path / "run" / "error_curves.png").exists()
