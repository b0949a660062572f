"""Runs a grid: each run is `python -m keras_resnet_paper.train ... --model_dir GRID_DIR/<run>` in
a subprocess on a device slot, as many side by side as there are slots.

Because a run is the ordinary training command in its own folder, a killed grid resumes where it
stopped (the trainer resumes each interrupted run from its checkpoint) and a finished run is never
started again. A lock file per run keeps two grid commands (or machines sharing the folder) from
training the same run at once. The output of each run goes to `GRID_DIR/logs/<run>.log`; what was
launched where, to `GRID_DIR/logs/<run>.json`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from keras_resnet_paper.reproduce.devices import describe_hardware, slot_environment
from keras_resnet_paper.reproduce.grid import GridSettings, Run

__all__ = ["train_command", "RunLock", "RunOutcome", "run_grid", "LOGS"]

LOGS = "logs"
USAGE_EXIT = 2  # the training command's exit status for a mistake or missing data: the same for every run
_NOISE = ("I0000 ", "W0000 ", "E0000 ", "WARNING: All log messages", "To enable the following", "I1", "W1")


def train_command(
    run: Run, settings: GridSettings, *, data_dir: str | None = None, ten_crop: bool = False
) -> list[str]:
    """The training command line of `run` (docs: `python -m keras_resnet_paper.train --help`)."""
    argv = [
        sys.executable,
        "-m",
        "keras_resnet_paper.train",
        "--recipe",
        settings.recipe,
        "--model",
        run.net.model,
        "--model_dir",
        run.directory,
        "--seed",
        str(run.seed),
        "--verbose",
        "2",
        *run.net.train_flags,
    ]
    if settings.offline:
        argv += ["--offline", "--deterministic"]
    if settings.iterations:
        argv += ["--iterations", str(settings.iterations)]
    if data_dir:
        argv += ["--data_dir", data_dir]
    if ten_crop and not settings.offline:
        argv.append("--ten_crop")
    return argv + list(settings.train_flags)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """`GRID_DIR/logs/<run>.lock`: who trains the run now (host, grid pid, trainer pid). A lock
    left by a killed grid on this host (both processes gone) is taken over."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.held = False

    def holder(self) -> dict | None:
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _stale(self, info: dict | None) -> bool:
        if info is None or info.get("host") != socket.gethostname():
            return info is None
        return not any(_alive(int(p)) for p in (info.get("pid"), info.get("child")) if p)

    def acquire(self) -> bool:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if not self._stale(self.holder()):
                    return False
                os.remove(self.path)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"host": socket.gethostname(), "pid": os.getpid()}, f)
            self.held = True
            return True
        return False

    def record_child(self, pid: int) -> None:
        with open(self.path, "w") as f:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "child": pid}, f)

    def release(self) -> None:
        if self.held:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            self.held = False


@dataclasses.dataclass
class RunOutcome:
    run: Run
    returncode: int | None  # None: not started (locked elsewhere, or the grid stopped first)
    seconds: float = 0.0
    last_error: str = ""


def _last_error(log_path: str) -> str:
    """The last meaningful line of a run's log (its one-line error, if it failed)."""
    try:
        with open(log_path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith(_NOISE)]
    except OSError:
        return ""
    errors = [line for line in lines if ": error: " in line or "Error" in line]
    return (errors or lines or [""])[-1][:300]


def _record_launch(path: str, command: Sequence[str], slot: Sequence[str], outcome: dict) -> None:
    info = {}
    if os.path.exists(path):
        with open(path) as f:
            info = json.load(f)
    info.update(command=list(command), hardware=describe_hardware(slot))
    info.setdefault("attempts", []).append(outcome)
    with open(path, "w") as f:
        json.dump(info, f, indent=1)


class _Launched:
    def __init__(self, run, slot, process, lock, log, started):
        self.run, self.slot, self.process, self.lock, self.log, self.started = run, slot, process, lock, log, started


def _start(run: Run, slot, command, logs_dir, launch) -> _Launched | None:
    lock = RunLock(os.path.join(logs_dir, f"{run.name}.lock"))
    if not lock.acquire():
        return None
    log_path = os.path.join(logs_dir, f"{run.name}.log")
    log = open(log_path, "a")
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    try:
        process = launch(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=slot_environment(slot)
        )
    except BaseException:
        log.close()
        lock.release()
        raise
    lock.record_child(process.pid)
    return _Launched(run, slot, process, lock, log, time.time())


def _finish(job: _Launched, command, logs_dir) -> RunOutcome:
    job.log.close()
    seconds = time.time() - job.started
    code = job.process.returncode
    _record_launch(
        os.path.join(logs_dir, f"{job.run.name}.json"),
        command,
        job.slot,
        {"start": job.started, "seconds": round(seconds, 1), "returncode": code},
    )
    job.lock.release()
    return RunOutcome(job.run, code, seconds, "" if code == 0 else _last_error(job.log.name))


def run_grid(
    runs: Sequence[Run],
    slots: Sequence[Sequence[str]],
    commands: Callable[[Run], list[str]],
    logs_dir: str,
    *,
    say: Callable[[str], None] = print,
    launch: Callable = subprocess.Popen,
    poll_s: float = 0.5,
) -> list[RunOutcome]:
    """Train `runs` (plan order), one per free slot at a time; stop starting new ones after a run
    fails with the training command's usage status (a missing data set fails every run alike).
    On an exception (Ctrl-C) the runs under way are stopped; the same command resumes them."""
    os.makedirs(logs_dir, exist_ok=True)
    queue, free, running, outcomes = list(runs), [tuple(s) for s in slots], [], []
    stop = False
    try:
        while queue or running:
            while queue and free and not stop:
                run, slot = queue.pop(0), free.pop(0)
                job = _start(run, slot, commands(run), logs_dir, launch)
                if job is None:
                    free.insert(0, slot)
                    outcomes.append(RunOutcome(run, None, last_error="being trained by another grid command"))
                    say(
                        f"{run.name}: skipped, being trained by another grid command ({os.path.join(logs_dir, run.name)}.lock)"
                    )
                    continue
                running.append(job)
                where = f"GPU {','.join(slot)}" if slot else "CPU"
                say(f"{run.name}: started on {where} (log {job.log.name})")
            if not running:
                break
            time.sleep(poll_s)
            for job in [j for j in running if j.process.poll() is not None]:
                running.remove(job)
                free.append(job.slot)
                outcome = _finish(job, commands(job.run), logs_dir)
                outcomes.append(outcome)
                if outcome.returncode == 0:
                    say(f"{job.run.name}: finished in {outcome.seconds:.0f} s")
                else:
                    say(
                        f"{job.run.name}: failed (exit {outcome.returncode}) after {outcome.seconds:.0f} s: {outcome.last_error}"
                    )
                    stop = stop or outcome.returncode == USAGE_EXIT
    finally:
        for job in running:
            job.process.terminate()
        for job in running:
            try:
                job.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                job.process.kill()
                job.process.wait()
            outcomes.append(_finish(job, commands(job.run), logs_dir))
    return outcomes
