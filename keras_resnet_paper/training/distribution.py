"""Data parallelism without tf.distribute: `keras.distribution` on the JAX backend.

`make_distribution(name)` turns the command line's `--strategy` into a `KerasDistribution`, the
part of the `tf.distribute.Strategy` interface the trainer uses (`num_replicas_in_sync`, `scope`)
over a `keras.distribution.DataParallel` (or one device). The input stays tf.data in *global*
batches: Keras splits each batch over the devices.

- `default`: one device (the first accelerator, else the CPU).
- `mirrored`, or `auto` with several local devices: `DataParallel` over every local device
  (GPUs, TPU cores, or host CPU devices made with `XLA_FLAGS=--xla_force_host_platform_device_count=N`).
- `multi_worker`: one JAX process per machine (or per GPU), joined by `keras.distribution.initialize`
  from `KERAS_DISTRIBUTION_JOB_ADDRESSES` (the coordinator, process 0, first),
  `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID` (or a cluster JAX finds
  itself: Slurm, Open MPI, Cloud TPU), then `DataParallel` over every device of every process.
  As TensorFlow's `multi_worker`, each process reads its own shard of the training files in
  per-process batches (`input_context`); evaluation batches are padded to full global batches
  whose padding weighs nothing (`evaluation_batches`), so every process runs the same number of
  steps and the error and loss are those of the whole test set.

The batch mean and variance of BatchNormalization are then over the global batch (XLA computes
them on the sharded batch), i.e. `--sync_bn`, where TensorFlow's `mirrored` keeps them per replica.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import keras

__all__ = ["KerasDistribution", "make_distribution", "evaluation_batches", "CLUSTER_VARIABLES"]

#: what `keras.distribution.initialize` reads to join a multi-process JAX run
CLUSTER_VARIABLES = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


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

    @property
    def num_processes(self) -> int:
        """JAX processes taking part (1 unless `multi_worker`)."""
        return 1 if self.distribution is None else int(getattr(self.distribution, "num_processes", 1) or 1)

    @property
    def process_id(self) -> int:
        """This process's index; 0 is the chief (it writes logs, checkpoints and the report)."""
        if self.num_processes == 1:
            return 0
        import jax

        return jax.process_index()  # public; Keras keeps its own copy only in a private attribute

    def input_context(self) -> Any:
        """This process's `tf.distribute.InputContext` (its shard, in per-process batches), or None
        on one process, where Keras splits the global batches over the local devices."""
        if self.num_processes == 1:
            return None
        import tensorflow as tf

        return tf.distribute.InputContext(
            num_input_pipelines=self.num_processes,
            input_pipeline_id=self.process_id,
            num_replicas_in_sync=self.num_processes,
        )

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


def _join_cluster() -> None:
    """`keras.distribution.initialize` (once per process, before any JAX computation); a ValueError
    naming the variables when no cluster is described."""
    import jax

    if jax.distributed.is_initialized():  # (jax.process_count() would start the backend: too early)
        return
    if not os.environ.get(CLUSTER_VARIABLES[0]) and not any(
        k in os.environ for k in ("SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES")
    ):
        raise ValueError(
            "--strategy=multi_worker on JAX needs the cluster: set "
            + ", ".join(CLUSTER_VARIABLES)
            + " on every process (or run under Slurm, Open MPI or a Cloud TPU pod)."
        )
    try:
        keras.distribution.initialize()
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"--strategy=multi_worker: JAX could not join the cluster ({first}); "
            f"check {', '.join(CLUSTER_VARIABLES)} and that no JAX computation ran before "
            "train()."
        ) from None


def make_distribution(name: str = "auto") -> KerasDistribution:
    """`--strategy` `name` on the JAX backend (see the module doc); ValueError for another name."""
    if name not in ("auto", "default", "mirrored", "multi_worker"):
        raise ValueError(
            f"--strategy={name!r} on the JAX backend; choose one of ('auto', 'default', 'mirrored', 'multi_worker')."
        )
    if name == "multi_worker":
        _join_cluster()
        devices = keras.distribution.list_devices()  # every device of every process
        # each process feeds its own shard (input_context), so Keras must not shard the data again
        return KerasDistribution(
            keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False), "multi_worker"
        )
    devices = keras.distribution.list_devices()
    if name == "default" or (name == "auto" and len(devices) == 1):
        return KerasDistribution(None, "default")
    return KerasDistribution(keras.distribution.DataParallel(devices=devices), "mirrored")


def evaluation_batches(dataset: Any, global_batch: int, num_processes: int, process_id: int) -> Any:
    """An evaluation set (batches of (images, labels)) as this process's part of full global batches.

    The set is re-batched to `global_batch`; the last batch is padded with blank images whose
    sample weight is 0, every real image weighs `c = padded size / size`, and each process keeps
    its slice of every batch. All processes then run the same number of equal steps (a partial
    batch cannot be split over processes), and Keras' weighted metrics and its loss (a mean over
    the padded batch, averaged over batches) come out as the plain means over the real images.
    One pass over the set counts its images first.
    """
    import numpy as np
    import tensorflow as tf

    if global_batch % num_processes:
        raise ValueError(f"Global batch {global_batch} does not split over {num_processes} processes.")
    size = int(dataset.reduce(np.int64(0), lambda n, batch: n + tf.cast(tf.shape(batch[1])[0], tf.int64)))
    if size == 0:
        raise ValueError("The evaluation set is empty.")
    padded = -(-size // global_batch) * global_batch
    weight = padded / size
    part = global_batch // num_processes
    start = process_id * part

    def pad(images, labels):
        real = tf.shape(labels)[0]
        blank = global_batch - real
        images = tf.pad(images, [[0, blank]] + [[0, 0]] * (len(images.shape) - 1))
        labels = tf.pad(labels, [[0, blank]] + [[0, 0]] * (len(labels.shape) - 1))
        weights = tf.concat([tf.fill([real], tf.constant(weight, tf.float32)), tf.zeros([blank], tf.float32)], 0)
        cut = slice(start, start + part)
        images, labels, weights = images[cut], labels[cut], weights[cut]
        return (
            tf.ensure_shape(images, [part, *images.shape[1:]]),
            tf.ensure_shape(labels, [part, *labels.shape[1:]]),
            tf.ensure_shape(weights, [part]),
        )

    batches = dataset.unbatch().batch(global_batch).map(pad, num_parallel_calls=tf.data.AUTOTUNE)
    # a known length: Keras then stops at the last batch instead of warning that the input ran out
    return batches.apply(tf.data.experimental.assert_cardinality(padded // global_batch)).prefetch(2)
