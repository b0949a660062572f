"""tf.data plumbing shared by the CIFAR and ImageNet pipelines: seeds, sharding, options."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["resolve_seed", "base_seed", "shard_for", "with_options"]


def resolve_seed(seed: int | None) -> int:
    """`seed`, or a fresh one from the OS when None (so a None-seeded run is still self-consistent)."""
    if seed is None:
        return int(np.random.default_rng().integers(0, 2**31 - 1))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int or None; got {seed!r}.")
    return int(seed)


def base_seed(seed: int, input_context: tf.distribute.InputContext | None) -> tf.Tensor:
    """The stream seed [seed, worker id]: workers draw different augmentations."""
    worker = input_context.input_pipeline_id if input_context is not None else 0
    return tf.constant([seed, worker], tf.int64)


def shard_for(dataset: tf.data.Dataset, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
    """This worker's shard of `dataset` (every n-th element) when there are several input pipelines."""
    if input_context is None or input_context.num_input_pipelines == 1:
        return dataset
    return dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)


def with_options(dataset: tf.data.Dataset, deterministic: bool) -> tf.data.Dataset:
    """Set the order switch: deterministic order, or fastest (elements as soon as they are ready)."""
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    options.experimental_optimization.map_parallelization = True
    return dataset.with_options(options)
