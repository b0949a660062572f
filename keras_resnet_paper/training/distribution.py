"""Data parallelism without tf.distribute: `keras.distribution` on the JAX backend.

`make_distribution(name)` turns the command line's `--strategy` into a `KerasDistribution`, the
part of the `tf.distribute.Strategy` interface the trainer uses (`num_replicas_in_sync`, `scope`)
over a `keras.distribution.DataParallel` (or one device). The input stays tf.data in *global*
batches: Keras splits each batch over the devices (and, across processes, shards the stream).

- `default`: one device (the first accelerator, else the CPU).
- `mirrored`, or `auto` with several local devices: `DataParallel` over every local device
  (GPUs, TPU cores, or host CPU devices made with `XLA_FLAGS=--xla_force_host_platform_device_count=N`).
- `multi_worker`: one process per machine, `keras.distribution.initialize()` from the
  `KERAS_DISTRIBUTION_JOB_ADDRESSES` / `_NUM_PROCESSES` / `_PROCESS_ID` variables, then
  `DataParallel` over the devices of every process; process 0 is the chief.

The batch mean and variance of BatchNormalization are then over the global batch (XLA computes
them on the sharded batch), i.e. `--sync_bn`, where TensorFlow's `mirrored` keeps them per replica.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import keras

__all__ = ["KerasDistribution", "make_distribution", "MULTI_PROCESS_VARIABLES", "process_id"]

#: The environment of a multi-process run (read by `keras.distribution.initialize`).
MULTI_PROCESS_VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                           "KERAS_DISTRIBUTION_PROCESS_ID")


class KerasDistribution:
    """One device or a `keras.distribution.Distribution`, with the strategy interface the trainer uses.

    `kind` is "default", "mirrored" or "multi_worker" (the `--strategy` it came from).
    """

    def __init__(self, distribution: keras.distribution.Distribution | None = None, kind: str = "default"):
        self.distribution = distribution
        self.kind = kind

    @property
    def num_replicas_in_sync(self) -> int:
        """Devices the global batch is split over (1 for one device)."""
        if self.distribution is None:
            return 1
        return int(self.distribution.device_mesh.devices.size)

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Variables made, and `fit`/`evaluate` run, inside it are laid out over the devices."""
        if self.distribution is None:
            yield
            return
        with self.distribution.scope():
            yield

    def __repr__(self) -> str:
        return f"KerasDistribution({self.kind}, {self.num_replicas_in_sync} device(s))"


def process_id() -> int:
    """This process's index in a multi-process run (0, the chief, when there is one process)."""
    value = os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"KERAS_DISTRIBUTION_PROCESS_ID={value!r}: use the process index 0, 1, ...") from None


def _initialize_processes() -> None:
    missing = [name for name in MULTI_PROCESS_VARIABLES if not os.environ.get(name)]
    if missing:
        raise ValueError(
            f"--strategy=multi_worker on the JAX backend needs {', '.join(missing)}, e.g. "
            "KERAS_DISTRIBUTION_JOB_ADDRESSES=host1:1234 KERAS_DISTRIBUTION_NUM_PROCESSES=2 "
            "KERAS_DISTRIBUTION_PROCESS_ID=0 (1 on the second machine).")
    process_id()  # a ValueError naming a bad id before JAX waits for the cluster
    keras.distribution.initialize()


def make_distribution(name: str = "auto") -> KerasDistribution:
    """`--strategy` `name` on the JAX backend (see the module doc); ValueError for `tpu` or an unknown name."""
    if name == "tpu":
        raise ValueError("--strategy=tpu is TensorFlow's TPUStrategy; on the JAX backend a TPU's cores are local "
                         "devices: use --strategy=auto or mirrored (keras.distribution.DataParallel).")
    if name not in ("auto", "default", "mirrored", "multi_worker"):
        raise ValueError(f"--strategy={name!r}; choose one of ('auto', 'default', 'mirrored', 'multi_worker').")
    if name == "multi_worker":
        _initialize_processes()
        return KerasDistribution(keras.distribution.DataParallel(), "multi_worker")
    devices = keras.distribution.list_devices()
    if name == "default" or (name == "auto" and len(devices) == 1):
        return KerasDistribution(None, "default")
    return KerasDistribution(keras.distribution.DataParallel(devices=devices), "mirrored")
