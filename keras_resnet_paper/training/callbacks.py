"""Callbacks for fault-tolerant training: NaN stop, checkpoints, a signal stop, best model, logs.

`StepCheckpoint` writes resumable checkpoints through `checkpoints.write_checkpoint` (finite and
verified before they replace the previous one) and `restore_latest` loads the newest one that
verifies, falling back past damaged ones; the trainer then re-creates the seeded input pipeline
and skips the batches already consumed, so the schedule and the data order continue where they
were. `SignalStop` turns SIGTERM/SIGINT into "finish this step, checkpoint, stop".
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time

import keras
from absl import logging

from keras_resnet_paper.training import backends
from keras_resnet_paper.training import checkpoints as ckpts
from keras_resnet_paper.training.checkpoints import STATE, WEIGHTS, atomic_write_text
from keras_resnet_paper.training.schedules import inner_optimizer

__all__ = [
    "current_step",
    "NonFiniteLossError",
    "TrainingInterrupted",
    "NanStop",
    "SignalStop",
    "StepCheckpoint",
    "IterationLogger",
    "StopAtStep",
    "restore_latest",
    "latest_checkpoint",
    "atomic_write_text",
]


#: A training loss above this many times the run's first one (or 1, if larger) is an explosion (the
#: default of the recipes' `explode_factor`): the run stops as on NaN, nothing exploded is checkpointed.
EXPLODE_FACTOR = 10.0


class NonFiniteLossError(RuntimeError):
    """Raised by the trainer when the loss became NaN/inf or exploded; `.step` is the iteration,
    `.healthy_step` the last healthy checkpoint the next run resumes from (None: step 0)."""

    def __init__(self, step: int, value: float, healthy_step: int | None = None, limit: float | None = None):
        what = (
            f"the loss is {value}"
            if limit is None or not math.isfinite(value)
            else (f"the loss exploded to {value:.4g} (over {limit:.4g}, {EXPLODE_FACTOR:g} times the first)")
        )
        resume = f"the last healthy checkpoint is step {healthy_step}" if healthy_step else "no healthy checkpoint"
        super().__init__(
            f"Training stopped: {what} at step {step}; {resume}. Lower the learning rate (--lr) and run "
            "again to resume from it, check the data, or use --precision=float32."
        )
        self.step, self.value, self.healthy_step = step, value, healthy_step


def current_step(model) -> int:
    """The number of optimizer steps (iterations) the model has taken."""
    return int(inner_optimizer(model.optimizer).iterations.numpy())


class NanStop(keras.callbacks.Callback):
    """Stop at the first non-finite or exploded loss and remember the step (`nan_step`, `nan_value`).

    Exploded: above `explode_factor` times the run's first training loss, or times 1 if that was
    smaller (`first_loss`, kept in the checkpoints so a resumed run keeps its floor). `healthy` says whether the latest loss is
    neither; checkpoints and the best weights are written only while it is."""

    def __init__(self, explode_factor: float = EXPLODE_FACTOR):
        super().__init__()
        self.nan_step = None
        self.nan_value = None
        self.explode_factor = float(explode_factor)
        self.first_loss: float | None = None
        self.healthy = True

    @property
    def limit(self) -> float | None:
        """`explode_factor` times the run's first loss, or times 1 where that was below 1 (a lucky
        first batch of an easy task must not make an ordinary loss look exploded)."""
        return None if self.first_loss is None else self.explode_factor * max(self.first_loss, 1.0)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if self.first_loss is None and math.isfinite(loss) and loss > 0:
            self.first_loss = loss
        self.healthy = math.isfinite(loss) and (self.limit is None or loss <= self.limit)
        if not self.healthy:
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
    """Path of the newest checkpoint folder of `directory` that verifies, or None."""
    return next((path for path, _ in ckpts.usable_checkpoints(directory)), None)


def _load(model: keras.Model, path: str, state: dict) -> None:
    model.load_weights(os.path.join(path, WEIGHTS))
    if current_step(model) != state["step"]:
        raise ValueError(f"optimizer step {current_step(model)} != {state['step']} in {STATE}")


def restore_latest(model: keras.Model, directory: str, owner: bool = True) -> dict | None:
    """Load the newest usable checkpoint of `directory` into `model` (weights and optimizer state).

    Damaged or non-finite checkpoints are skipped with one line each (set aside as `.corrupt` and
    the index rebuilt when `owner`, the process holding the run's lock). The optimizer must be
    built. Returns the saved state dict ({"step", "best", "callbacks"}) or None when there is no
    usable checkpoint (the model then keeps its initial values).
    """
    variables = [*model.variables, *model.optimizer.variables]
    initial = [keras.ops.convert_to_numpy(v) for v in variables]
    for path, state in ckpts.usable_checkpoints(directory, set_aside=owner):
        try:
            _load(model, path, state)
        except (OSError, ValueError, KeyError) as err:
            for variable, value in zip(variables, initial):
                variable.assign(value)
            if owner:
                ckpts.set_aside_checkpoint(
                    path, f"cannot be loaded: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
                )
            continue
        if owner:
            ckpts.rebuild_index(directory, state["step"])
        logging.info("Resumed from %s (step %d).", path, state["step"])
        return state
    if os.path.isdir(directory) and any(n.startswith("ckpt-") for n in os.listdir(directory)):
        print(f"No usable checkpoint in {directory}: starting from step 0.", flush=True)
    return None


class StepCheckpoint(keras.callbacks.Callback):
    """Resumable checkpoints every `save_freq` iterations and at every evaluation.

    Also keeps the best model by `monitor` (lower is better) in `best.weights.h5`. `stateful`
    callbacks (with get_state/set_state, e.g. PlateauDecay) have their state saved too.
    Only the chief writes (`write=False` on other workers of a multi-worker run). A model with
    NaN/inf variables stops the run (`checkpoints.NonFiniteStateError`), and a checkpoint that
    cannot be written stops it too (`checkpoints.CheckpointWriteError`), the previous one intact.
    """

    def __init__(
        self, directory, save_freq=1000, monitor="val_top1_error", stateful=(), keep=2, write=True, health=None
    ):
        super().__init__()
        self.health = health  # a NanStop: nothing is saved while its latest loss is unhealthy
        self.directory = directory
        self.save_freq = int(save_freq)
        self.monitor = monitor
        self.stateful = list(stateful)
        self.keep = keep
        self.write = write
        self.best = math.inf
        self.best_step = None
        self._last_saved = None
        self.earlier_training_s = 0.0  # earlier sessions, each up to its last checkpoint
        self._began: float | None = None

    def training_time_s(self) -> float:
        """Seconds spent training over every session of the run, up to now."""
        return self.earlier_training_s + (time.monotonic() - self._began if self._began is not None else 0.0)

    # state ----------------------------------------------------------------------------------
    def set_state(self, state: dict) -> None:
        self.best = float(state.get("best", math.inf))
        self.best_step = state.get("best_step")
        self._last_saved = state["step"]
        self.earlier_training_s = float(state.get("training_time_s", 0.0))
        if self.health is not None and state.get("first_loss") is not None:
            self.health.first_loss = float(state["first_loss"])
        for cb, cb_state in zip(self.stateful, state.get("callbacks", [])):
            cb.set_state(cb_state)

    def _state(self, step):
        return {
            "step": step,
            "best": self.best,
            "best_step": self.best_step,
            "monitor": self.monitor,
            "callbacks": [cb.get_state() for cb in self.stateful],
            "training_time_s": round(self.training_time_s(), 3),
            "first_loss": None if self.health is None else self.health.first_loss,
            "healthy": True,
        }

    # saving ---------------------------------------------------------------------------------
    @property
    def last_saved(self) -> int | None:
        return self._last_saved

    def save(self, step: int, force: bool = False) -> None:
        if not self.write or (step == self._last_saved and not force):
            return
        if self.health is not None and not self.health.healthy:
            return  # never checkpoint an exploded or diverged model
        ckpts.write_checkpoint(self.model, self.directory, step, self._state(step), keep=self.keep)
        self._last_saved = step

    def _save_best(self) -> None:
        ckpts.save_weights_checked(self.model, os.path.join(self.directory, "best.weights.h5"))

    def on_train_begin(self, logs=None):
        self._began = time.monotonic()
        if self._last_saved is None:
            self._last_saved = current_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        if self.model.stop_training and not math.isfinite(float((logs or {}).get("loss", 0.0))):
            return  # never checkpoint a diverged model
        if self.health is not None and not self.health.healthy:
            return
        if batch + 1 == (self.params or {}).get("steps"):
            return  # an evaluation ends this step: `on_epoch_end` checkpoints after it, so a kill in between
        step = current_step(self.model)  # resumes before the step and evaluates it again (no lost history row)
        if step - (self._last_saved or 0) >= self.save_freq:
            self.save(step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not math.isfinite(float(logs.get("loss", 0.0))) or (self.health is not None and not self.health.healthy):
            return  # an exploded model is never the best one, nor checkpointed
        step = current_step(self.model)
        value = logs.get(self.monitor)
        if value is not None and float(value) < self.best and math.isfinite(float(value)):
            self.best, self.best_step = float(value), step
            if self.write:
                self._save_best()
                logging.debug("New best %s = %.4f at step %d.", self.monitor, self.best, step)
        self.save(step, force=True)


class TrainingInterrupted(Exception):
    """The run stopped on a signal after checkpointing its last step; `.signum`, `.step`, `.saved`."""

    def __init__(self, signum: int, step: int, saved: str | None, by_chief: bool = False):
        where = (
            f"the chief saves its checkpoint in {saved}; run the same command to resume"
            if saved and by_chief
            else f"checkpoint saved in {saved}; run the same command to resume"
            if saved
            else "no model_dir: nothing saved"
        )
        super().__init__(f"Stopped by {signal.Signals(signum).name} at step {step}: {where}.")
        self.signum, self.step, self.saved = signum, step, saved

    @property
    def exit_status(self) -> int:
        """128 + the signal number, as shells report a process the signal ended (143, 130)."""
        return 128 + self.signum


class SignalStop(keras.callbacks.Callback):
    """On SIGTERM or SIGINT: finish the current step, checkpoint it, raise `TrainingInterrupted`.

    Use as a context manager around `fit` (it installs its handlers in the main thread and restores
    the previous ones on exit); a second signal while stopping ends the process at once. In a run
    over several processes they agree on the stop every `AGREE_EVERY` steps (one collective each:
    about 3.5 ms between two CPU processes), so all stop at the same step within that many.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)
    AGREE_EVERY = 10

    def __init__(self, checkpoint: StepCheckpoint | None = None):
        super().__init__()
        self.checkpoint = checkpoint
        self.signum = None
        self._agree = None  # backends.agreement of the model, made on first use
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signum is not None:  # a second signal: stop now
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        self.signum = signum
        logging.warning(
            "%s received: stopping after this step (with several processes, within %d steps).",
            signal.Signals(signum).name,
            self.AGREE_EVERY,
        )

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def stop_if_asked(self) -> None:
        """Checkpoint and raise `TrainingInterrupted` if a signal came to this process or, in a
        multi-worker or multi-process run, to any of them (`backends.agreement`: all stop at the
        same step)."""
        if self.model is None or not self._agreement()(self.signum is not None):
            return
        step = current_step(self.model)
        saved = self.checkpoint.directory if self.checkpoint is not None else None
        if self.checkpoint is not None and self.checkpoint.write:
            self.checkpoint.save(step)
        raise TrainingInterrupted(
            self.signum or signal.SIGTERM,
            step,
            saved,
            by_chief=self.checkpoint is not None and not self.checkpoint.write,
        )

    def _agreement(self):
        if self._agree is None:
            self._agree = backends.agreement(self.model)
        return self._agree

    def on_train_batch_end(self, batch, logs=None):
        if not math.isfinite(float((logs or {}).get("loss", 0.0))):
            return
        if self._agreement() is bool or current_step(self.model) % self.AGREE_EVERY == 0:  # one process, or due
            self.stop_if_asked()
