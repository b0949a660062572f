"""How a command of this package starts: without the framework's start-up notices, and
interruptible from its first second.

TensorFlow writes notices while its libraries load (oneDNN, the CUDA stubs, CPU features) and
when it first looks for a GPU (`failed call to cuInit` on a machine without one). They come from
its C++ logging before any setting is read, so `TF_CPP_MIN_LOG_LEVEL` alone does not hide them
(TensorFlow 2.21). `quiet_start` loads TensorFlow and lists its devices once with the process's
standard error captured, drops exactly the notices in `START_UP_NOTICES`, and writes every other
line back; it also sets `TF_CPP_MIN_LOG_LEVEL=2` for the command's process (the framework's
errors are still shown, its info and warnings not, e.g. the tf.data notices written into the
progress bar); a level the user set is kept. Whoever wants the framework's own logs passes
`--framework_logs` or sets `TF_CPP_MIN_LOG_LEVEL=0`: then nothing is hidden. On a terminal, a
live line says that TensorFlow is starting while it loads (a few seconds), erased once it has.

A SIGTERM or SIGINT before training has started ends the command with one line and 128 + the
signal number. Only a command calls `quiet_start` (the package's `__init__` when `run_as_command`,
a script that sets `KERAS_RESNET_PAPER_COMMAND = True` before its imports included, and the
commands' entry points): the library itself changes no process-wide setting, and an
import of it only drops the load-time notices while Keras loads (`load_time_notices_dropped`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence

from keras_resnet_paper import terminal

__all__ = [
    "COMMAND_MARKER",
    "FRAMEWORK_LOGS_FLAG",
    "START_UP_NOTICES",
    "RUNTIME_NOTICES",
    "Interrupted",
    "framework_notices_dropped",
    "framework_output_hidden",
    "is_framework_notice",
    "is_start_up_notice",
    "load_time_notices_dropped",
    "quiet_start",
    "run_as_command",
    "stopped_at_start_up",
]

#: The console scripts of the package (pyproject.toml).
COMMAND_SCRIPTS = ("keras-resnet-paper-train", "keras-resnet-paper-reproduce")

#: A script of its own that starts as the package's commands do sets this name to True in its
#: `__main__` module before it imports TensorFlow, Keras or this package (the examples do):
#:     KERAS_RESNET_PAPER_COMMAND = True
COMMAND_MARKER = "KERAS_RESNET_PAPER_COMMAND"

#: The command-line switch that shows the framework's logs.
FRAMEWORK_LOGS_FLAG = "--framework_logs"

#: Fragments of the lines TensorFlow writes at every start, whatever the machine: not for the user.
START_UP_NOTICES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "cpu_feature_guard.cc",
    "To enable the following instructions:",
    "failed call to cuInit",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation_placer.cc",
    "TF-TRT Warning",
)


#: Lines TensorFlow writes while a net runs that give the user nothing to act on; logged at its
#: ERROR level, so `TF_CPP_MIN_LOG_LEVEL=2` keeps them (keras-cv's detector on a CPU, TF 2.21).
RUNTIME_NOTICES = ("oneDNN supports DT_INT64 only on platforms with AVX-512",)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT before training started (`signum`); raised by the start-up handler."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def is_start_up_notice(line: str) -> bool:
    """Whether `line` is one of TensorFlow's start-up notices (`START_UP_NOTICES`)."""
    return any(fragment in line for fragment in START_UP_NOTICES)


def is_framework_notice(line: str) -> bool:
    """Whether `line` is one of TensorFlow's notices (`START_UP_NOTICES`, `RUNTIME_NOTICES`)."""
    return is_start_up_notice(line) or any(fragment in line for fragment in RUNTIME_NOTICES)


@contextlib.contextmanager
def framework_notices_dropped() -> Iterator[None]:
    """While the block runs standard error is held; on leaving, every line of it but TensorFlow's
    notices is written back (nothing is hidden with `--framework_logs` or
    `TF_CPP_MIN_LOG_LEVEL=0`). For a stretch whose own lines go to standard output (the examples'
    training)."""
    if _framework_logs_asked(sys.argv):
        yield
        return
    with _standard_error_filtered():
        yield


def run_as_command(argv: Sequence[str] | None = None) -> bool:
    """Whether this process is a command of the package: `python -m keras_resnet_paper.<command>`
    (Python sets `sys.argv[0]` to "-m" while it imports the command's package), a console script,
    or a script that says it is one (`COMMAND_MARKER = True` before it imports anything)."""
    argv = sys.argv if argv is None else argv
    if getattr(sys.modules.get("__main__"), COMMAND_MARKER, False) is True:
        return True
    return bool(argv) and (argv[0] == "-m" or os.path.basename(argv[0]) in COMMAND_SCRIPTS)


def _framework_logs_asked(argv: Sequence[str]) -> bool:
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0" or FRAMEWORK_LOGS_FLAG in argv


@contextlib.contextmanager
def load_time_notices_dropped() -> Iterator[None]:
    """While TensorFlow loads for the first time in this process (inside the block), drop its
    load-time notices from standard error and keep every other line; changes no setting."""
    if "tensorflow" in sys.modules or _framework_logs_asked(sys.argv):
        yield
        return
    with _standard_error_filtered():
        yield


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def stopped_at_start_up(signum: int) -> str:
    """The one line a command says when a signal stops it before anything was trained."""
    return f"Stopped by {signal.Signals(signum).name} during start-up: nothing was trained."


def _excepthook(kind, value, traceback) -> None:
    """`sys.excepthook` of a command: an `Interrupted` that no code answered (it came while modules
    were still being imported) is one line and 128 + the signal number, not a traceback."""
    if not isinstance(value, Interrupted):
        sys.__excepthook__(kind, value, traceback)
        return
    print(stopped_at_start_up(value.signum), file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(value.exit_status)


def quiet_start(argv: Sequence[str] | None = None) -> None:
    """Start a command: SIGTERM and SIGINT raise `Interrupted` until training installs its own
    handlers (one line if nothing answers it), and TensorFlow is loaded without its start-up
    notices (module docstring)."""
    argv = sys.argv if argv is None else argv
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_interrupted)
    sys.excepthook = _excepthook
    if _framework_logs_asked(argv):
        return  # the user asked for the framework's logs: nothing hidden
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # the seconds TensorFlow takes to load, said on a terminal (erased when it is loaded)
    loading = "tensorflow" not in sys.modules
    with (
        terminal.Phase("Starting TensorFlow", stream=sys.stderr, live=None if loading else False),
        _standard_error_filtered(),
    ):
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the first look for a GPU: cuInit's notice, inside the filter


#: The Python loggers of the framework and its converters (TensorFlow, absl, tf2onnx).
FRAMEWORK_LOGGERS = ("tensorflow", "absl", "tf2onnx")


@contextlib.contextmanager
def framework_output_hidden() -> Iterator[None]:
    """While a converter of the framework runs (TFLite, SavedModel, tf2onnx, an interpreter's
    start): its Python log records below ERROR and whatever is written to standard error (its C++
    notices) are dropped; the loggers' levels and the descriptor are restored after. A failure
    still raises its exception, which carries the message; `--framework_logs` or
    `TF_CPP_MIN_LOG_LEVEL=0` shows everything."""
    if _framework_logs_asked(sys.argv):
        yield
        return
    loggers = [logging.getLogger(name) for name in FRAMEWORK_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryFile() as sink, _standard_error_into(sink):
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def _standard_error_into(file) -> Iterator[None]:
    """File descriptor 2 (C++ and Python writers alike) written into `file` until the block ends."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _standard_error_filtered() -> Iterator[None]:
    """Capture file descriptor 2; on leaving, write back every line that is not a start-up notice."""
    with tempfile.TemporaryFile() as capture:
        try:
            with _standard_error_into(capture):
                yield
        finally:
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not is_framework_notice(line)]
            if kept:
                terminal.end_live_line()
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
