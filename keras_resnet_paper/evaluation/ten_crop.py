"""10-crop testing (Sec. 3.4, Tables 2-3; docs/paper.md, 'ImageNet testing (Sec. 3.4)').

Each image is resized to shorter side 256; the four corner and the centre 224 crops and their
horizontal flips go through the model; the 10 softmax score vectors are averaged, and top-1 /
top-5 errors are computed from the averages (`evaluation.topk`).

    data = imagenet_datasets("imagenet2012", data_dir="~/tfds")
    evaluate_ten_crop(model, data.validation_images, mean=data.mean)
    pretrained = ResNet50(weights="imagenet")           # its own convention, not the data's mean:
    evaluate_ten_crop(pretrained, data.validation_images, preprocessing=pretrained.preprocessing)
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from keras_resnet_paper.data.crops import ten_crop
from keras_resnet_paper.evaluation.topk import top1_top5_error
from keras_resnet_paper.validation import check_bool, check_int
from keras_resnet_paper.weights.conventions import input_convention

__all__ = ["evaluate_ten_crop", "ten_crop_scores"]


def ten_crop_scores(
    model: keras.Model,
    dataset: tf.data.Dataset,
    *,
    mean=None,
    preprocessing=None,
    crop_size: int = 224,
    resize_side: int = 256,
    batch_size: int = 8,
    from_logits: bool = False,
    on_images: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores [N, C] averaged over the 10 crops, labels [N]) for a dataset of (image, label).

    Images are single [H, W, 3] RGB images of any size on the 0..255 scale; `mean` (shape (3,) or
    (crop_size, crop_size, 3)) is subtracted from every crop, or `preprocessing` (the convention of
    pretrained weights, e.g. `model.preprocessing`) normalises it; the crop geometry stays the
    protocol's. With `from_logits` the model's outputs go through a softmax before averaging.
    `on_images(n)` is called after each batch with the number of images scored so far (progress).
    """
    check_int("crop_size", crop_size, minimum=1)
    check_int("resize_side", resize_side, minimum=crop_size, allow_none=True)
    check_int("batch_size", batch_size, minimum=1)
    check_bool("from_logits", from_logits)
    if len(dataset.element_spec) != 2 or dataset.element_spec[0].shape.rank != 3:
        raise ValueError(f"dataset must yield (image [H, W, C], label); got {dataset.element_spec}.")
    convention = input_convention(mean, preprocessing)

    def crops_of(image, label):  # one named function: AutoGraph reads its source unambiguously
        crops = ten_crop(image, crop_size, resize_side)
        return (crops if convention is None else convention.normalize(crops, "channels_last")), label

    crops = dataset.map(crops_of, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    scores, labels = [], []
    for batch, label in crops:
        n = int(batch.shape[0])
        flat = tf.reshape(batch, [n * 10, crop_size, crop_size, batch.shape[-1]])
        out = model(flat, training=False)
        if from_logits:
            out = keras.ops.softmax(out, axis=-1)
        out = keras.ops.convert_to_numpy(out).astype(np.float64).reshape(n, 10, -1)
        scores.append(out.mean(axis=1))
        labels.append(label.numpy().reshape(-1))
        if on_images is not None:
            on_images(sum(len(part) for part in labels))
    if not scores:
        raise ValueError("ten-crop evaluation got an empty dataset.")
    return np.concatenate(scores), np.concatenate(labels)


def evaluate_ten_crop(model: keras.Model, dataset: tf.data.Dataset, **kwargs) -> dict[str, float]:
    """{"top1_error", "top5_error"} of 10-crop testing (Sec. 3.4); arguments as `ten_crop_scores`."""
    scores, labels = ten_crop_scores(model, dataset, **kwargs)
    return top1_top5_error(scores, labels)
