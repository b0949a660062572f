"""Fixtures for the example scripts' tests: import a script of examples/ as a module, or run it as a
user does (a subprocess, stdout a pipe) on a machine with a fresh Keras and tfds home."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pathlib
import re
import socket
import subprocess
import sys
import time

import pytest
from command_batch import run_batch

ROOT = pathlib.Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def load_example():
    """load_example("detection") -> the module of examples/detection.py."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def closed_port_url() -> str:
    """http://127.0.0.1:<a port nobody listens on>/: a weights mirror that refuses at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def reachable(host: str, port: int = 443, timeout_s: float = 3.0) -> bool:
    """Whether this machine can open a connection to `host` (tests of the offline path skip if so)."""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError:
        return False
    return True


@dataclasses.dataclass
class Run:
    """A finished command: exit status, what it printed, and how long it took."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def line(self, prefix: str) -> str:
        """The first stdout line that starts with `prefix`."""
        found = [line for line in self.lines if line.startswith(prefix)]
        assert found, f"no line starting with {prefix!r} in:\n{self.stdout}\n{self.stderr[-3000:]}"
        return found[0]

    def assert_in_order(self, *prefixes: str) -> None:
        """Lines starting with each prefix exist, in this order."""
        where = [self.lines.index(self.line(prefix)) for prefix in prefixes]
        assert where == sorted(where), (prefixes, self.stdout)

    def assert_one_line_error(self, script: str, *fragments: str) -> str:
        """Exit status 2, no traceback, and exactly one `SCRIPT: error: ...` line, the last one on
        stderr, containing every fragment. Returns that line."""
        assert self.returncode == 2, (self.returncode, self.stdout, self.stderr[-3000:])
        assert "Traceback" not in self.stderr + self.stdout, self.stderr
        errors = [line for line in self.stderr.splitlines() if re.match(rf"{re.escape(script)}: error: ", line)]
        assert len(errors) == 1, self.stderr
        assert self.stderr.rstrip().splitlines()[-1] == errors[0], self.stderr
        for fragment in fragments:
            assert fragment in errors[0], (fragment, errors[0])
        return errors[0]


def _environment(tmp_path: pathlib.Path, env: dict[str, str | None]) -> dict[str, str]:
    """The examples' environment; a variable of `env` given as None is left unset."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_HOME": str(tmp_path / "keras_home"),
        "TFDS_DATA_DIR": str(tmp_path / "tensorflow_datasets"),
        "KERAS_RESNET_PAPER_WEIGHTS_URL": closed_port_url(),
        **env,
    }
    return {name: value for name, value in environment.items() if value is not None}


@pytest.fixture
def run_example(tmp_path):
    """run_example("detection", "--synthetic", ...) -> Run: `python examples/detection.py ...` from
    the repository root, importing the working tree, with an empty Keras home (no cached weights),
    an empty tfds data folder, and the weights mirror set to a closed local port (never a download).
    """

    def run(name: str, *args: str, timeout: float = 600, **env: str) -> Run:
        command = [sys.executable, str(EXAMPLES / f"{name}.py"), *args]
        start = time.time()
        done = subprocess.run(
            command, cwd=ROOT, env=_environment(tmp_path, env), capture_output=True, text=True, timeout=timeout
        )
        return Run(command, done.returncode, done.stdout, done.stderr, time.time() - start)

    return run


@pytest.fixture(scope="module")
def run_example_batch(tmp_path_factory):
    """run_example_batch("detection", [args, ...]) -> [Run, ...]: command lines of one example
    script run in one process (tests/command_batch.py: the script's own flag parsing and `main`,
    exit statuses, captured output), with the environment of `run_example`. For the many mistakes
    of one script; `run_example` runs a command line in a subprocess of its own."""

    def run(name: str, runs: list[list[str]], timeout: float = 600, **env: str) -> list[Run]:
        folder = tmp_path_factory.mktemp(f"{name}_batch")
        outcomes = run_batch(f"python examples/{name}.py", runs, folder, _environment(folder, env), timeout=timeout)
        return [Run(o.argv, o.returncode, o.stdout, o.stderr, o.seconds) for o in outcomes]

    return run
