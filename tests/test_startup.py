"""A command's start (startup.py): TensorFlow's start-up notices are dropped, every other line
written to standard error at that time is kept; the commands' log lines lose absl's prefix and
never continue a live progress line (terminal.py)."""

from __future__ import annotations

import io
import logging
import os

from keras_resnet_paper import startup, terminal

# What TensorFlow 2.21 writes at every start on a machine without a GPU (and on one with CUDA).
REAL_NOTICES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796479541.698714   16551 port.cc:153] oneDNN custom operations are on. You may see "
    "slightly different numerical results due to floating-point round-off errors",
    "I0000 00:00:1796479541.699089   16551 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.",
    "I0000 00:00:1796479541.744763   16551 cpu_feature_guard.cc:227] This TensorFlow binary is optimized",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow",
    "E0000 00:00:1796479547.061878   16551 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error",
]


def test_only_the_start_up_notices_are_dropped(capfd):
    with startup._standard_error_filtered():
        for line in REAL_NOTICES:
            os.write(2, (line + "\n").encode())
        os.write(2, b"E0000 some_op.cc:12] a real error of the framework\n")
        os.write(2, b"a line of a Python warning\n")
    err = capfd.readouterr().err
    assert err == "E0000 some_op.cc:12] a real error of the framework\na line of a Python warning\n"
    assert all(startup.is_start_up_notice(line) for line in REAL_NOTICES)


def test_an_interruption_at_start_up_carries_its_signal():
    stop = startup.Interrupted(15)
    assert isinstance(stop, KeyboardInterrupt) and stop.exit_status == 143 and str(stop) == "SIGTERM"


def test_a_log_line_clears_the_live_line_and_has_no_prefix():
    bar, log = io.StringIO(), io.StringIO()
    bar.write("\r\x1b[K[###...] 3/10  loss 1.0")
    terminal.drawn(bar)
    handler = logging.StreamHandler(log)
    handler.setFormatter(terminal.PlainLogFormatter())
    record = logging.LogRecord("absl", logging.WARNING, "callbacks.py", 1, "SIGINT received: %s", ("stopping",), None)
    handler.emit(record)
    assert log.getvalue() == "SIGINT received: stopping\n"
    assert bar.getvalue().endswith(terminal.CLEAR_LINE)  # the bar is erased before the line is written
    error = logging.LogRecord("absl", logging.ERROR, "x.py", 1, "Loss is nan", (), None)
    assert terminal.PlainLogFormatter().format(error) == "error: Loss is nan"
    terminal.say("nothing drawn: no clearing", log)
    assert bar.getvalue().count(terminal.CLEAR_LINE) == 2  # the one drawn, the one erasing it


def test_a_message_between_the_bar_and_its_registration_still_starts_a_line():
    """A signal's log line can come at any bytecode: the bar registers itself before it is written."""
    from keras_resnet_paper.training.progress import TrainingProgress

    class Model:  # what the progress line reads of a model: its step
        optimizer = type("Optimizer", (), {"iterations": type("Step", (), {"numpy": lambda self: 1})()})()

    log = io.StringIO()

    class Screen(io.StringIO):
        signalled = False

        def flush(self):  # the signal arrives right after the bar is written
            if "/10" in self.getvalue() and not self.signalled:
                self.signalled = True
                terminal.say("SIGINT received", log)

    screen = Screen()
    progress = TrainingProgress(10, stream=screen, interactive=True, min_interval_s=0)
    progress.set_model(Model())
    progress.on_train_begin()
    progress.on_train_batch_end(0, {"loss": 1.0})
    assert log.getvalue() == "SIGINT received\n" and screen.getvalue().endswith("it/s" + terminal.CLEAR_LINE)
    terminal.cleared(screen)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_phase_is_a_live_line_with_its_progress_that_its_end_erases():
    screen = _Terminal()
    with terminal.Phase("Evaluating on the test set", total=4, stream=screen, min_interval_s=0) as phase:
        assert list(phase.steps("abcd")) == list("abcd")
    shown = screen.getvalue().split(terminal.CLEAR_LINE)
    assert shown == [
        "",
        "Evaluating on the test set  [....................] 0/4",
        "Evaluating on the test set  [#####...............] 1/4",
        "Evaluating on the test set  [##########..........] 2/4",
        "Evaluating on the test set  [###############.....] 3/4",
        "Evaluating on the test set  [####################] 4/4",
        "",  # erased at its end: what comes next starts a clean line
    ]
    log = io.StringIO()
    with terminal.Phase("Starting TensorFlow", stream=screen):  # no steps: its name alone
        terminal.say("a warning of ours", log)  # erases the phase's line before it is written
    assert screen.getvalue().endswith(terminal.CLEAR_LINE + "Starting TensorFlow…" + terminal.CLEAR_LINE)
    assert log.getvalue() == "a warning of ours\n"


def test_a_phase_draws_nothing_in_a_log_file_or_when_told_not_to():
    log, screen = io.StringIO(), _Terminal()
    with terminal.Phase("Evaluating", total=2, stream=log) as phase:
        phase.advance(1)
    with terminal.Phase("Evaluating", total=2, stream=screen, live=False) as phase:
        phase.advance(2)
    assert log.getvalue() == screen.getvalue() == ""
    slow = _Terminal()
    with terminal.Phase("Evaluating", total=100, stream=slow, min_interval_s=3600) as phase:
        for done in range(1, 101):
            phase.advance(done)  # drawn at its start and at its last step only
    assert slow.getvalue().count("Evaluating") == 2 and "100/100" in slow.getvalue()


def test_the_training_line_says_when_the_step_compiles_and_how_far_an_evaluation_is():
    from keras_resnet_paper.training.progress import TrainingProgress

    class Model:
        optimizer = type("Optimizer", (), {"iterations": type("Step", (), {"numpy": lambda self: 3})()})()

    screen = _Terminal()
    progress = TrainingProgress(10, stream=screen, min_interval_s=0, evaluation_batches=5)
    progress.set_model(Model())
    progress.on_train_begin()
    progress.on_train_batch_end(2, {"loss": 1.5})
    progress.on_test_batch_end(1)
    progress.on_epoch_end(0, {"iteration": 3, "loss": 1.5, "val_top1_error": 0.25})
    shown = screen.getvalue().split(terminal.CLEAR_LINE)
    assert shown[1] == "Compiling the training step…"
    assert shown[2].startswith("[#########.....................] 3/10  loss 1.5000")
    assert shown[3].startswith(shown[2]) and shown[3].endswith("  evaluating 2/5")
    assert shown[4].startswith("iteration  3/10  loss 1.5000  val top-1 25.00%")


def test_a_converters_output_is_hidden_and_everything_restored_after(capfd):
    logger = logging.getLogger("tensorflow")
    before = logger.level
    with startup.framework_output_hidden():
        os.write(2, b"fully_quantize: 0, inference_type: 6\n")  # what TFLite's C++ converter writes
        logger.warning("Function `__call__` contains input name(s) resource with unsupported characters")
        assert logger.level == logging.ERROR
    os.write(2, b"a line after it\n")
    assert capfd.readouterr().err == "a line after it\n" and logger.level == before


def test_runtime_notices_are_dropped_and_every_other_line_kept(capfd):
    notice = (
        "E0000 00:00:1796492428.755231    8439 util.cc:131] oneDNN supports DT_INT64 only on platforms with "
        "AVX-512. Falling back to the default Eigen-based implementation if present."
    )
    with startup.framework_notices_dropped():
        os.write(2, (notice + "\n").encode())
        os.write(2, b"UserWarning: a warning the user should read\n")
    assert capfd.readouterr().err == "UserWarning: a warning the user should read\n"
    assert startup.is_framework_notice(notice) and not startup.is_start_up_notice(notice)
