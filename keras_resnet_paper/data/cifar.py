"""CIFAR input pipelines (Sec. 4.2; CIFAR-10 results in Table 6).

The whole set lives in memory. Training: per-pixel mean subtracted, pad 4 / random 32x32 crop /
random flip (on the host, or on the accelerator with `PadCropFlip`), shuffled, infinite, batched
with drop_remainder. Test: the original images, same mean. The 45k/5k train/validation split that
chose the schedule is `holdout=True`. The images come from tensorflow-datasets, from the original
binary archives (`cifar_binary`), from the offline digits, or from arrays.

    data = cifar_datasets("cifar10", batch_size=128, augment_on="device", seed=0)
    data = cifar_datasets("cifar10", data_dir="/data/cifar-10-binary.tar.gz")   # no tfds needed
    model = keras.Sequential([data.augmentation, ResNet20()])
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any, Union

import numpy as np
import tensorflow as tf

from keras_resnet_paper.data import cifar_binary
from keras_resnet_paper.data.augment import PadCropFlip, example_seed, pad_crop_flip
from keras_resnet_paper.data.augmentations import AUGMENT_PLACES
from keras_resnet_paper.data.digits import load_digits_32
from keras_resnet_paper.data.pipeline import base_seed, resolve_seed, shard_for, with_options
from keras_resnet_paper.data.tfds_prepare import prepared_builder
from keras_resnet_paper.validation import check_bool, check_choice, check_finite_array, check_int, check_labels

__all__ = ["CifarData", "cifar_datasets", "load_cifar_arrays", "pixel_mean", "holdout_split", "CIFAR_AUGMENTATIONS"]

#: The `data.augmentations.AUGMENTATIONS` a CIFAR pipeline has (Sec. 4.2's pad/crop/flip, or none).
CIFAR_AUGMENTATIONS = ("paper", "none")
CIFAR_HOLDOUT = 5000  # Sec. 4.2: "45k/5k train/val split"
HOLDOUT_SEED = 0
CifarSource = Union[str, "os.PathLike[str]", Sequence[np.ndarray]]
_OFFLINE_HINT = (
    "pass --data_dir (data_dir=) a folder where it is already prepared or the original binary "
    "archive (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz), or use --offline"
)


@dataclasses.dataclass
class CifarData:
    """What `cifar_datasets` returns; see docs/CONTRACTS.md ("Data")."""

    train: tf.data.Dataset
    test: tf.data.Dataset
    validation: tf.data.Dataset | None
    num_classes: int
    train_size: int
    mean: np.ndarray
    augmentation: Any = None


def _to_arrays(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of a finite (image, label) dataset, in order."""
    images, labels = [], []
    for x, y in dataset.batch(10000):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def _binary_source(source: str, data_dir: str | None) -> tuple[str, str | None] | None:
    """(path, dataset) of the CIFAR binary data to read for `source`, or None for tensorflow-datasets:
    `source` is a path, or "cifar10"/"cifar100" with a `data_dir` that holds the binary archive or
    its folder (or is named like them) rather than a tfds cache."""
    if source not in cifar_binary.CIFAR_BINARY_FORMATS:
        is_path = (
            source.startswith(("/", "~", ".")) or os.path.exists(source) or cifar_binary.is_cifar_binary_path(source)
        )
        return (source, None) if is_path else None
    if data_dir is None:
        return None
    if cifar_binary.find_cifar_binary(data_dir, source) is not None:
        return data_dir, source
    if os.path.isdir(os.path.join(os.path.expanduser(data_dir), source)):
        return None  # a tfds cache
    other = cifar_binary.find_cifar_binary(data_dir)
    if other is not None:
        raise ValueError(
            f"data_dir={data_dir!r} holds {other.format.dataset} binary data ({other.path}), not {source}; "
            f"use source={other.format.dataset!r}, or a data_dir with {source}'s."
        )
    return (data_dir, source) if cifar_binary.is_cifar_binary_path(data_dir) else None


def _load(source: CifarSource, data_dir: str | None) -> tuple[tuple, int | None]:
    """(the four arrays of `source`, its number of classes where the source states it)."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str):
        if source == "digits":
            return load_digits_32(), 10
        binary = _binary_source(source, data_dir)
        if binary is not None:
            arrays = cifar_binary.load_cifar_binary(*binary)  # one line naming the file if absent or malformed
            return arrays, cifar_binary.find_cifar_binary(*binary).format.labels["fine"][1]
        builder = prepared_builder(source, data_dir, hint=_OFFLINE_HINT)
        splits = [builder.as_dataset(split=s, as_supervised=True) for s in ("train", "test")]
        return tuple(a for split in splits for a in _to_arrays(split)), None
    if isinstance(source, (tuple, list)) and len(source) == 4:
        return tuple(source), None
    raise ValueError(
        f"source={source!r:.80} is not allowed: use 'cifar10' or 'cifar100' (tensorflow-datasets, or the "
        "binary archive when data_dir holds it), 'digits', another tensorflow-datasets name, the path of "
        "a CIFAR-10/100 binary archive (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz) or its folder, "
        "or a tuple (x_train, y_train, x_test, y_test)."
    )


def load_cifar_arrays(source: CifarSource, data_dir: str | None = None):
    """(x_train, y_train, x_test, y_test) as uint8 NHWC images and int32 labels.

    `source` is "digits" (offline, `digits.load_digits_32`), a tensorflow-datasets name
    ("cifar10", "cifar100", or any set with fixed-size images and "train"/"test" splits), the path
    of CIFAR-10/100 binary data (`cifar_binary.load_cifar_binary`: the archive, its folder, or a
    folder containing either), or a tuple of four arrays. With "cifar10"/"cifar100" and a
    `data_dir` holding the binary data (not a tfds cache), that data is read.
    """
    return _checked(_load(source, data_dir)[0])


def _checked(arrays):
    """The four arrays as NHWC RGB images and int32 labels; ValueError if inconsistent, if a float
    image holds NaN/inf, or a label is negative or not an integer."""
    x_train, y_train, x_test, y_test = (np.asarray(a) for a in arrays)
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise ValueError(f"{name} must be NHWC with 1 or 3 channels; got shape {x.shape}.")
        if not np.issubdtype(x.dtype, np.integer):  # float images: every value finite
            check_finite_array(name, x)
    if x_train.shape[1:3] != x_test.shape[1:3]:
        raise ValueError(f"train and test image sizes differ: {x_train.shape[1:3]} vs {x_test.shape[1:3]}.")
    if x_train.shape[-1] == 1:
        x_train, x_test = np.repeat(x_train, 3, -1), np.repeat(x_test, 3, -1)
    y_train, y_test = (
        check_labels(name, np.asarray(y).reshape(-1)) for name, y in (("y_train", y_train), ("y_test", y_test))
    )
    if len(y_train) != len(x_train) or len(y_test) != len(x_test):
        raise ValueError(
            f"images and labels differ in length: {len(x_train)}/{len(y_train)} train, {len(x_test)}/{len(y_test)} test."
        )
    return x_train, y_train, x_test, y_test


def holdout_split(num_examples: int, holdout_size: int | None = None, seed: int = HOLDOUT_SEED):
    """Fixed (train_indices, validation_indices): 5000 held out of 50000 (Sec. 4.2), else 10%."""
    check_int("num_examples", num_examples, minimum=2)
    check_int("holdout_size", holdout_size, minimum=1, allow_none=True)
    check_int("seed", seed, minimum=0)
    if holdout_size is None:
        holdout_size = CIFAR_HOLDOUT if num_examples == 50000 else max(1, num_examples // 10)
    if not 0 < holdout_size < num_examples:
        raise ValueError(f"holdout_size={holdout_size} must be in (0, {num_examples}).")
    order = np.random.default_rng(seed).permutation(num_examples)
    return np.sort(order[holdout_size:]), np.sort(order[:holdout_size])


def pixel_mean(images: np.ndarray) -> np.ndarray:
    """The per-pixel mean image (Sec. 4.2), HxWx3 float32, of uint8 images [N, H, W, 3]."""
    return np.mean(np.asarray(images, np.float64), axis=0).astype(np.float32)


def _train_set(x_train, y_train, normalise, on_host: bool, seed, input_context, per_replica: int) -> tf.data.Dataset:
    """The endless, shuffled training stream of Sec. 4.2: `on_host` each example padded, cropped
    and flipped with its own seed (seed, worker, position), else whole batches only normalised."""
    stream_seed = base_seed(seed, input_context)

    def host_augment(index, example):
        image, label = example
        return pad_crop_flip(normalise(image), example_seed(stream_seed, index)), label

    train = shard_for(tf.data.Dataset.from_tensor_slices((x_train, y_train)), input_context)
    train = train.cache().shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True).repeat()
    if on_host:
        train = train.enumerate().map(host_augment, num_parallel_calls=tf.data.AUTOTUNE)
        train = train.batch(per_replica, drop_remainder=True)
    else:  # nothing per example: normalise whole batches
        train = train.batch(per_replica, drop_remainder=True)
        train = train.map(lambda images, labels: (normalise(images), labels), num_parallel_calls=tf.data.AUTOTUNE)
    return train.prefetch(tf.data.AUTOTUNE)


def cifar_datasets(
    source: CifarSource = "cifar10",
    batch_size: int = 128,
    *,
    holdout: bool = False,
    augment: str = "paper",
    augment_on: str = "host",
    seed: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    deterministic: bool = False,
    data_dir: str | None = None,
    eval_batch_size: int | None = None,
) -> CifarData:
    """CIFAR pipelines of Sec. 4.2 for `source` (see `load_cifar_arrays`).

    `batch_size` is the global batch; with an `input_context` each worker reads its shard and
    batches `input_context.get_per_replica_batch_size(batch_size)`. `augment`: "paper" (pad 4,
    random 32x32 crop, random flip) or "none"; `augment_on`: "host" (tf.data) or "device"
    (`CifarData.augmentation`, a `PadCropFlip` layer to put in front of the model; the train
    stream is then not augmented). `seed` fixes shuffling and augmentation.
    """
    check_choice("augment", augment, CIFAR_AUGMENTATIONS)
    check_choice("augment_on", augment_on, AUGMENT_PLACES)
    check_int("batch_size", batch_size, minimum=1)
    check_bool("holdout", holdout)
    check_bool("deterministic", deterministic)
    check_int("eval_batch_size", eval_batch_size, minimum=1, allow_none=True)
    seed = resolve_seed(seed)
    arrays, num_classes = _load(source, data_dir)
    x_train, y_train, x_test, y_test = _checked(arrays)
    x_val = y_val = None
    if holdout:
        keep, held = holdout_split(len(x_train))
        x_val, y_val = x_train[held], y_train[held]
        x_train, y_train = x_train[keep], y_train[keep]
    mean = pixel_mean(x_train)
    per_replica = input_context.get_per_replica_batch_size(batch_size) if input_context else batch_size
    eval_batch = eval_batch_size or per_replica
    mean_t = tf.constant(mean)

    def normalise(image):
        return tf.cast(image, tf.float32) - mean_t

    augment_on = None if augment == "none" else augment_on
    train = _train_set(x_train, y_train, normalise, augment_on == "host", seed, input_context, per_replica)

    def evaluation(x, y):
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(eval_batch).cache()
        ds = ds.map(lambda images, labels: (normalise(images), labels), num_parallel_calls=tf.data.AUTOTUNE)
        return with_options(ds.prefetch(tf.data.AUTOTUNE), deterministic=True)

    return CifarData(
        train=with_options(train, deterministic),
        test=evaluation(x_test, y_test),
        validation=evaluation(x_val, y_val) if holdout else None,
        num_classes=num_classes or int(max(y_train.max(), y_test.max())) + 1,
        train_size=len(x_train),
        mean=mean,
        augmentation=PadCropFlip(4, seed=seed, name="pad_crop_flip") if augment_on == "device" else None,
    )
