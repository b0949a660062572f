"""tf.data plumbing shared by the CIFAR and ImageNet pipelines: seeds, sharding, options."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_resnet_paper.validation import check_seed

__all__ = ["resolve_seed", "base_seed", "shard_for", "with_options"]


def resolve_seed(seed: int | None) -> int:
    """`seed` (an int in [0, 2**63 - 1], TensorFlow's int64 seeds), or a fresh one from the OS when
    None (so a None-seeded run is still self-consistent)."""
    seed = check_seed("seed", seed)
    if seed is None:
        return int(np.random.default_rng().integers(0, 2**31 - 1))
    return seed


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
