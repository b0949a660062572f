"""Resumable checkpoints on disk: written only when finite and verified, read back with fallback.

A checkpoint is a folder `ckpt-<step>` holding `model.weights.h5` (model *and optimizer* variables:
iteration counter, momenta, lr multipliers) and `state.json` (step, best value, callback states,
and the SHA-256 of the weights file). The iterations are the paper's (Sec. 4.2), so a resumed run
continues the same lr schedule.

Writing (`write_checkpoint`): refused if any variable is NaN/inf (`NonFiniteStateError`) or the
disk lacks room for it (`CheckpointWriteError`, checked *before* HDF5 writes: HDF5 can crash on a
full disk); the folder is written under a `.tmp-` name, re-read and verified (checksum, finite),
then renamed into place, then the index `checkpoint.json` is replaced atomically; the oldest
folders by step number are pruned last. A kill at any point leaves the previous checkpoint intact.

Reading (`usable_checkpoints`, `restore_newest`): the folders are the truth and `checkpoint.json`
only an index (rebuilt from them when missing or garbage). The newest folder that verifies is
used; a corrupt (truncated, zeroed, altered bytes, unreadable `state.json`) or non-finite one is
set aside as `ckpt-<step>.corrupt` with one log line, and the previous one is tried.

`RunLock` makes one run per model folder (an advisory `flock` the OS drops when the process
dies, so a killed run never leaves it stuck).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator

import h5py
import keras
import numpy as np
from absl import logging

from keras_resnet_paper import terminal
from keras_resnet_paper.atomic_files import atomic_write_text, replacing

__all__ = [
    "POINTER",
    "WEIGHTS",
    "STATE",
    "CheckpointWriteError",
    "NonFiniteStateError",
    "RunFolderBusyError",
    "atomic_write_text",
    "checkpoint_steps",
    "set_aside_checkpoint",
    "set_aside_unhealthy",
    "verify_checkpoint",
    "usable_checkpoints",
    "write_checkpoint",
    "remove_stale_temporaries",
    "rebuild_index",
    "RunLock",
    "outside_distribution",
]

POINTER = "checkpoint.json"
WEIGHTS = "model.weights.h5"
STATE = "state.json"
_NAME = re.compile(r"^ckpt-(\d{9,})$")
_SPARE_BYTES = 64 << 10  # state.json and HDF5 metadata, plus _SPARE_PER_VARIABLE, on top of the values
_SPARE_PER_VARIABLE = 4 << 10


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, read-only or missing folder); the previous one
    is intact."""


class NonFiniteStateError(RuntimeError):
    """The model or optimizer holds NaN/inf values; `.step` is the iteration, `.variable` the first one."""

    def __init__(self, step: int, variable: str):
        super().__init__(
            f"Training stopped: variable {variable!r} is not finite at step {step}; no checkpoint of it was "
            "written. Lower the learning rate (--lr), check the data, or use --precision=float32."
        )
        self.step, self.variable = step, variable


class RunFolderBusyError(RuntimeError):
    """Another process is training in this model folder."""


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_steps(directory: str) -> list[int]:
    """Steps of the `ckpt-<step>` folders in `directory`, newest (largest step) first."""
    if not os.path.isdir(directory):
        return []
    steps = [int(m.group(1)) for m in map(_NAME.match, os.listdir(directory)) if m]
    return sorted(steps, reverse=True)


def _folder(directory: str, step: int) -> str:
    return os.path.join(directory, f"ckpt-{step:09d}")


def _first_non_finite_h5(path: str) -> str | None:
    found = []

    def visit(name, obj):
        if not found and isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fc" and not np.all(np.isfinite(obj[()])):
            found.append(name)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return found[0] if found else None


def verify_checkpoint(path: str) -> dict:
    """The `state.json` of checkpoint folder `path` after checking it: readable, the step of its
    name, the weights file's checksum, every float tensor finite. Raises ValueError saying why not."""
    try:
        with open(os.path.join(path, STATE)) as f:
            state = json.load(f)
        step = state["step"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"unreadable {STATE} ({type(err).__name__}: {err})") from None
    match = _NAME.match(os.path.basename(os.path.normpath(path)))
    if not isinstance(step, int) or (match and int(match.group(1)) != step):
        raise ValueError(f"{STATE} names step {step!r}, not the folder's")
    weights = os.path.join(path, WEIGHTS)
    try:
        if "weights_sha256" in state and _sha256(weights) != state["weights_sha256"]:
            raise ValueError(f"{WEIGHTS} does not match its checksum (truncated or altered)")
        bad = _first_non_finite_h5(weights)
    except OSError as err:
        raise ValueError(f"unreadable {WEIGHTS} ({err})") from None
    if bad:
        raise ValueError(f"tensor {bad!r} holds NaN/inf")
    return state


def set_aside_checkpoint(path: str, reason: str) -> None:
    """Rename an unusable checkpoint to `<name>.corrupt` (kept for inspection, never loaded)."""
    logging.warning("Checkpoint %s is unusable (%s): set aside, trying the previous one.", path, reason)
    terminal.say(
        f"Checkpoint {os.path.basename(path)} is unusable ({reason}); falling back to the previous one.", sys.stdout
    )
    target = path + ".corrupt"
    shutil.rmtree(target, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.replace(path, target)


def set_aside_damaged_best(directory: str) -> None:
    """A `best.weights.h5` that cannot be read (a kill while it was copied elsewhere, a damaged
    disk) is renamed `best.weights.h5.damaged`, said in one line; the next new best writes it again."""
    path = os.path.join(directory, "best.weights.h5")
    if not os.path.exists(path):
        return
    try:
        with h5py.File(path, "r"):
            return
    except OSError as err:
        os.replace(path, path + ".damaged")
        terminal.say(
            f"{path} could not be read ({' '.join(str(err).split())[:100]}): set aside as best.weights.h5.damaged; "
            "the next new best writes it again.",
            sys.stdout,
        )


def set_aside_unhealthy(directory: str, diverged_step: int) -> int | None:
    """After a loss diverged at `diverged_step`: the checkpoints whose weights made it (steps from
    `diverged_step - 1` on) are renamed `<name>.exploded` (kept, never loaded); the newest healthy
    step left (None: none), which `checkpoint.json` then names."""
    for step in checkpoint_steps(directory):
        if step >= diverged_step - 1:
            target = _folder(directory, step) + ".exploded"
            shutil.rmtree(target, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.replace(_folder(directory, step), target)
    healthy = checkpoint_steps(directory)
    if healthy:
        rebuild_index(directory, healthy[0])
    return healthy[0] if healthy else None


def usable_checkpoints(directory: str, set_aside: bool = False) -> Iterator[tuple[str, dict]]:
    """(folder, state) of the checkpoints of `directory` that verify, newest first; the ones that do
    not are logged (and renamed `.corrupt` if `set_aside`, which only the run's owner may do)."""
    for step in checkpoint_steps(directory):
        path = _folder(directory, step)
        try:
            state = verify_checkpoint(path)
        except ValueError as err:
            if set_aside:
                set_aside_checkpoint(path, str(err))
            else:
                logging.warning("Checkpoint %s is unusable (%s).", path, err)
            continue
        yield path, state


def rebuild_index(directory: str, step: int) -> None:
    """Make `checkpoint.json` name checkpoint `step`, saying so if it was missing or garbage."""
    pointer = os.path.join(directory, POINTER)
    try:
        with open(pointer) as f:
            if json.load(f)["step"] == step:
                return
    except (OSError, ValueError, KeyError, TypeError) as err:
        terminal.say(
            f"{POINTER} was missing or unreadable ({type(err).__name__}); rebuilt from the checkpoint folders.",
            sys.stdout,
        )
    atomic_write_text(pointer, json.dumps({"latest": os.path.basename(_folder(directory, step)), "step": step}))


def _recover_replaced(directory: str) -> None:
    """Put back a checkpoint moved aside to be replaced by a rewrite of its step, if a kill came
    between the two renames (the only moment its step has no `ckpt-` folder)."""
    for name in os.listdir(directory):
        moved = os.path.join(directory, name, "ckpt")
        if name.startswith(".tmp-old-") and os.path.isdir(moved):
            with contextlib.suppress(ValueError, OSError):
                step = verify_checkpoint(moved)["step"]
                if not os.path.exists(_folder(directory, step)):
                    os.replace(moved, _folder(directory, step))
                    logging.info("Recovered checkpoint %d from an interrupted rewrite.", step)


def remove_stale_temporaries(*directories: str) -> None:
    """Delete `.tmp-*` files and folders an interrupted run left (only the folder's lock holder
    may), after recovering a checkpoint caught between two renames."""
    for directory in directories:
        if os.path.isdir(directory):
            _recover_replaced(directory)
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            if name.startswith(".tmp-"):
                path = os.path.join(directory, name)
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)


def _first_non_finite(model: keras.Model) -> str | None:
    for variable in [*model.variables, *model.optimizer.variables]:
        value = keras.ops.convert_to_numpy(variable)
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            return variable.path
    return None


def _check_room(directory: str, model: keras.Model) -> None:
    variables = [*model.variables, *model.optimizer.variables]
    needed = _SPARE_BYTES + sum(
        _SPARE_PER_VARIABLE + int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables
    )
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise CheckpointWriteError(f"no room for a checkpoint in {directory}: {free} bytes free, about {needed} needed")


def save_weights_checked(model: keras.Model, path: str) -> None:
    """`model.save_weights(path)` through the checkpoints' checked path: room checked first (HDF5
    crashes the process when the disk fills under it), written beside and moved into place whole;
    any failure is a `CheckpointWriteError` naming the file, the previous file intact."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)  # the best of a first evaluation comes before any checkpoint
        _check_room(directory, model)
        with replacing(path, suffix=".weights.h5") as tmp, outside_distribution():
            model.save_weights(tmp, overwrite=True)
    except OSError as err:
        raise CheckpointWriteError(f"could not write {path} ({' '.join(str(err).split())})") from None


def _write_verified(model: keras.Model, directory: str, step: int, state: dict) -> str:
    """The checkpoint written into a `.tmp-` folder of `directory` and verified; its path."""
    tmp = tempfile.mkdtemp(dir=directory, prefix=f".tmp-ckpt-{step:09d}-")
    try:
        model.save_weights(os.path.join(tmp, WEIGHTS))
        state = {**state, "step": step, "weights_sha256": _sha256(os.path.join(tmp, WEIGHTS))}
        atomic_write_text(os.path.join(tmp, STATE), json.dumps(state))
        verify_checkpoint(tmp)
        return tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def outside_distribution() -> Iterator[None]:
    """Run a write outside the keras.distribution scope (JAX): Keras' saving makes throw-away
    variables, which under a `DataParallel` are laid out over every device (and, over several
    processes, wait for a collective the others never join). The model's variables are replicated:
    they read the same either way. Nothing changes on TensorFlow and PyTorch (no distribution)."""
    current = keras.distribution.distribution()
    if current is None:
        yield
        return
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(current)


def write_checkpoint(model: keras.Model, directory: str, step: int, state: dict, keep: int = 2) -> str:
    """Write checkpoint `step` of `model` (weights and optimizer) with `state` into `directory`,
    keep the `keep` newest by step; the folder's path. Raises `NonFiniteStateError` (nothing
    written) or `CheckpointWriteError` (the previous checkpoint intact)."""
    bad = _first_non_finite(model)
    if bad:
        raise NonFiniteStateError(step, bad)
    try:
        os.makedirs(directory, exist_ok=True)
        _check_room(directory, model)
        with outside_distribution():
            tmp = _write_verified(model, directory, step, state)
        final = _folder(directory, step)
        if os.path.exists(final):  # the same step again (e.g. with the evaluation's best value)
            old = tempfile.mkdtemp(dir=directory, prefix=".tmp-old-")
            os.replace(final, os.path.join(old, "ckpt"))
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        atomic_write_text(
            os.path.join(directory, POINTER), json.dumps({"latest": os.path.basename(final), "step": step})
        )
    except (OSError, ValueError) as err:
        raise CheckpointWriteError(
            f"could not write checkpoint {step} in {directory} ({err}); the previous checkpoint is intact"
        ) from None
    for old_step in checkpoint_steps(directory)[keep:]:
        shutil.rmtree(_folder(directory, old_step), ignore_errors=True)
    return final


class RunLock:
    """An exclusive lock on a model folder: one run per folder. `acquire` raises
    `RunFolderBusyError` at once if another process holds it. The lock is the folder's own `flock`:
    no file left behind, dropped by the OS when the process ends however it ends. As a context
    manager it takes the lock if the folder exists (`acquire` again once it is created) and
    releases it on exit; `model_dir=None` locks nothing (a worker that does not write)."""

    def __init__(self, model_dir: str | None):
        self.model_dir = model_dir
        self._fd = None

    def acquire(self) -> None:
        if self.model_dir is None or self._fd is not None:
            return
        fd = os.open(self.model_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunFolderBusyError(
                f"model_dir={self.model_dir!r} is in use by another training run; wait for it "
                "to end or give another --model_dir."
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        if self.model_dir is not None and os.path.isdir(self.model_dir):
            self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
