"""NaN stop with its step, atomic resumable checkpoints with optimizer state, best model kept."""

import json
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resnet_paper.training import NanStop, PaperSGD, StepCheckpoint, latest_checkpoint, restore_latest
from keras_resnet_paper.training.callbacks import NonFiniteLossError, StopAtStep


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)])
    opt = PaperSGD(0.05, momentum=0.9, l2=1e-4)
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    opt.build(model.trainable_variables)
    return model


def _data(nan_batch=None, batches=12, batch=8):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batches * batch, 4)).astype("float32")
    y = rng.integers(0, 3, batches * batch).astype("int32")
    if nan_batch is not None:
        x[nan_batch * batch] = np.nan
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def test_nan_stop_reports_the_step():
    model = _model()
    nan = NanStop()
    model.fit(_data(nan_batch=5), epochs=1, callbacks=[nan], verbose=0)
    assert nan.nan_step == 6  # the 6th optimizer step saw the NaN batch (index 5)
    assert math.isnan(nan.nan_value) and model.stop_training
    assert int(model.optimizer.iterations.numpy()) == 6  # no step after it
    err = NonFiniteLossError(nan.nan_step, nan.nan_value)
    assert "step 6" in str(err) and err.step == 6


def test_checkpoint_roundtrip_with_optimizer_state(tmp_path):
    model = _model()
    ckpt = StepCheckpoint(str(tmp_path), save_freq=4, keep=2)
    model.fit(_data(), epochs=1, callbacks=[ckpt, StopAtStep(10)], verbose=0)
    names = sorted(d for d in os.listdir(tmp_path) if d.startswith("ckpt-"))
    assert names == ["ckpt-000000008", "ckpt-000000010"]  # every 4 steps + epoch end, 2 kept
    assert not [d for d in os.listdir(tmp_path) if d.startswith(".tmp")]
    assert json.load(open(tmp_path / "checkpoint.json"))["step"] == 10
    model.optimizer.lr_multiplier.assign(0.1)  # not saved: changed after the last checkpoint
    fresh = _model(seed=1)
    state = restore_latest(fresh, str(tmp_path))
    assert state["step"] == 10 and int(fresh.optimizer.iterations.numpy()) == 10
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    momenta = [v.numpy() for v in fresh.optimizer.variables if "momentum" in v.path]
    assert momenta and any(np.abs(m).sum() > 0 for m in momenta)  # momentum buffers restored
    assert float(fresh.optimizer.lr_multiplier.numpy()) == 1.0


def test_incomplete_checkpoint_is_ignored(tmp_path):
    model = _model()
    ckpt = StepCheckpoint(str(tmp_path), save_freq=1000)
    ckpt.set_model(model)
    ckpt.save(0)
    os.makedirs(tmp_path / ".tmp-ckpt-000000005-x")  # a kill during the next save
    (tmp_path / ".tmp-ckpt-000000005-x" / "model.weights.h5").write_bytes(b"partial")
    assert latest_checkpoint(str(tmp_path)).endswith("ckpt-000000000")
    assert restore_latest(_model(), str(tmp_path))["step"] == 0
    assert restore_latest(_model(), str(tmp_path / "empty")) is None


def test_best_model_kept_and_never_a_diverged_one(tmp_path):
    model = _model()
    ckpt = StepCheckpoint(str(tmp_path), monitor="val_top1_error")
    ckpt.set_model(model)
    for err in (0.5, 0.3, 0.4):
        ckpt.on_epoch_end(0, {"loss": 1.0, "val_top1_error": err})
    assert ckpt.best == pytest.approx(0.3) and (tmp_path / "best.weights.h5").exists()
    before = sorted(os.listdir(tmp_path))
    ckpt.on_epoch_end(0, {"loss": float("nan"), "val_top1_error": 0.1})
    assert ckpt.best == pytest.approx(0.3) and sorted(os.listdir(tmp_path)) == before


def test_sigterm_finishes_the_step_checkpoints_it_and_restores_the_handlers(tmp_path):
    import signal

    from keras_resnet_paper.training.callbacks import SignalStop, TrainingInterrupted

    class SendAt(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3:
                os.kill(os.getpid(), signal.SIGTERM)

    model = _model()
    ckpt = StepCheckpoint(str(tmp_path), save_freq=1000)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match=r"Stopped by SIGTERM at step 4: checkpoint saved") as info:
        with SignalStop(ckpt) as stop:
            model.fit(_data(), epochs=1, callbacks=[SendAt(), ckpt, stop], verbose=0)
    assert info.value.exit_status == 143 and signal.getsignal(signal.SIGTERM) is before
    assert int(model.optimizer.iterations.numpy()) == 4  # the step under way was finished, no more
    assert restore_latest(_model(seed=1), str(tmp_path))["step"] == 4


def test_checkpoint_state_carries_the_training_time_over_sessions(tmp_path):
    """A resumed run's time adds the earlier sessions' (report.json's total_wall_time_s)."""
    checkpoint = StepCheckpoint(str(tmp_path))
    assert checkpoint.training_time_s() == 0.0
    checkpoint.set_state({"step": 40, "training_time_s": 125.5})
    checkpoint.on_train_begin()
    assert checkpoint.earlier_training_s == 125.5
    assert 125.5 <= checkpoint._state(41)["training_time_s"] < 135.5


def test_a_step_that_ends_an_evaluation_is_checkpointed_after_the_evaluation(tmp_path):
    """A kill between the step and its evaluation resumes before the step: the evaluation (and its
    history row) is made again, never lost."""
    calls = []

    class Recording(StepCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            calls.append(("evaluated", int(self.model.optimizer.iterations.numpy())))
            super().on_epoch_end(epoch, logs)

        def save(self, step, force=False):
            calls.append(("saved", step))
            super().save(step, force)

    model = _model()
    model.fit(
        _data().repeat(), epochs=2, steps_per_epoch=4, callbacks=[Recording(str(tmp_path), save_freq=2)], verbose=0
    )
    assert calls == [("saved", 2), ("evaluated", 4), ("saved", 4), ("saved", 6), ("evaluated", 8), ("saved", 8)]


def test_the_first_checkpoint_at_an_evaluation_writes_the_best_into_a_new_folder(tmp_path):
    """The paper's recipes checkpoint and evaluate every 1000 steps: the first best comes before
    any checkpoint has made the folder."""
    folder = tmp_path / "run" / "checkpoints"
    model = _model()
    model.fit(
        _data().repeat(),
        epochs=1,
        steps_per_epoch=4,
        callbacks=[StepCheckpoint(str(folder), save_freq=4, monitor="loss")],
        verbose=0,
    )
    assert (folder / "best.weights.h5").exists() and (folder / "ckpt-000000004").is_dir()
