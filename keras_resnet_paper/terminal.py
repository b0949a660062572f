"""What the commands write on a terminal: every message on its own line, never glued to a live line.

A progress bar is one line redrawn in place (`\\r`) on standard output; a message on standard
error written while it is drawn would continue it (`... 4.0 it/sSIGINT received`). The bar says
when it is drawn (`drawn`, `cleared`) and every message goes through `say`, which clears the bar
first; the bar is drawn again at its next step. Log records of the commands go through
`PlainLogFormatter`, which does the same and drops absl's `W1205 07:22:31.932446 ...]` prefix.

A leaf module: it imports nothing of the package.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["CLEAR_LINE", "PlainLogFormatter", "cleared", "drawn", "end_live_line", "say"]

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


class PlainLogFormatter(logging.Formatter):
    """A log record as the user reads it: the message alone ("error: " before an error), on its own
    line; the level letter, time, process and source line of absl's format stay in the log files."""

    def format(self, record: logging.LogRecord) -> str:
        end_live_line()
        message = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            message += "\n" + self.formatException(record.exc_info)
        return f"error: {message}" if record.levelno >= logging.ERROR else message
