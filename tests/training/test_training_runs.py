"""End-to-end training on the offline digits data (docs/paper.md, 'Recipes in the code': cifar10_offline).

Fast: a short run learns, the NaN stop names its step, the CLI lists/prints recipes.
Slow (`-m slow`): the offline recipe reaches high accuracy, MirroredStrategy over 2 logical CPUs
matches one device, 2 MultiWorkerMirroredStrategy processes on localhost agree, and a run killed
mid-way resumes from its checkpoint and ends where an uninterrupted run ends.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest

from keras_resnet_paper.training import NonFiniteLossError, train
from keras_resnet_paper.training.checkpoints import NonFiniteStateError

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, "train_subprocess.py")
ROOT = os.path.dirname(os.path.dirname(HERE))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}


def _results(stdout: str) -> list[dict]:
    return [json.loads(line[len("RESULT ") :]) for line in stdout.splitlines() if line.startswith("RESULT ")]


def _helper(runs, timeout=300, env=None):
    proc = subprocess.run(
        [sys.executable, HELPER, json.dumps(runs)], capture_output=True, text=True, timeout=timeout, env=env or ENV
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _results(proc.stdout)


def test_short_offline_run_learns(offline_run):
    result, folder = offline_run
    assert result.steps == 100 and result.recipe.boundaries == (50, 75)
    assert result.final["top1_error"] < 0.4  # chance is 0.9
    rows = result.history
    assert [r["iteration"] for r in rows] == [50.0, 100.0]
    assert rows[0]["lr"] == pytest.approx(0.1 * 64 / 128 * 0.1)  # linear scaling, then /10 at 50
    for name in ("history.csv", "error_curves.png", "report.json", "final.weights.h5", "run.json"):
        assert (folder / name).exists(), name
    assert json.loads((folder / "run.json").read_text())["recipe"] == json.loads(result.config.to_json())["recipe"]
    probabilities = result.model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)  # softmax for inference, logits for training
    logits = result.training_model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    np.testing.assert_allclose(probabilities, keras.ops.convert_to_numpy(keras.ops.softmax(logits)), rtol=1e-5)
    assert (folder / "checkpoints" / "best.weights.h5").exists()


def test_run_json_records_the_backend_devices_machine_and_versions(offline_run):
    """run.json: beside the resolved run, the environment of the session that wrote it (here, beside
    the other reader of `offline_run`: one worker builds it once)."""
    import platform

    import keras

    environment = json.loads((offline_run[1] / "run.json").read_text())["environment"]
    assert environment["backend"] == "tensorflow" and environment["replicas"] == 1
    import tensorflow as tf

    assert len(environment["devices"]) == 1
    assert len(environment["accelerators"]) == len(tf.config.list_physical_devices("GPU"))
    assert environment["cpu_cores"] == os.cpu_count() and environment["cpu"]
    assert environment["versions"]["python"] == platform.python_version()
    assert environment["versions"]["keras"] == keras.__version__


def test_nan_loss_stops_the_run_at_its_step(tmp_path):
    # lr 1e4 diverges within a few steps: the loss is seen NaN first, or the weights are, by the
    # checkpoint of an evaluation, whichever comes first for these (unseeded) initial weights
    with pytest.raises((NonFiniteLossError, NonFiniteStateError), match=r"at step \d+") as info:
        train(
            "cifar10_offline",
            "resnet8",
            model_dir=str(tmp_path / "nan"),
            batch_size=32,
            iterations=30,
            lr=1e4,
            verbose=0,
            write_report=False,
        )
    step = info.value.step
    assert 1 <= step < 30
    from keras_resnet_paper.training import checkpoints as ckpts

    steps = ckpts.checkpoint_steps(str(tmp_path / "nan" / "checkpoints"))
    assert all(s < step - 1 for s in steps)  # the weights that made the diverged loss are set aside
    if steps:
        assert json.load(open(tmp_path / "nan" / "checkpoints" / "checkpoint.json"))["step"] == steps[0]


def _cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "keras_resnet_paper.train", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        cwd=ROOT,
    )


def test_cli_lists_prints_and_rejects(train_command):
    """In this process (the documented `--list_recipes` and `--print_recipe` commands run as
    subprocesses in journeys/test_readme_commands.py)."""
    listed = train_command("--list_recipes")
    assert listed.returncode == 0 and "cifar10_paper" in listed.stdout and "imagenet_paper" in listed.stdout
    shown = train_command(
        "--recipe",
        "cifar10_paper",
        "--print_recipe",
        "--override",
        "boundaries=100,200",
        "--override",
        "iterations=400",
        "--iterations",
        "300",
    )
    assert shown.returncode == 0, shown.describe()
    assert "iterations                            = 300" in shown.stdout
    assert "boundaries                            = (75, 150)" in shown.stdout  # overridden, then shortened
    bad = train_command("--recipe", "nope", "--print_recipe")
    assert bad.returncode == 2 and "error: Unknown recipe 'nope'; recipes are" in bad.stderr


@pytest.mark.slow
def test_mirrored_two_cpus_matches_one_device():
    common = {
        "run": "cifar10_offline",
        "model_name": "resnet8",
        "batch_size": 32,
        "iterations": 6,
        "eval_every": 3,
        "deterministic": True,
        "verbose": 0,
        "write_report": False,
        "cpus": 2,
    }
    one, mirrored, per_replica_bn = _helper(
        [
            {**common, "strategy": "default"},
            {**common, "strategy": "mirrored", "sync_bn": True},
            {**common, "strategy": "mirrored"},
        ]
    )
    assert len(one["losses"]) == 6
    # Same images, same initial weights: equal up to float32 summation order (the synchronised BN
    # moments are E[x^2] - E[x]^2 over the replicas), which grows slowly with the steps.
    assert mirrored["losses"][0] == pytest.approx(one["losses"][0], rel=1e-6)
    np.testing.assert_allclose(mirrored["losses"], one["losses"], rtol=1e-3)
    assert mirrored["trainable_sum"] == pytest.approx(one["trainable_sum"], rel=1e-3)
    # BN statistics per replica (the paper's multi-GPU BN) change the numbers a little, not the course.
    np.testing.assert_allclose(per_replica_bn["losses"], one["losses"], rtol=0.1)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_two_processes_agree(tmp_path):
    cluster = {"worker": [f"localhost:{p}" for p in _free_ports(2)]}
    run = {
        "run": "cifar10_offline",
        "model_name": "resnet8",
        "batch_size": 32,
        "iterations": 6,
        "eval_every": 3,
        "deterministic": True,
        "verbose": 0,
        "strategy": "multi_worker",
        "model_dir": str(tmp_path / "mw"),
    }
    procs = []
    for index in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(
            subprocess.Popen(
                [sys.executable, HELPER, json.dumps(run)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    chief, worker = (_results(out)[0] for out, _ in outs)
    assert chief["steps"] == worker["steps"] == 6
    # Trainable weights are all-reduced every step; BN moving statistics stay per worker (as per GPU).
    assert chief["trainable_sum"] == pytest.approx(worker["trainable_sum"], rel=1e-7)
    assert chief["final"] == pytest.approx(worker["final"], rel=1e-5)
    assert chief["losses"][-1] < chief["losses"][0]
    assert (tmp_path / "mw" / "history.csv").exists()  # written by the chief only


def _h5_arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


@pytest.mark.slow
def test_killed_run_resumes_and_ends_like_an_uninterrupted_one(tmp_path):
    args = [
        "--recipe",
        "cifar10_offline",
        "--model",
        "resnet8",
        "--batch_size",
        "32",
        "--iterations",
        "40",
        "--eval_every",
        "10",
        "--override",
        "checkpoint_every=4",
        "--deterministic",
        "--verbose",
        "0",
        "--notensorboard",
    ]
    whole = _cli(*args, "--model_dir", str(tmp_path / "whole"), timeout=300)
    assert whole.returncode == 0, whole.stderr[-3000:]

    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "keras_resnet_paper.train", *args, "--model_dir", str(run_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=ROOT)
    pointer = run_dir / "checkpoints" / "checkpoint.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if pointer.exists() and json.loads(pointer.read_text())["step"] >= 14:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(pointer.read_text())["step"]
    assert 14 <= killed_at < 40 and not (run_dir / "final.weights.h5").exists()
    before_kill = json.loads((run_dir / "checkpoints" / f"ckpt-{killed_at:09d}" / "state.json").read_text())
    assert before_kill["training_time_s"] > 0

    resumed = _cli(*args, "--model_dir", str(run_dir), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming from step {killed_at} of 40" in resumed.stdout
    a, b = _h5_arrays(tmp_path / "whole" / "final.weights.h5"), _h5_arrays(run_dir / "final.weights.h5")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=1e-6, err_msg=name)
    report = json.load(open(run_dir / "report.json"))
    # the run's time counts the killed session up to its last checkpoint
    assert report["total_wall_time_s"] == pytest.approx(report["wall_time_s"] + before_kill["training_time_s"], abs=0.2)
    assert report["test_top1_error"] == pytest.approx(
        json.load(open(tmp_path / "whole" / "report.json"))["test_top1_error"]
    )
    assert [r["iteration"] for r in _rows(run_dir)] == [10.0, 20.0, 30.0, 40.0]


def _rows(run_dir):
    import csv

    with open(run_dir / "history.csv") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.mark.slow
def test_mixed_precision_xla_and_bn_recalibration_run(tmp_path):
    result = train(
        "cifar10_offline",
        "resnet8",
        batch_size=16,
        iterations=4,
        eval_every=2,
        precision="mixed_float16",
        jit_compile=True,
        recalibrate_bn=True,
        overrides={"recalibrate_bn_batches": 3},
        verbose=0,
        write_report=False,
    )
    import keras

    assert isinstance(result.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert result.model.get_layer("predictions").compute_dtype == "float32"
    assert result.model.get_layer("conv1_conv").compute_dtype == "float16"
    assert np.isfinite(result.final["loss"]) and result.steps == 4
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def _image_folder(root, per_class):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("val", 2)):
        for label in ("cat", "dog"):
            os.makedirs(root / split / label)
            for i in range(n):
                pixels = rng.integers(0, 256, (48 + 8 * i, 64, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / label / f"{i}.jpg")
    return root


@pytest.mark.slow  # about 35 s on 2 quiet cores: ResNet-18 at 224x224, training, evaluation and 10 crops
def test_imagenet_recipe_runs_on_an_image_folder(tmp_path):
    folder = _image_folder(tmp_path / "images", per_class=2)
    result = train(
        "imagenet_paper",
        "resnet18",
        model_dir=str(tmp_path / "run"),
        batch_size=2,
        iterations=2,
        eval_every=2,
        overrides={"dataset": str(folder)},
        verbose=0,
        ten_crop=True,
    )
    assert "10-crop (Sec. 3.4): top-1 error" in (tmp_path / "run" / "report.md").read_text()
    assert result.steps == 2 and result.recipe.plateau and result.model.output_shape == (None, 2)
    from keras_resnet_paper import data as data_lib
    from keras_resnet_paper.evaluation import evaluate_ten_crop

    val = data_lib.imagenet_datasets(str(folder), 2)
    again = evaluate_ten_crop(result.model, val.validation_images, mean=val.mean)
    assert result.final["ten_crop_top1_error"] == pytest.approx(again["top1_error"])
    assert result.final["ten_crop_top5_error"] == pytest.approx(again["top5_error"]) == 0.0  # 2 classes
    assert [r["iteration"] for r in result.history] == [2.0]
    assert result.history[0]["lr"] == pytest.approx(0.1 * 2 / 256)  # linear scaling down, no warm-up
    assert set(result.final) >= {"top1_error", "top5_error"}


def test_ten_crop_needs_imagenet_style_data():
    with pytest.raises(ValueError, match="ten_crop=True needs an ImageNet-style"):
        train("cifar10_offline", "resnet8", iterations=1, verbose=0, write_report=False, ten_crop=True)


def test_low_lr_warm_up_until_training_error_below_80_percent():
    import keras

    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((float(self.model.optimizer.learning_rate), float(logs["top1_error"])))

    # ResNet-110's warm-up (Sec. 4.2) given to ResNet-8 so that it runs in seconds.
    result = train(
        "cifar10_offline",
        "resnet8",
        batch_size=64,
        iterations=60,
        eval_every=10,
        verbose=0,
        overrides={"warmup_models": "resnet8", "boundaries": "1000"},
        extra_callbacks=[Record()],
        write_report=False,
    )
    full = 0.1 * 64 / 128
    switch = next(i for i, (_, err) in enumerate(seen) if err < 0.8)
    assert 0 < switch < 60 and result.steps == 60
    assert all(lr == pytest.approx(full / 10) for lr, _ in seen[:switch])  # 0.01 at the recipe's batch
    assert all(lr == pytest.approx(full) for lr, _ in seen[switch:])  # then 0.1, never back
