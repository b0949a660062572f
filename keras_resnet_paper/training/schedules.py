"""Learning-rate schedules of the paper, counted in iterations.

* `PaperSchedule`: piecewise constant (lr divided by `decay` at each boundary iteration), with the
  linear scaling rule and an optional gradual warm-up (serialisable Keras schedule).
* `PlateauDecay`: callback dividing the lr by 10 when the validation error plateaus (ImageNet,
  Sec. 3.4).
* `ErrorThresholdWarmup`: callback keeping the lr at 0.01 until the training error falls below
  80%, then 0.1 (ResNet-110 on CIFAR-10, Sec. 4.2).

Both callbacks act on the multipliers held by `PaperSGD` (optimizer variables), so their state
is saved and restored with the optimizer in every checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from absl import logging
from keras import ops

__all__ = ["PaperSchedule", "PlateauDecay", "ErrorThresholdWarmup", "schedule_for_recipe", "inner_optimizer"]


@keras.saving.register_keras_serializable(package="keras_resnet_paper")
class PaperSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = peak * decay ** (number of boundaries <= step), after a linear warm-up.

    Args:
      base_lr: the recipe's lr for its own batch size (0.1 in the paper).
      boundaries: iterations at which the lr is multiplied by `decay` (32000, 48000 for CIFAR).
      decay: 0.1 in the paper.
      scale: linear scaling factor global_batch / recipe_batch; the peak lr is base_lr * scale.
      warmup_steps: iterations of gradual linear warm-up from base_lr to the peak (used when the
        lr is scaled up, Goyal et al.); 0 for none.
    """

    def __init__(
        self,
        base_lr: float,
        boundaries: Sequence[int] = (),
        decay: float = 0.1,
        scale: float = 1.0,
        warmup_steps: int = 0,
        name: str = "paper_schedule",
    ):
        self.base_lr = float(base_lr)
        self.boundaries = [int(b) for b in boundaries]
        self.decay = float(decay)
        self.scale = float(scale)
        self.warmup_steps = int(warmup_steps)
        self.name = name

    @property
    def peak_lr(self) -> float:
        return self.base_lr * self.scale

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr = ops.convert_to_tensor(self.peak_lr, "float32")
        for boundary in self.boundaries:
            lr = ops.where(step >= boundary, lr * self.decay, lr)
        if self.warmup_steps > 0:
            start = min(self.base_lr, self.peak_lr)
            frac = ops.minimum(step / float(self.warmup_steps), 1.0)
            warm = start + (self.peak_lr - start) * frac
            lr = ops.where(step < self.warmup_steps, warm, lr)
        return lr

    def value(self, step: int) -> float:
        """The lr at `step` as a Python float (for logs and tests)."""
        return float(ops.convert_to_numpy(self(step)))

    def get_config(self):
        return {
            "base_lr": self.base_lr,
            "boundaries": list(self.boundaries),
            "decay": self.decay,
            "scale": self.scale,
            "warmup_steps": self.warmup_steps,
            "name": self.name,
        }


def schedule_for_recipe(recipe, global_batch: int | None = None) -> PaperSchedule:
    """The recipe's schedule for `global_batch` (linear scaling + gradual warm-up if it differs)."""
    global_batch = global_batch or recipe.batch_size
    scale = global_batch / recipe.batch_size
    warmup = recipe.scaling_warmup_iterations
    if scale > 1 and warmup == 0:
        # Gradual warm-up over ~5 epochs of the paper's CIFAR run is 2% of training; use that.
        warmup = max(1, int(0.02 * recipe.iterations))
    return PaperSchedule(recipe.base_lr, recipe.boundaries, recipe.lr_decay, scale, warmup if scale > 1 else 0)


def inner_optimizer(optimizer):
    """The optimizer under a LossScaleOptimizer (mixed_float16), else `optimizer`."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def _error(logs, key):
    if not logs:
        return None
    if key in logs:
        return float(logs[key])
    acc = key.replace("top1_error", "accuracy")
    if acc in logs:
        return 1.0 - float(logs[acc])
    return None


class PlateauDecay(keras.callbacks.Callback):
    """Divide the lr by 1/`factor` when `monitor` has not improved for `patience` evaluations.

    Acts on `PaperSGD.lr_multiplier`; its best value and wait count are part of the checkpoint
    state (`get_state`/`set_state`).
    """

    def __init__(self, monitor="val_top1_error", factor=0.1, patience=5, min_delta=1e-3, min_lr=1e-6):
        super().__init__()
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.min_delta, self.min_lr = min_delta, min_lr
        self.best = math.inf
        self.wait = 0

    def get_state(self):
        return {"best": self.best, "wait": self.wait}

    def set_state(self, state):
        self.best, self.wait = float(state["best"]), int(state["wait"])

    def on_epoch_end(self, epoch, logs=None):
        value = _error(logs, self.monitor)
        if value is None:
            return
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        opt = inner_optimizer(self.model.optimizer)
        current = float(ops.convert_to_numpy(opt.learning_rate))
        if current * self.factor < self.min_lr:
            return
        opt.lr_multiplier.assign(float(opt.lr_multiplier.numpy()) * self.factor)
        self.wait = 0
        step = int(opt.iterations.numpy())
        logging.info(
            "PlateauDecay: %s has not improved for %d evaluations (best %.4f); lr %.3g -> %.3g at step %d.",
            self.monitor,
            self.patience,
            self.best,
            current,
            current * self.factor,
            step,
        )


class ErrorThresholdWarmup(keras.callbacks.Callback):
    """Train at lr*`factor` until the training error is below `threshold`, then at the full lr.

    The paper's ResNet-110 recipe: lr 0.01 (factor 0.1 of 0.1) until the training error is below
    80%, about 400 iterations, then 0.1. The switch is the optimizer variable
    `PaperSGD.warmup_factor` (saved with the optimizer, so it survives a resume). The training
    error tested is the running mean since the last evaluation (the Keras epoch), as logged.
    """

    def __init__(self, factor=0.1, threshold=0.8, monitor="top1_error", max_steps=None):
        super().__init__()
        self.factor, self.threshold, self.monitor, self.max_steps = factor, threshold, monitor, max_steps
        self.switched_at = None

    def _opt(self):
        return inner_optimizer(self.model.optimizer)

    @property
    def active(self) -> bool:
        return float(self._opt().warmup_factor.numpy()) != 1.0

    def on_train_begin(self, logs=None):
        opt = self._opt()
        if int(opt.iterations.numpy()) == 0:
            opt.warmup_factor.assign(self.factor)
            logging.info("Warm-up: lr x%g until the training error is below %.0f%%.", self.factor, 100 * self.threshold)

    def on_train_batch_end(self, batch, logs=None):
        if not self.active:
            return
        error = _error(logs, self.monitor)
        step = int(self._opt().iterations.numpy())
        expired = self.max_steps is not None and step >= self.max_steps
        if (error is not None and error < self.threshold) or expired:
            self._opt().warmup_factor.assign(1.0)
            self.switched_at = step
            logging.info(
                "Warm-up over at step %d (training error %s): lr back to the full value.",
                step,
                "n/a" if error is None else f"{error:.3f}",
            )
