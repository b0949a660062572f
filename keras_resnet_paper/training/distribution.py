"""Data parallelism without tf.distribute: `keras.distribution` on the JAX backend.

`make_distribution(name)` turns the command line's `--strategy` into a `KerasDistribution`, the
part of the `tf.distribute.Strategy` interface the trainer uses (`num_replicas_in_sync`, `scope`)
over a `keras.distribution.DataParallel` (or one device). The input stays tf.data in *global*
batches: Keras splits each batch over the devices.

- `default`: one device (the first accelerator, else the CPU).
- `mirrored`, or `auto` with several local devices: `DataParallel` over every local device
  (GPUs, TPU cores, or host CPU devices made with `XLA_FLAGS=--xla_force_host_platform_device_count=N`).
- `multi_worker`: not yet (`backends` refuses it on JAX): Keras' multi-process `DataParallel`
  splits every batch over the processes, and a test set's last partial batch does not split.

The batch mean and variance of BatchNormalization are then over the global batch (XLA computes
them on the sharded batch), i.e. `--sync_bn`, where TensorFlow's `mirrored` keeps them per replica.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras

__all__ = ["KerasDistribution", "make_distribution"]


class KerasDistribution:
    """One device or a `keras.distribution.Distribution`, with the strategy interface the trainer uses.

    `kind` is "default" or "mirrored" (the `--strategy` it came from).
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


def make_distribution(name: str = "auto") -> KerasDistribution:
    """`--strategy` `name` on the JAX backend (see the module doc); ValueError for another name."""
    if name not in ("auto", "default", "mirrored"):
        raise ValueError(f"--strategy={name!r} on the JAX backend; choose one of ('auto', 'default', 'mirrored').")
    devices = keras.distribution.list_devices()
    if name == "default" or (name == "auto" and len(devices) == 1):
        return KerasDistribution(None, "default")
    return KerasDistribution(keras.distribution.DataParallel(devices=devices), "mirrored")
