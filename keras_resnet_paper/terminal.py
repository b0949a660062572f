"""What the commands write on a terminal: every message on its own line, never glued to a live line.

A progress bar is one line redrawn in place (`\\r`) on standard output; a message on standard
error written while it is drawn would continue it (`... 4.0 it/sSIGINT received`). The bar says
when it is drawn (`drawn`, `cleared`) and every message goes through `say`, which clears the bar
first; the bar is drawn again at its next step. Log records of the commands go through
`PlainLogFormatter`, which does the same and drops absl's `W1205 07:22:31.932446 ...]` prefix.

A step of a command that takes more than a moment and prints nothing of its own (loading the
framework, building the model, the first trace, an evaluation, BN re-estimation, 10-crop testing)
is a `Phase`: on a terminal a live line says what is being done, with progress where it has steps,
and is erased when the step ends; in a log file it writes nothing (its results are the lines).

A leaf module: it imports nothing of the package.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

__all__ = [
    "CLEAR_LINE",
    "Phase",
    "PlainLogFormatter",
    "cleared",
    "draw",
    "drawn",
    "end_live_line",
    "is_terminal",
    "say",
]

T = TypeVar("T")

#: Carriage return and erase to the end of the line: the live line's text is gone, the cursor at its start.
CLEAR_LINE = "\r\x1b[K"

_live: list[TextIO] = []  # the streams on which a live line is drawn now (at most one, in practice)


def drawn(stream: TextIO) -> None:
    """A live line has been drawn on `stream` (and not ended by a newline)."""
    if stream not in _live:
        _live.append(stream)


def cleared(stream: TextIO) -> None:
    """The live line on `stream` has been erased or ended."""
    if stream in _live:
        _live.remove(stream)


def draw(stream: TextIO, line: str) -> None:
    """Draw `line` as the live line of `stream`, replacing what was drawn there."""
    drawn(stream)  # before the write: a message that comes between the two still erases it first
    stream.write(CLEAR_LINE + line)
    stream.flush()


def end_live_line() -> None:
    """Erase the live line, if one is drawn, so that what comes next starts a line of its own."""
    while _live:
        stream = _live.pop()
        stream.write(CLEAR_LINE)
        stream.flush()


def say(message: str, stream: TextIO | None = None) -> None:
    """Print `message` on its own line (standard error by default), after erasing any live line."""
    end_live_line()
    print(message, file=stream or sys.stderr, flush=True)


def is_terminal(stream: TextIO) -> bool:
    """Whether `stream` is an interactive terminal (a live line can be redrawn on it)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Phase:
    """A step of a command shown as a live line on a terminal while it runs, erased when it ends.

        with Phase("Evaluating on the test set", total=40) as phase:
            for i, batch in enumerate(batches, 1):
                ...
                phase.advance(i)    # Evaluating on the test set  [######........] 12/40

    `live=None` draws only when `stream` (standard output by default) is a terminal; `live=False`
    draws nothing. `steps(iterable)` yields the items and advances after each.
    """

    def __init__(
        self,
        text: str,
        total: int | None = None,
        stream: TextIO | None = None,
        live: bool | None = None,
        min_interval_s: float = 0.25,
    ):
        self.text, self.total, self.min_interval_s = text, total, min_interval_s
        self.stream = stream or sys.stdout
        self.live = is_terminal(self.stream) if live is None else bool(live)
        self._last_draw = 0.0

    def __enter__(self) -> Phase:
        self._draw(0 if self.total else None)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.live and self.stream in _live:
            cleared(self.stream)
            self.stream.write(CLEAR_LINE)
            self.stream.flush()

    def advance(self, done: int) -> None:
        """`done` of `total` steps are done (redrawn at most every `min_interval_s`)."""
        if time.monotonic() - self._last_draw >= self.min_interval_s or done == self.total:
            self._draw(done)

    def steps(self, iterable: Iterable[T]) -> Iterator[T]:
        for done, item in enumerate(iterable, 1):
            yield item
            self.advance(done)

    def _draw(self, done: int | None) -> None:
        if not self.live:
            return
        line = f"{self.text}…"
        if done is not None and self.total:
            filled = int(20 * min(done, self.total) / self.total)
            line = f"{self.text}  [{'#' * filled}{'.' * (20 - filled)}] {done}/{self.total}"
        elif done is not None:
            line = f"{self.text}  {done}"
        draw(self.stream, line)
        self._last_draw = time.monotonic()


class PlainLogFormatter(logging.Formatter):
    """A log record as the user reads it: the message alone ("error: " before an error), on its own
    line; the level letter, time, process and source line of absl's format stay in the log files."""

    def format(self, record: logging.LogRecord) -> str:
        end_live_line()
        message = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            message += "\n" + self.formatException(record.exc_info)
        return f"error: {message}" if record.levelno >= logging.ERROR else message
