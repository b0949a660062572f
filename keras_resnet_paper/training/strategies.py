"""Distribution strategies: one device, all local GPUs, many machines, TPU.

`make_strategy(name)` builds the strategy; `resolve_options(...)` checks the combination of
strategy, XLA and precision and falls back explicitly (logged) where it cannot work.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf
from absl import logging

__all__ = [
    "STRATEGIES",
    "make_strategy",
    "per_replica_batch",
    "resolve_options",
    "RunOptions",
    "is_chief",
    "strategy_kind",
    "PRECISIONS",
    "worker_agreement",
]

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


def _gpus():
    return tf.config.list_logical_devices("GPU")


def make_strategy(name: str = "auto", tpu: str | None = None) -> tf.distribute.Strategy:
    """Build a strategy.

    auto: `mirrored` when there are several local GPUs, else `default`.
    default: one device (`OneDeviceStrategy` on the first GPU, else the CPU).
    mirrored: `MirroredStrategy` over all local GPUs (or all logical CPUs when there is no GPU).
    multi_worker: `MultiWorkerMirroredStrategy`, cluster read from the TF_CONFIG environment
      variable (one process per machine, the same command on each).
    tpu: `TPUStrategy` via `TPUClusterResolver(tpu)` ("" or None: the local/default TPU).
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy={name!r}; choose one of {STRATEGIES}.")
    if name == "auto":
        name = "mirrored" if len(_gpus()) > 1 else "default"
        logging.info("--strategy=auto -> %s (%d GPU(s) visible).", name, len(_gpus()))
    if name == "default":
        # OneDeviceStrategy, not the no-op default strategy: Keras then feeds every strategy the
        # same way (it draws one batch to build the model, then restarts the input), so one
        # device and `mirrored` see the same images at every step.
        device = (_gpus() or tf.config.list_logical_devices("CPU"))[0].name
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        devices = [d.name for d in _gpus()] or [d.name for d in tf.config.list_logical_devices("CPU")]
        logging.info("MirroredStrategy over %s.", devices)
        cross = None if _gpus() else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross)
    if name == "multi_worker":
        config = os.environ.get("TF_CONFIG")
        if not config:
            raise ValueError(
                "--strategy=multi_worker needs TF_CONFIG, e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
            )
        cluster = json.loads(config).get("cluster", {})
        logging.info("MultiWorkerMirroredStrategy, cluster %s.", cluster)
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def per_replica_batch(global_batch: int, strategy: tf.distribute.Strategy) -> int:
    """The global batch split evenly over the replicas; ValueError if it does not divide."""
    n = strategy.num_replicas_in_sync
    if global_batch % n:
        raise ValueError(f"Global batch {global_batch} does not split over {n} replicas; use a multiple of {n}.")
    return global_batch // n


def is_chief() -> bool:
    """True on the process that writes logs, reports and the best model (chief, else worker 0)."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task")
    if not task:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def worker_agreement(strategy) -> Callable[[bool], bool]:
    """A function of a flag: its OR over the workers of a MultiWorkerMirroredStrategy (one
    all-reduce; every worker calls it at the same step); the flag itself under any other strategy."""
    if strategy is None or strategy_kind(strategy) != "multi_worker":
        return bool

    @tf.function
    def summed(value):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(tf.identity, args=(value,)), axis=None)

    return lambda flag: bool(summed(tf.constant(float(flag))).numpy() > 0)


def strategy_kind(strategy) -> str:
    """The --strategy name of a tf.distribute.Strategy object."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "multi_worker"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "mirrored"
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    return "default"


@dataclass(frozen=True)
class RunOptions:
    jit_compile: bool
    precision: str
    fallbacks: tuple[str, ...] = ()


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def resolve_options(strategy, jit_compile: bool, precision: str) -> RunOptions:
    """Check XLA / precision against the strategy and the devices; fall back explicitly.

    * XLA (`jit_compile`) under Mirrored/MultiWorkerMirrored strategies on CPU devices: the
      compiled step fails on variables held by another CPU device; XLA is turned off (logged).
    * `mixed_float16` without a GPU: float16 matmuls/convolutions are emulated and very slow on CPU;
      it still runs (the loss-scale logic is exercised), a warning says so.
    * `mixed_bfloat16` is the native choice on TPU; `mixed_float16` on TPU falls back to bfloat16.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"--precision={precision!r}; choose one of {PRECISIONS}.")
    kind = strategy_kind(strategy)
    notes = []
    if jit_compile and kind in ("mirrored", "multi_worker") and not _gpus():
        notes.append(
            f"--jit_compile is not supported by the {kind} strategy on CPU devices (the XLA step cannot "
            "reach the replicas' variables on other CPU devices: tensorflow.org/xla/known_issues); "
            "falling back to jit_compile=False."
        )
        jit_compile = False
    if kind == "tpu" and precision == "mixed_float16":
        notes.append("mixed_float16 is not supported on TPU; falling back to mixed_bfloat16.")
        precision = "mixed_bfloat16"
    if precision == "mixed_float16" and not _gpus() and kind != "tpu":
        notes.append("mixed_float16 on CPU runs but is emulated and slow; use a GPU for speed.")
    for note in notes:
        logging.warning("%s", note)
    return RunOptions(jit_compile=jit_compile, precision=precision, fallbacks=tuple(notes))
