"""Helpers of the journey suite (tests/journeys): the commands a user is told to run, run as that user would.

Each command runs as a subprocess of the installed package (`pip install .`, as the README says),
from an empty working folder, on an air-gapped machine (`offline/sitecustomize.py`: no name
resolution, no connection beyond 127.0.0.1), shortened by flags where the documented run takes
long. The assertions are on what the user reads: the exit status, the last lines, the files.
Many mistakes of one command run as one batch (`run_commands`, tests/command_batch.py).
"""

from __future__ import annotations

import os
import pathlib
import shlex
import sys
import tempfile

from command_batch import Outcome

REPO = pathlib.Path(__file__).parents[2]
OFFLINE = pathlib.Path(__file__).parent / "offline"


def argv_of(command: str) -> list[str]:
    """A documented command line as argv: `python` is this interpreter, scripts of the repository
    (examples/, benchmarks/) by their absolute path, the console script from this environment."""
    words = shlex.split(command)
    if words[0] in ("python", "python3"):
        words[0] = sys.executable
    elif words[0] == "keras-resnet-paper-train":
        words[0] = str(pathlib.Path(sys.executable).parent / words[0])
    return [str(REPO / w) if w.endswith(".py") and (REPO / w).exists() else w for w in words]


def offline_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    env.update(
        {
            "PYTHONPATH": str(OFFLINE),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "MPLBACKEND": "Agg",
            "PYTHONUNBUFFERED": "1",
            # a Keras home of its own: a command's downloads (from a local mirror) never reach the user's cache
            "KERAS_HOME": tempfile.mkdtemp(prefix="keras_home_"),
        }
    )
    env.update(extra or {})
    return env


def assert_one_line_error(outcome: Outcome, *fragments: str, status: int = 2) -> None:
    """The command failed with `status`, without a traceback, its last line an error naming `fragments`."""
    assert outcome.returncode == status, outcome.describe()
    assert "Traceback" not in outcome.stderr and "Traceback" not in outcome.stdout, outcome.describe()
    assert ": error: " in outcome.last_error, outcome.describe()
    for fragment in fragments:
        assert fragment in outcome.last_error, outcome.describe()
