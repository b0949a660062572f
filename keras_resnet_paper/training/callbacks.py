"""Callbacks for fault-tolerant training: NaN stop, atomic step checkpoints, best model, logs.

Checkpoints (`StepCheckpoint`) are directories `ckpt-<step>` holding the model *and optimizer*
weights (`model.weights.h5`: iteration counter, momenta, lr multipliers) and `state.json` (step,
best value, callback states). A directory is written under a temporary name and renamed, then the
pointer file `checkpoint.json` is replaced atomically, so a kill at any point leaves the previous
checkpoint intact. `restore_latest` loads the newest one; the trainer then re-creates the seeded
input pipeline and skips the batches already consumed, so the schedule and the data order
continue where they were.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile

import keras
from absl import logging

from keras_resnet_paper.training.schedules import inner_optimizer

__all__ = [
    "current_step",
    "NonFiniteLossError",
    "NanStop",
    "StepCheckpoint",
    "IterationLogger",
    "StopAtStep",
    "restore_latest",
    "latest_checkpoint",
    "atomic_write_text",
]

POINTER = "checkpoint.json"
WEIGHTS = "model.weights.h5"
STATE = "state.json"


class NonFiniteLossError(RuntimeError):
    """Raised by the trainer when the loss became NaN/inf; `.step` is the iteration."""

    def __init__(self, step: int, value: float):
        super().__init__(
            f"Training stopped: the loss is {value} at step {step}. "
            "Lower the learning rate (--lr), check the data, or use --precision=float32."
        )
        self.step, self.value = step, value


def current_step(model) -> int:
    """The number of optimizer steps (iterations) the model has taken."""
    return int(inner_optimizer(model.optimizer).iterations.numpy())


def atomic_write_text(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file and os.replace (atomic on POSIX)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class NanStop(keras.callbacks.Callback):
    """Stop at the first non-finite loss and remember the step (`nan_step`, `nan_value`)."""

    def __init__(self):
        super().__init__()
        self.nan_step = None
        self.nan_value = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self.nan_step, self.nan_value = current_step(self.model), loss
            logging.error("Loss is %s at step %d: stopping the run.", loss, self.nan_step)
            self.model.stop_training = True


class StopAtStep(keras.callbacks.Callback):
    """Stop when the optimizer has made `last_step` iterations (the recipe's end)."""

    def __init__(self, last_step: int):
        super().__init__()
        self.last_step = int(last_step)

    def on_train_batch_end(self, batch, logs=None):
        if current_step(self.model) >= self.last_step:
            self.model.stop_training = True


class IterationLogger(keras.callbacks.Callback):
    """Adds `iteration` and `lr` to the epoch logs (so CSV/TensorBoard rows carry iterations)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        opt = inner_optimizer(self.model.optimizer)
        logs["iteration"] = current_step(self.model)
        logs["lr"] = float(keras.ops.convert_to_numpy(opt.learning_rate))


def latest_checkpoint(directory: str) -> str | None:
    """Path of the newest complete checkpoint directory in `directory`, or None."""
    pointer = os.path.join(directory, POINTER)
    if not os.path.exists(pointer):
        return None
    with open(pointer) as f:
        name = json.load(f)["latest"]
    path = os.path.join(directory, name)
    return path if os.path.exists(os.path.join(path, STATE)) else None


def restore_latest(model: keras.Model, directory: str) -> dict | None:
    """Load the newest checkpoint of `directory` into `model` (weights and optimizer state).

    The optimizer must be built. Returns the saved state dict ({"step", "best", "callbacks"}) or
    None when there is no checkpoint.
    """
    path = latest_checkpoint(directory)
    if path is None:
        return None
    model.load_weights(os.path.join(path, WEIGHTS))
    with open(os.path.join(path, STATE)) as f:
        state = json.load(f)
    if current_step(model) != state["step"]:
        raise RuntimeError(f"Checkpoint {path} is inconsistent: optimizer step {current_step(model)} != {state['step']}.")
    logging.info("Resumed from %s (step %d).", path, state["step"])
    return state


class StepCheckpoint(keras.callbacks.Callback):
    """Atomic, resumable checkpoints every `save_freq` iterations and at every evaluation.

    Also keeps the best model by `monitor` (lower is better) in `best.weights.h5`. `stateful`
    callbacks (with get_state/set_state, e.g. PlateauDecay) have their state saved too.
    Only the chief writes (`write=False` on other workers of a multi-worker run).
    """

    def __init__(self, directory, save_freq=1000, monitor="val_top1_error", stateful=(), keep=2, write=True):
        super().__init__()
        self.directory = directory
        self.save_freq = int(save_freq)
        self.monitor = monitor
        self.stateful = list(stateful)
        self.keep = keep
        self.write = write
        self.best = math.inf
        self.best_step = None
        self._last_saved = None

    # state ----------------------------------------------------------------------------------
    def set_state(self, state: dict) -> None:
        self.best = float(state.get("best", math.inf))
        self.best_step = state.get("best_step")
        self._last_saved = state["step"]
        for cb, cb_state in zip(self.stateful, state.get("callbacks", [])):
            cb.set_state(cb_state)

    def _state(self, step):
        return {
            "step": step,
            "best": self.best,
            "best_step": self.best_step,
            "monitor": self.monitor,
            "callbacks": [cb.get_state() for cb in self.stateful],
        }

    # saving ---------------------------------------------------------------------------------
    def save(self, step: int, force: bool = False) -> None:
        if not self.write or (step == self._last_saved and not force):
            return
        os.makedirs(self.directory, exist_ok=True)
        name = f"ckpt-{step:09d}"
        final = os.path.join(self.directory, name)
        tmp = tempfile.mkdtemp(dir=self.directory, prefix=f".tmp-{name}-")
        self.model.save_weights(os.path.join(tmp, WEIGHTS))
        with open(os.path.join(tmp, STATE), "w") as f:
            json.dump(self._state(step), f)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.replace(tmp, final)
        atomic_write_text(os.path.join(self.directory, POINTER), json.dumps({"latest": name, "step": step}))
        self._last_saved = step
        old = sorted(d for d in os.listdir(self.directory) if d.startswith("ckpt-"))
        for d in old[: -self.keep]:
            shutil.rmtree(os.path.join(self.directory, d), ignore_errors=True)

    def on_train_begin(self, logs=None):
        if self._last_saved is None:
            self._last_saved = current_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        if self.model.stop_training and not math.isfinite(float((logs or {}).get("loss", 0.0))):
            return  # never checkpoint a diverged model
        step = current_step(self.model)
        if step - (self._last_saved or 0) >= self.save_freq:
            self.save(step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not math.isfinite(float(logs.get("loss", 0.0))):
            return
        step = current_step(self.model)
        value = logs.get(self.monitor)
        if value is not None and float(value) < self.best:
            self.best, self.best_step = float(value), step
            if self.write:
                os.makedirs(self.directory, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-best-", suffix=".weights.h5")
                os.close(fd)
                self.model.save_weights(tmp, overwrite=True)
                os.replace(tmp, os.path.join(self.directory, "best.weights.h5"))
                logging.debug("New best %s = %.4f at step %d.", self.monitor, self.best, step)
        self.save(step, force=True)
