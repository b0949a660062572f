"""What a training run prints while it runs, counted in iterations as in the paper (Sec. 4.2).

On a terminal: one progress line redrawn in place (iteration, loss, lr, speed; while the first
step compiles, that it does; during an evaluation, its progress) and, at every evaluation, one line
of errors that replaces the progress line (so nothing is ever glued onto it). When the output is not a terminal (a log file, a pipe, a batch scheduler): the evaluation
lines alone, no carriage returns, no colour codes.

    iteration   25/300  loss 1.9734  train top-1 62.50%  val top-1 56.39%  top-5 11.67%  lr 0.1  14 s  best
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

import keras

from keras_resnet_paper import terminal
from keras_resnet_paper.training.callbacks import current_step

__all__ = ["PhaseSteps", "TrainingProgress", "batches_of", "format_evaluation"]


def batches_of(dataset) -> int | None:
    """The number of batches of a finite `tf.data.Dataset`, None where it is unknown or infinite."""
    try:
        n = int(dataset.cardinality())
    except (AttributeError, TypeError, ValueError):
        return None
    return n if n > 0 else None


class PhaseSteps(keras.callbacks.Callback):
    """Advance a `terminal.Phase` at each batch of `evaluate` or `predict`."""

    def __init__(self, phase: terminal.Phase):
        super().__init__()
        self.phase = phase

    def on_test_batch_end(self, batch, logs=None):
        self.phase.advance(batch + 1)

    def on_predict_batch_end(self, batch, logs=None):
        self.phase.advance(batch + 1)


def _pct(value) -> str:
    return f"{100 * float(value):.2f}%"


def format_evaluation(logs: dict, total: int, elapsed_s: float, best: bool = False) -> str:
    """One line for one evaluation's logs (`iteration`, `loss`, `top1_error`, `val_top1_error`...)."""
    width = len(str(total))
    parts = [
        f"iteration {int(logs.get('iteration', 0)):>{width}}/{total}",
        f"loss {float(logs.get('loss', math.nan)):.4f}",
    ]
    if "top1_error" in logs:
        parts.append(f"train top-1 {_pct(logs['top1_error'])}")
    if "val_top1_error" in logs:
        parts.append(f"val top-1 {_pct(logs['val_top1_error'])}")
    if "val_top5_error" in logs:
        parts.append(f"top-5 {_pct(logs['val_top5_error'])}")
    if "lr" in logs:
        parts.append(f"lr {float(logs['lr']):.3g}")
    parts.append(f"{elapsed_s:.0f} s")
    if best:
        parts.append("best")
    return "  ".join(parts)


class TrainingProgress(keras.callbacks.Callback):
    """Progress of a run: a live line on a terminal, one line per evaluation always.

    `interactive=None` draws the live line only when `stream` is a terminal. Put it after
    `IterationLogger` (which adds `iteration` and `lr` to the logs) and before callbacks that log
    at the end of an evaluation, so their lines start on a fresh line.
    """

    def __init__(
        self,
        total_steps: int,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        min_interval_s: float = 0.25,
        monitor: str = "val_top1_error",
        evaluation_batches: int | None = None,
    ):
        super().__init__()
        self.total_steps = int(total_steps)
        self.evaluation_batches = evaluation_batches
        self.stream = stream
        self.interactive = interactive
        self.min_interval_s = min_interval_s
        self.monitor = monitor
        self.best = math.inf
        self.earlier_s = 0.0  # a resumed run's training time before this session: times never go back
        self._t0 = self._session_t0 = self._last_draw = 0.0
        self._first_step, self._loss, self._rate = 0, math.nan, 0.0

    @property
    def _out(self) -> TextIO:
        return self.stream or sys.stdout

    def _live(self) -> bool:
        if self.interactive is not None:
            return self.interactive
        return bool(getattr(self._out, "isatty", lambda: False)())

    def _clear(self) -> None:
        terminal.end_live_line()  # the live line, if it is still drawn (a message may have erased it)

    def resume(self, earlier_s: float, best: float) -> None:
        """Go on from a resumed run: its training time so far and its best value."""
        self.earlier_s, self.best = float(earlier_s), float(best)

    def on_train_begin(self, logs=None):
        if not self._session_t0:  # once per session (a run's fit may come in two segments)
            self._session_t0 = time.time()
            self._t0 = self._session_t0 - self.earlier_s
            self._first_step = current_step(self.model)
            if self._live():  # the first step is traced and compiled: seconds with nothing else to show
                self._draw("Compiling the training step…")

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            self._clear()  # the NaN stop's message starts on a clean line
            return
        self._loss = loss  # also what an evaluation's progress shows after the bar
        now = time.time()
        if not self._live() or now - self._last_draw < self.min_interval_s:
            return
        step = current_step(self.model)
        self._rate = (step - self._first_step) / max(now - self._session_t0, 1e-9)
        self._draw(self._bar(step))

    def on_test_batch_end(self, batch, logs=None):
        """An evaluation during training: its progress after the bar (its line comes at its end)."""
        if self._live() and time.time() - self._last_draw >= self.min_interval_s:
            of = f"/{self.evaluation_batches}" if self.evaluation_batches else ""
            self._draw(f"{self._bar(current_step(self.model))}  evaluating {batch + 1}{of}")

    def _bar(self, step: int) -> str:
        done = int(30 * step / max(self.total_steps, 1))
        bar = "#" * done + "." * (30 - done)
        return f"[{bar}] {step}/{self.total_steps}  loss {self._loss:.4f}  {self._rate:.1f} it/s"

    def _draw(self, line: str) -> None:
        terminal.draw(self._out, line)
        self._last_draw = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        best = value is not None and math.isfinite(float(value)) and float(value) < self.best
        if best:
            self.best = float(value)
        self._clear()
        print(format_evaluation(logs, self.total_steps, time.time() - self._t0, best), file=self._out, flush=True)

    def on_train_end(self, logs=None):
        self._clear()
