"""One entry point from a data set's name (or a source) to the data a training run needs.

    data = training_data("cifar10", batch_size=128, seed=0)       # CIFAR-style: cifar_datasets
    data = training_data("imagenet", batch_size=256, data_dir=...)  # ImageNet-style: imagenet_datasets

Whatever the set, the result has `train` (infinite, shuffled, augmented, batched), `validation`
(or None), `test` (where final errors are reported: CIFAR's test set, ImageNet's validation set,
Sec. 3.4 and 4.2), `num_classes`, `train_size`, `mean` and `augmentation` (a layer to run on the
accelerator, or None).
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from keras_resnet_paper.data.cifar import CifarData, cifar_datasets
from keras_resnet_paper.data.cifar_binary import is_cifar_binary_path
from keras_resnet_paper.data.imagenet import ImageData, imagenet_datasets

__all__ = ["TrainingData", "training_data", "is_cifar_style", "CIFAR_STYLE"]

#: Names of the sets read by the CIFAR pipeline (32x32, per-pixel mean, pad/crop/flip).
CIFAR_STYLE = ("cifar10", "cifar100", "digits")
#: Short names of tensorflow-datasets sets.
_TFDS_NAMES = {"imagenet": "imagenet2012"}


class TrainingData(Protocol):
    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    num_classes: int
    train_size: int
    mean: np.ndarray

    @property
    def test(self) -> tf.data.Dataset | None: ...

    @property
    def augmentation(self) -> Any: ...


def is_cifar_style(dataset: Any) -> bool:
    """Whether `dataset` (a name, a path or arrays) goes through the CIFAR pipeline."""
    if not isinstance(dataset, (str, os.PathLike)):
        return True  # arrays: (x_train, y_train, x_test, y_test)
    return str(dataset) in CIFAR_STYLE or is_cifar_binary_path(str(dataset))


def training_data(
    dataset: Any,
    batch_size: int,
    *,
    holdout: bool = False,
    augment: str = "host",
    seed: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    deterministic: bool = False,
    data_dir: str | None = None,
    skip_corrupt: bool = False,
) -> CifarData | ImageData:
    """The data of `dataset`: cifar10/cifar100/digits, a CIFAR binary archive or folder, or arrays
    (`cifar_datasets`); "imagenet" (tfds imagenet2012), another tfds name, a TFRecord pattern or a
    folder of class subfolders (`imagenet_datasets`). `holdout` and `augment` apply to CIFAR-style
    sets only, `skip_corrupt` (skip and count unreadable image files) to image files only."""
    if is_cifar_style(dataset):
        if skip_corrupt:
            raise ValueError(
                f"skip_corrupt=True applies to image files (folders, TFRecords, tfds image sets), "
                f"not to dataset={str(dataset)!r}, whose images are arrays."
            )
        return cifar_datasets(
            source=dataset,
            batch_size=batch_size,
            holdout=holdout,
            augment=augment,
            seed=seed,
            input_context=input_context,
            deterministic=deterministic,
            data_dir=data_dir,
        )
    return imagenet_datasets(
        source=_TFDS_NAMES.get(dataset, dataset),
        batch_size=batch_size,
        seed=seed,
        input_context=input_context,
        deterministic=deterministic,
        data_dir=data_dir,
        skip_corrupt=skip_corrupt,
    )
