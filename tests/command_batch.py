"""Many command lines of one command in one Python process, each run as the command runs it.

A subprocess pays TensorFlow's start-up (4-6 s on 2 cores) before it parses a flag, so testing 11
command-line mistakes as 11 subprocesses costs a minute for a few milliseconds of work. Here one
subprocess (`python tests/command_batch.py`, the package as `pip install .` put it, or the working
tree with PYTHONPATH) loads the command once and runs every command line through
`keras_resnet_paper.cli.call`: the command's own flag parsing, `--help`, one-line mistakes and
exit statuses, with file descriptors 1 and 2 captured per run (TensorFlow's C++ lines included)
and each run in its own working folder. What it leaves out is absl's once-per-process start-up
(`app.run`), which the journeys test with one real subprocess per documented command.

    outcomes = run_batch("python -m keras_resnet_paper.train", [["--batch_size", "0"], ...], tmp_path, env)
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
#: Lines TensorFlow's C++ runtime prints at start-up, whatever the command (not the command's output).
RUNTIME_NOISE = (
    "I0000 ",
    "W0000 ",
    "E0000 ",
    "WARNING: All log messages before absl::InitializeLog",
    "To enable the following instructions",
)


@dataclasses.dataclass
class Outcome:
    """A finished command line: its argv, exit status, output, and the folder it ran in."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    cwd: pathlib.Path | None = None
    seconds: float = 0.0

    @property
    def stderr_lines(self) -> list[str]:
        """stderr without TensorFlow's start-up lines."""
        return [l for l in self.stderr.splitlines() if l.strip() and not l.startswith(RUNTIME_NOISE)]

    @property
    def last_error(self) -> str:
        return self.stderr_lines[-1] if self.stderr_lines else ""

    def describe(self) -> str:
        return (
            f"$ {shlex.join(self.argv)}\n-> exit {self.returncode}\n--- stdout (tail)\n{self.stdout[-3000:]}"
            f"\n--- stderr (tail)\n{chr(10).join(self.stderr_lines[-40:])}"
        )


def run_batch(
    command: str,
    runs: list[list[str]],
    folder: pathlib.Path,
    env: dict[str, str],
    timeout: float = 600,
    setup: list | None = None,
) -> list[Outcome]:
    """Run `command` (a documented command: "python -m keras_resnet_paper.train",
    "python examples/detection.py", ...) with each argument list of `runs`, all in one subprocess;
    run i works in its own folder `folder / f"run{i}"`, empty unless `setup[i](folder)` fills it."""
    cwds = []
    for i in range(len(runs)):
        cwds.append(folder / f"run{i}")
        cwds[-1].mkdir(parents=True, exist_ok=True)
        if setup and setup[i]:
            setup[i](cwds[-1])
    request = {"command": command, "runs": [{"args": list(a), "cwd": str(c)} for a, c in zip(runs, cwds)]}
    done = subprocess.run(
        [sys.executable, __file__],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=timeout,
    )
    results = [json.loads(l[len("OUTCOME ") :]) for l in done.stdout.splitlines() if l.startswith("OUTCOME ")]
    assert done.returncode == 0 and len(results) == len(runs), (
        f"the batch of {command!r} stopped (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return [Outcome(r["argv"], r["status"], r["stdout"], r["stderr"], c, r["seconds"]) for r, c in zip(results, cwds)]


def _load_script(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(command: str):
    """(argv[0], run(argv) -> exit status) of a documented command, loaded once."""
    from keras_resnet_paper import cli

    words = shlex.split(command)
    if words[:3] == ["python", "-m", "keras_resnet_paper.reproduce"] or words[0] == "keras-resnet-paper-reproduce":
        from keras_resnet_paper.reproduce import command as reproduce

        argv0 = reproduce.__file__.replace("command.py", "__main__.py") if words[0] == "python" else words[0]
        return argv0, lambda argv: cli.call(
            reproduce.main, argv, doc=reproduce.__doc__, modules=(reproduce.__name__,), prog=reproduce._prog()
        )
    if words[:3] == ["python", "-m", "keras_resnet_paper.export"]:
        from keras_resnet_paper import export

        return export.__file__, lambda argv: cli.call(
            export.main, argv, doc=export.__doc__, modules=(export.__name__,), prog=export.PROG
        )
    if words[:3] == ["python", "-m", "keras_resnet_paper.train"] or words[0] == "keras-resnet-paper-train":
        from keras_resnet_paper import train

        argv0 = train.__file__ if words[0] == "python" else words[0]
        return argv0, lambda argv: cli.call(train.main, argv, doc=train.__doc__, modules=(train.__name__,))
    script = REPO / words[1]
    module = _load_script(script)  # before the training command's flags: the examples define their own
    if hasattr(module, "main"):  # transfer_learning.py, detection.py
        module.define_flags()
        return str(script), lambda argv: cli.call(module.main, argv, doc=module.__doc__)
    from keras_resnet_paper import train  # train_cifar10.py / train_imagenet.py: its defaults set

    return str(script), lambda argv: cli.call(
        train.main, argv, doc=train.__doc__, modules=(module.__name__, train.__name__)
    )


def _captured(run, argv: list[str], cwd: str) -> dict:
    """Run one command line with fds 1 and 2 (Python's and C++'s output) in temporary files."""
    saved = [os.dup(1), os.dup(2)]
    files = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
    here, start = os.getcwd(), time.time()
    sys.stdout.flush(), sys.stderr.flush()
    os.dup2(files[0].fileno(), 1), os.dup2(files[1].fileno(), 2)
    try:
        os.chdir(cwd)
        sys.argv = list(argv)
        status = run(argv)
    finally:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(saved[0], 1), os.dup2(saved[1], 2)
        os.chdir(here)
    texts = []
    for f in files:
        f.seek(0)
        texts.append(f.read().decode("utf-8", "replace"))
    return {"argv": argv, "status": status, "stdout": texts[0], "stderr": texts[1], "seconds": time.time() - start}


def main() -> None:
    if sys.path and pathlib.Path(sys.path[0]).resolve() == pathlib.Path(__file__).resolve().parent:
        del sys.path[0]  # tests/ holds folders named data/, models/ ...: not importable packages
    request = json.loads(sys.stdin.read())
    argv0, run = _entry(request["command"])
    out = os.fdopen(os.dup(1), "w")
    for item in request["runs"]:
        result = _captured(run, [argv0, *item["args"]], item["cwd"])
        out.write("OUTCOME " + json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
