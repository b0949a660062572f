"""What a training run prints on a terminal: a live progress line that evaluation lines replace
(never glued to it); one summary at the end. In a log file: test_main_job_shortened."""

from __future__ import annotations

import os
import pty
import subprocess
import time

from journey import argv_of, offline_env

COMMAND = (
    "python -m keras_resnet_paper.train --recipe cifar10_paper --model resnet8 --offline "
    "--iterations 20 --eval_every 10 --notensorboard --model_dir run"
)


def _run_on_terminal(argv, cwd, timeout=600) -> tuple[int, str]:
    """Run `argv` with stdout and stderr on a pseudo-terminal, as in an interactive shell."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=offline_env()
    )
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
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_terminal_shows_a_live_line_and_clean_evaluation_lines(run_command):
    status, screen = _run_on_terminal(argv_of(COMMAND), run_command.work)
    assert status == 0, screen[-3000:]
    assert "\r\x1b[K[" in screen, "a live progress line on a terminal"
    lines = screen.replace("\r\n", "\n").split("\n")
    evaluations = [l for l in lines if "iteration 10/20" in l or "iteration 20/20" in l]
    assert len(evaluations) == 2, screen[-3000:]
    for line in evaluations:  # each replaces the live line: nothing of the bar is left before it
        assert line.rsplit("\x1b[K", 1)[-1].startswith("iteration "), repr(line)
    assert screen.count("Done: resnet8") == 1
    assert "New best" not in screen  # the best evaluation is marked on its own line instead


# What a log file (stdout a pipe) shows is asserted by test_readme_commands.py::test_main_job_shortened.
