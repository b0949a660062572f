"""What a training run prints on a terminal: only our own lines (no TensorFlow, absl or CUDA
line), a live progress line that evaluation lines and messages replace (never glued to it), one
summary at the end; a Ctrl-C says so on its own line. In a log file: test_main_job_shortened."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import time

from journey import argv_of, offline_env

COMMAND = (
    "python -m keras_resnet_paper.train --recipe cifar10_paper --model resnet8 --offline "
    "--iterations 10 --eval_every 5 --notensorboard --model_dir run"
)
#: A line of the framework's: absl's prefix (I1205 07:22:31.93 or I0000 00:00:17...), its start-up notices.
FRAMEWORK_LINE = re.compile(r"(^|[\r\n\x1b\[K])[IWEF]\d{4} \d\d:\d\d|absl::InitializeLog|oneDNN|cuda|cuInit", re.I)


def _run_on_terminal(argv, cwd, timeout=600, interrupt_at: bytes | None = None) -> tuple[int, str]:
    """Run `argv` with stdout and stderr on a pseudo-terminal, as in an interactive shell, without
    TF_CPP_MIN_LOG_LEVEL; with `interrupt_at`, a SIGINT (Ctrl-C) once that text has been shown."""
    env = offline_env()
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks, deadline = [], time.time() + timeout
    while time.time() < deadline:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
        if interrupt_at is not None and interrupt_at in b"".join(chunks):
            proc.send_signal(signal.SIGINT)
            interrupt_at = None
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def _starts_a_line(screen: str, text: str) -> bool:
    where = screen.index(text)
    return where == 0 or screen[:where].endswith(("\n", "\x1b[K"))


def test_terminal_shows_our_lines_only_and_a_ctrl_c_on_its_own_line(run_command):
    # a run long enough that the Ctrl-C at its first progress line always lands during training
    long_run = COMMAND.replace("--iterations 10", "--iterations 2000").replace("--model_dir run", "--model_dir long")
    status, screen = _run_on_terminal(argv_of(long_run), run_command.work, interrupt_at=b"\r\x1b[K[")
    assert status == 130, screen[-3000:]
    assert not FRAMEWORK_LINE.search(screen), screen[:3000]
    for message in ("SIGINT received: stopping after this step", "Stopped by SIGINT at step"):
        assert message in screen and _starts_a_line(screen, message), repr(screen[-1500:])

    status, screen = _run_on_terminal(argv_of(COMMAND), run_command.work)
    assert status == 0, screen[-3000:]
    assert not FRAMEWORK_LINE.search(screen), screen[:3000]
    assert "\r\x1b[K[" in screen, "a live progress line on a terminal"
    lines = screen.replace("\r\n", "\n").split("\n")
    evaluations = [l for l in lines if "iteration  5/10" in l or "iteration 10/10" in l]
    assert len(evaluations) == 2, screen[-3000:]
    for line in evaluations:  # each replaces the live line: nothing of the bar is left before it
        assert line.rsplit("\x1b[K", 1)[-1].startswith("iteration "), repr(line)
    assert screen.count("Done: resnet8") == 1
    assert "New best" not in screen  # the best evaluation is marked on its own line instead
    # every phase of seconds says what it does, with its steps where it has them, and is erased after
    phases = ["Starting TensorFlow…", "Loading the data and building resnet8…", "Compiling the training step…"]
    phases += ["  evaluating ", "Evaluating on the test set  [####################] 3/3"]
    for phase in phases:
        assert phase in screen, repr(screen[:2000])
        after = screen[screen.index(phase) + len(phase) :].lstrip("0123456789/")
        assert after.startswith("\r\x1b[K"), repr(after[:200])  # nothing glued on: the next line replaces it


# What a log file (stdout a pipe) shows is asserted by test_readme_commands.py::test_main_job_shortened.


def test_sigterm_during_start_up_is_one_line_saying_nothing_was_trained(run_command):
    env = offline_env()
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.Popen(
        argv_of(COMMAND), cwd=run_command.work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # TensorFlow's libraries are being loaded: the command is starting
        with open(f"/proc/{proc.pid}/maps") as maps:
            if "tensorflow" in maps.read():
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, (out, err)
    assert (out, err) == ("", "Stopped by SIGTERM during start-up: nothing was trained.\n")
    assert not (run_command.work / "run").exists()
