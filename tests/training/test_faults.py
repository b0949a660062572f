"""Fault injection (issue 14): no fault loses a usable checkpoint, traps the run or passes silently.

Fast: damaged checkpoints (truncated, zero bytes, random bytes inside, NaN tensors, unreadable
state.json) are skipped for the previous one with a line; a missing or garbage index is rebuilt;
pruning goes by step number; a model with NaN/inf variables is never checkpointed; kills at chosen
points of a checkpoint write (real SIGKILLs in a subprocess) leave a usable checkpoint; a full or
read-only disk (a tiny tmpfs where `mount` works, a folder under a file everywhere) is an error
with the previous checkpoint intact; the run folder's lock refuses a second run and is freed when
its holder is killed; `--override checkpoint_every=` applies to the offline paper recipe; a
diverging run (`lr=1e3`) leaves only finite checkpoints, and its re-run resumes from the newest.
Slow: SIGTERM/SIGINT during a CLI run checkpoint the current step, exit 143/130 and resume; the
CLI on a busy folder is one line and exit 2 before it touches it.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest
from test_callbacks import _model  # a small Dense model with the paper's SGD (this folder is on sys.path)
from test_training_runs import _cli  # the training command as a subprocess

from keras_resnet_paper.training import StepCheckpoint, restore_latest, train
from keras_resnet_paper.training import checkpoints as ckpts
from keras_resnet_paper.training.callbacks import NonFiniteLossError

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}


def _save_steps(directory, steps, keep=10):
    """Checkpoints of a model at `steps` (its weights differ at each: step s has kernel value s)."""
    model = _model()
    ckpt = StepCheckpoint(str(directory), keep=keep)
    ckpt.set_model(model)
    for step in steps:
        model.optimizer.iterations.assign(step)
        model.layers[0].kernel.assign(np.full((4, 8), float(step), "float32"))
        ckpt.save(step)
    return model


def _folder(directory, step):
    return directory / f"ckpt-{step:09d}"


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero(path):
    path.write_bytes(b"")


def _random_bytes(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def _nan_tensor_with_matching_checksum(path):
    with h5py.File(path, "r+") as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and o.dtype.kind == "f" else None)
        f[names[0]][...] = np.nan
    state_path = path.parent / ckpts.STATE
    state = json.loads(state_path.read_text())
    state["weights_sha256"] = ckpts._sha256(str(path))  # consistent checksum: only the finite check can catch it
    state_path.write_text(json.dumps(state))


def _truncated_state(path):
    state = path.parent / ckpts.STATE
    state.write_text(state.read_text()[:10])


@pytest.mark.parametrize(
    "damage", [_truncate, _zero, _random_bytes, _nan_tensor_with_matching_checksum, _truncated_state]
)
def test_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, capsys, damage):
    _save_steps(tmp_path, [4, 8])
    damage(_folder(tmp_path, 8) / ckpts.WEIGHTS)
    fresh = _model(seed=1)
    state = restore_latest(fresh, str(tmp_path))
    assert state["step"] == 4 and int(fresh.optimizer.iterations.numpy()) == 4
    np.testing.assert_array_equal(fresh.layers[0].kernel.numpy(), np.full((4, 8), 4.0))
    out = capsys.readouterr().out
    assert out.count("ckpt-000000008 is unusable") == 1, out
    assert not _folder(tmp_path, 8).exists() and (tmp_path / "ckpt-000000008.corrupt").exists()
    assert json.loads((tmp_path / ckpts.POINTER).read_text())["step"] == 4  # the index follows


def test_every_checkpoint_damaged_starts_from_zero_saying_so(tmp_path, capsys):
    _save_steps(tmp_path, [4])
    _zero(_folder(tmp_path, 4) / ckpts.WEIGHTS)
    fresh, initial = _model(seed=1), _model(seed=1).get_weights()
    assert restore_latest(fresh, str(tmp_path)) is None
    assert "starting from step 0" in capsys.readouterr().out
    for a, b in zip(fresh.get_weights(), initial):
        np.testing.assert_array_equal(a, b)  # no half-loaded weights


@pytest.mark.parametrize("index", [None, "", "{garbage", '{"latest": "ckpt-000000004", "step": 4}'])
def test_missing_garbage_or_stale_index_is_rebuilt_from_the_folders(tmp_path, capsys, index):
    _save_steps(tmp_path, [4, 8])
    pointer = tmp_path / ckpts.POINTER
    pointer.unlink() if index is None else pointer.write_text(index)
    assert restore_latest(_model(seed=1), str(tmp_path))["step"] == 8
    assert json.loads(pointer.read_text()) == {"latest": "ckpt-000000008", "step": 8}
    if index != '{"latest": "ckpt-000000004", "step": 4}':
        assert "rebuilt from the checkpoint folders" in capsys.readouterr().out


def test_pruning_keeps_the_newest_by_step_number(tmp_path):
    _save_steps(tmp_path, [8, 96, 100, 1000, 12000], keep=2)
    assert ckpts.checkpoint_steps(str(tmp_path)) == [12000, 1000]


def test_non_finite_model_is_never_checkpointed(tmp_path):
    model = _save_steps(tmp_path, [4])
    model.optimizer.iterations.assign(5)
    momentum = [v for v in model.optimizer.variables if "momentum" in v.path][0]
    momentum.assign(np.full(momentum.shape, np.inf, "float32"))  # finite weights, inf optimizer state
    ckpt = StepCheckpoint(str(tmp_path))
    ckpt.set_model(model)
    with pytest.raises(ckpts.NonFiniteStateError, match="momentum.*not finite at step 5"):
        ckpt.save(5)
    assert ckpts.checkpoint_steps(str(tmp_path)) == [4] and not [
        n for n in os.listdir(tmp_path) if n.startswith(".tmp")
    ]


def test_stale_temporaries_removed_and_a_checkpoint_caught_between_renames_recovered(tmp_path):
    _save_steps(tmp_path, [4, 8])
    os.makedirs(tmp_path / ".tmp-old-x")
    os.replace(_folder(tmp_path, 8), tmp_path / ".tmp-old-x" / "ckpt")  # the rewrite of step 8 moved it aside
    os.makedirs(tmp_path / ".tmp-ckpt-000000008-y")  # ... and its new folder was half written
    (tmp_path / ".tmp-ckpt-000000008-y" / ckpts.WEIGHTS).write_bytes(b"partial")
    (tmp_path / ".tmp-abc").write_text("partial index")
    ckpts.remove_stale_temporaries(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.json", "ckpt-000000004", "ckpt-000000008"]
    assert restore_latest(_model(seed=1), str(tmp_path))["step"] == 8


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {here!r})
    from test_faults import _model, _save_steps
    from keras_resnet_paper.training import checkpoints
    directory, point = sys.argv[1], sys.argv[2]
    _save_steps(directory, [4, 8], keep=2)
    real_replace, real_save = os.replace, checkpoints._sha256
    def kill():
        os.kill(os.getpid(), signal.SIGKILL)
    def replace(src, dst):
        moving_aside = os.path.basename(dst) == "ckpt"
        if point == "between_renames" and not moving_aside and ".tmp-ckpt" in src and os.path.basename(dst).startswith("ckpt-"):
            kill()
        if point == "before_index" and dst.endswith("checkpoint.json") and "ckpt-000000008" not in open(src).read():
            kill()
        real_replace(src, dst)
    def sha(path):
        if point == "mid_write":
            kill()
        return real_save(path)
    os.replace = replace
    checkpoints._sha256 = sha
    _save_steps(directory, [8, 12], keep=2)  # rewrite step 8 (as after an evaluation), then step 12
""")


@pytest.mark.parametrize("point,step", [("mid_write", 8), ("between_renames", 8), ("before_index", 12)])
def test_sigkill_at_chosen_points_of_a_checkpoint_write_leaves_a_usable_one(tmp_path, point, step):
    script = tmp_path / "kill.py"
    script.write_text(KILL_SCRIPT.format(here=HERE))
    directory = tmp_path / "ckpts"
    proc = subprocess.run(
        [sys.executable, str(script), str(directory), point], env=ENV, capture_output=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    ckpts.remove_stale_temporaries(str(directory))  # what the next run does first
    assert restore_latest(_model(seed=1), str(directory))["step"] == step
    assert not [n for n in os.listdir(directory) if n.startswith(".tmp")]


def test_folder_under_a_file_is_a_write_error_with_the_previous_checkpoint_intact(tmp_path):
    model = _save_steps(tmp_path / "ok", [4])
    (tmp_path / "file").write_text("not a folder")
    ckpt = StepCheckpoint(str(tmp_path / "file" / "checkpoints"))
    ckpt.set_model(model)
    with pytest.raises(ckpts.CheckpointWriteError, match="could not write checkpoint 4"):
        ckpt.save(4)
    assert restore_latest(_model(seed=1), str(tmp_path / "ok"))["step"] == 4


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 1 MiB tmpfs (root and a `mount` that works only: tests run as root, where chmod does not
    stop writes)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.mark.parametrize("room_check", [True, False])
def test_full_disk_is_a_write_error_with_the_previous_checkpoint_intact(tiny_tmpfs, monkeypatch, room_check):
    model = _save_steps(tiny_tmpfs, [4])
    if not room_check:  # HDF5 itself meets the full disk
        monkeypatch.setattr(ckpts, "_check_room", lambda directory, model: None)
    free = shutil.disk_usage(tiny_tmpfs).free
    (tiny_tmpfs / "filler").write_bytes(b"\0" * (free - 8192))
    model.optimizer.iterations.assign(8)
    ckpt = StepCheckpoint(str(tiny_tmpfs))
    ckpt.set_model(model)
    with pytest.raises(ckpts.CheckpointWriteError, match="no room" if room_check else "could not write checkpoint 8"):
        ckpt.save(8)
    assert ckpts.checkpoint_steps(str(tiny_tmpfs)) == [4]
    assert restore_latest(_model(seed=1), str(tiny_tmpfs))["step"] == 4


def test_read_only_disk_is_a_write_error_with_the_previous_checkpoint_intact(tiny_tmpfs):
    model = _save_steps(tiny_tmpfs, [4])
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    model.optimizer.iterations.assign(8)
    ckpt = StepCheckpoint(str(tiny_tmpfs))
    ckpt.set_model(model)
    with pytest.raises(ckpts.CheckpointWriteError, match="Read-only file system"):
        ckpt.save(8)
    assert restore_latest(_model(seed=1), str(tiny_tmpfs), owner=False)["step"] == 4


@pytest.mark.parametrize("name", ["best.weights.h5", "final.weights.h5"])
def test_best_and_final_weights_on_a_full_disk_are_a_write_error_not_a_crash(tiny_tmpfs, name):
    """The best and final weights go through the checkpoints' checked path: HDF5 never meets the
    full disk (it crashed the process there), the previous file stays whole."""
    model = _model()
    path = tiny_tmpfs / name
    path.write_bytes(b"previous")
    free = shutil.disk_usage(tiny_tmpfs).free
    (tiny_tmpfs / "filler").write_bytes(b"\0" * (free - 8192))
    with pytest.raises(ckpts.CheckpointWriteError, match="no room"):
        ckpts.save_weights_checked(model, str(path))
    assert path.read_bytes() == b"previous" and sorted(p.name for p in tiny_tmpfs.iterdir()) == sorted(["filler", name])


def test_a_read_only_run_folder_is_one_line_and_exit_4(train_command, tiny_tmpfs):
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    out = train_command("--recipe", "cifar10_offline", "--model", "resnet8", "--iterations", "10", "--batch_size", "16",
                        "--notensorboard", "--model_dir", tiny_tmpfs / "run")  # fmt: skip
    assert out.returncode == 4, out.describe()
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("Training stopped: cannot write in") and "Read-only file system" in line, line
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_busy_folder_refuses_a_second_run_at_once_and_a_killed_holder_frees_it(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        from keras_resnet_paper.training.checkpoints import RunLock
        with RunLock({str(tmp_path)!r}):
            print("locked", flush=True)
            time.sleep(120)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        busy = _cli(*ARGS, "--model_dir", str(tmp_path))
        assert busy.returncode == 2, busy.stderr[-2000:]
        assert busy.stderr.strip().splitlines()[-1] == (
            f"python -m keras_resnet_paper.train: error: model_dir={str(tmp_path)!r} is in use by another training "
            "run; wait for it to end or give another --model_dir."
        )
        assert "Traceback" not in busy.stderr and os.listdir(tmp_path) == []  # refused before touching it
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with ckpts.RunLock(str(tmp_path)) as lock:  # the OS dropped the killed holder's lock
        assert lock._fd is not None
    assert os.listdir(tmp_path) == []  # and the lock leaves no file behind


def test_override_checkpoint_every_applies_to_the_offline_paper_recipe(train_command):
    shown = train_command(
        "--recipe", "cifar10_paper", "--offline", "--override", "checkpoint_every=10", "--print_recipe"
    )
    assert shown.returncode == 0, shown.describe()
    assert [line.split() for line in shown.stdout.splitlines() if line.startswith("checkpoint_every")] == [
        ["checkpoint_every", "=", "10"]
    ]


ARGS = [
    "--recipe",
    "cifar10_offline",
    "--model",
    "resnet8",
    "--batch_size",
    "16",
    "--iterations",
    "100",
    "--eval_every",
    "50",
    "--override",
    "checkpoint_every=50",
    "--verbose",
    "0",
    "--notensorboard",
]


def _start(run_dir):
    return subprocess.Popen(
        [sys.executable, "-m", "keras_resnet_paper.train", *ARGS, "--model_dir", str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=ROOT,
    )


def _wait_for_training(proc, run_dir, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not (run_dir / "run.json").exists():
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    time.sleep(1.5)  # a few training steps


@pytest.mark.slow
@pytest.mark.parametrize("signum,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_checkpoints_the_current_step_and_the_same_command_resumes(tmp_path, signum, status):
    run_dir = tmp_path / "run"
    proc = _start(run_dir)
    _wait_for_training(proc, run_dir)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err[-3000:]
    assert "Traceback" not in err
    line = [x for x in err.splitlines() if x.startswith(f"Stopped by {signal.Signals(signum).name} at step")]
    assert len(line) == 1 and "run the same command to resume" in line[0], err[-3000:]
    step = int(line[0].split("at step ")[1].split(":")[0])
    assert 0 < step < 50 and ckpts.checkpoint_steps(str(run_dir / "checkpoints"))[0] == step
    resumed = _cli(*ARGS, "--model_dir", str(run_dir), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming from step {step} of 100" in resumed.stdout
    assert "Done: resnet8" in resumed.stdout and (run_dir / "final.weights.h5").exists()
    assert not [n for n in os.listdir(run_dir / "checkpoints") if n.startswith(".tmp")]


def test_a_diverged_run_resumes_from_its_last_healthy_checkpoint_at_a_lower_lr(tmp_path, capsys):
    """--lr 1000 explodes (a finite loss far above the first is a divergence too: never checkpointed,
    never the best); the same run at a lower lr resumes from the last healthy step and finishes."""
    run_dir = str(tmp_path / "run")
    options = dict(
        model_dir=run_dir, batch_size=16, iterations=30, eval_every=10, verbose=0, overrides={"checkpoint_every": 1}
    )
    directory = os.path.join(run_dir, "checkpoints")
    with pytest.raises((NonFiniteLossError, ckpts.NonFiniteStateError)) as info:
        train("cifar10_offline", "resnet8", lr=1e3, write_report=False, **options)
    healthy = ckpts.checkpoint_steps(directory)
    assert all(step < info.value.step for step in healthy)
    for step in healthy:
        state = ckpts.verify_checkpoint(os.path.join(directory, f"ckpt-{step:09d}"))  # all finite
        assert state["healthy"] and state["first_loss"] > 0
    diverged = json.load(open(os.path.join(run_dir, "run.json")))["diverged"]
    assert diverged["step"] == info.value.step and diverged["healthy_step"] == (max(healthy) if healthy else None)
    assert "last healthy checkpoint" in str(info.value) or "no healthy checkpoint" in str(info.value)
    result = train("cifar10_offline", "resnet8", lr=0.1, **options)
    assert result.steps == 30 and result.resumed_from == (max(healthy) if healthy else 0)
    if healthy:
        assert f"Resuming from step {max(healthy)} of 30" in capsys.readouterr().out
    record = json.load(open(os.path.join(run_dir, "run.json")))
    assert "diverged" not in record and record["recipe"]["base_lr"] == 0.1
    assert record["segments"] == [{"from_step": result.resumed_from, "base_lr": 0.1, "after_divergence": diverged}]
    rows = [line.split(",") for line in open(os.path.join(run_dir, "history.csv")).read().splitlines()[1:]]
    assert len(rows) == 3  # the exploded stretch's row left the history: one row per evaluation
    report = open(os.path.join(run_dir, "report.md")).read()
    assert (
        f"Resumed at step {result.resumed_from} with base_lr 0.1, rolled back after the loss diverged at step" in report
    )


def test_a_signal_during_the_final_phases_stops_after_the_phase_checkpointed(offline_run, tmp_path):
    """SIGINT while the test set is evaluated at the end: the evaluation ends, then the run stops
    with its step checkpointed (the final weights not written), as a signal during training does."""
    from keras_resnet_paper import data
    from keras_resnet_paper.training import callbacks as cbs
    from keras_resnet_paper.training import trainer

    result, _ = offline_run
    digits = data.cifar_datasets("digits", 64, augment="none")
    inputs = trainer._Inputs(digits, None, digits.test, digits.test)
    checkpoint = cbs.StepCheckpoint(str(tmp_path / "checkpoints"), save_freq=1000)
    checkpoint.set_model(result.training_model)
    stop = cbs.SignalStop(checkpoint)
    stop.signum = signal.SIGINT  # as its handler sets it
    with pytest.raises(cbs.TrainingInterrupted, match=r"Stopped by SIGINT at step 100: checkpoint saved in"):
        trainer._finish(result.training_model, inputs, result.config, str(tmp_path), True, False, stop)
    assert not (tmp_path / "final.weights.h5").exists() and list((tmp_path / "checkpoints").glob("*100*"))


def test_a_signal_during_10_crop_testing_stops_it_at_the_next_batch(offline_run):
    import keras
    import tensorflow as tf

    from keras_resnet_paper.training import callbacks as cbs
    from keras_resnet_paper.training import trainer

    class Batches(keras.layers.Layer):  # counts the batches the predictor is called on (eagerly)
        calls = 0

        def call(self, x):
            Batches.calls += 1
            return x

    result, _ = offline_run
    inputs = keras.Input((224, 224, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(Batches()(inputs))
    predictor = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(pooled))
    Batches.calls = 0
    images = tf.data.Dataset.from_tensor_slices((np.zeros((40, 256, 256, 3), np.float32), np.zeros(40, np.int32)))
    data = type("Data", (), {"validation_images": images, "mean": np.zeros(3, np.float32)})()
    stop = cbs.SignalStop(None)
    stop.set_model(result.training_model)
    stop.signum = signal.SIGTERM  # as its handler sets it
    with pytest.raises(cbs.TrainingInterrupted, match=r"Stopped by SIGTERM at step 100: no model_dir: nothing saved"):
        trainer._ten_crop(predictor, trainer._Inputs(data, None, None, None), False, stop)
    assert Batches.calls == 1  # the first batch of 8 images of 40, then the stop
