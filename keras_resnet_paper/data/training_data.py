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
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from keras_resnet_paper.data.augmentations import AUGMENT_PLACES, SCALE_RANGE
from keras_resnet_paper.data.cifar import CifarData, cifar_datasets
from keras_resnet_paper.data.cifar_binary import is_cifar_binary_path
from keras_resnet_paper.data.imagenet import ImageData, imagenet_datasets
from keras_resnet_paper.validation import check_choice

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
    augment: str = "paper",
    augment_on: str = "host",
    image_size: int | None = None,
    scale_range: Sequence[int] = SCALE_RANGE,
    holdout: bool = False,
    seed: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    deterministic: bool = False,
    data_dir: str | None = None,
    skip_corrupt: bool = False,
) -> CifarData | ImageData:
    """The data of `dataset`: cifar10/cifar100/digits, a CIFAR binary archive or folder, or arrays
    (`cifar_datasets`); "imagenet" (tfds imagenet2012), another tfds name, a TFRecord pattern or a
    folder of class subfolders (`imagenet_datasets`).

    The data part of a recipe, in one vocabulary for every set (`data.augmentations`): `augment` is
    what is done to each training image ("paper", "inception" for ImageNet-style sets, "none");
    `augment_on` where CIFAR's pad/crop/flip runs ("host" or "device"); `image_size` and
    `scale_range` the ImageNet crop size and shorter-side range (Sec. 3.4). `holdout` applies to
    CIFAR-style sets, `skip_corrupt` (skip and count unreadable image files) to image files.
    An option a set does not have is a ValueError naming it, never silently ignored.
    """
    check_choice("augment_on", augment_on, AUGMENT_PLACES)  # `augment` is checked by the set's pipeline
    scale_range = tuple(scale_range) if isinstance(scale_range, list) else scale_range
    common = dict(seed=seed, input_context=input_context, deterministic=deterministic, data_dir=data_dir)
    if is_cifar_style(dataset):
        _refuse_image_options(dataset, skip_corrupt, image_size, scale_range, augment)
        return cifar_datasets(dataset, batch_size, holdout=holdout, augment=augment, augment_on=augment_on, **common)
    if holdout or augment_on != "host":
        what = "holdout=True" if holdout else f"augment_on={augment_on!r}"
        raise ValueError(f"{what} applies to CIFAR-style sets, not to dataset={str(dataset)!r}.")
    return imagenet_datasets(
        _TFDS_NAMES.get(dataset, dataset),
        batch_size,
        augment=augment,
        image_size=image_size,
        scale_range=scale_range,
        skip_corrupt=skip_corrupt,
        **common,
    )


def _refuse_image_options(dataset, skip_corrupt, image_size, scale_range, augment) -> None:
    """The options of image files and ImageNet-style crops, which a CIFAR-style set has not."""
    name = str(dataset) if isinstance(dataset, (str, os.PathLike)) else "arrays"
    for given, default, text in (
        (skip_corrupt, False, "skip_corrupt=True applies to image files (folders, TFRecords, tfds image sets)"),
        (image_size, None, f"image_size={image_size!r} applies to ImageNet-style sets (CIFAR images are 32x32)"),
        (scale_range, SCALE_RANGE, f"scale_range={scale_range!r} applies to ImageNet-style sets"),
        (
            augment == "inception",
            False,
            "augment='inception' applies to ImageNet-style sets (CIFAR: 'paper' or 'none')",
        ),
    ):
        if given != default:
            raise ValueError(f"{text}, not to dataset={name!r}, whose images are arrays.")
