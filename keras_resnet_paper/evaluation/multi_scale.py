"""Fully-convolutional multi-scale testing (Sec. 3.4, Table 4; docs/paper.md, 'ImageNet testing (Sec. 3.4)').

The paper adopts the fully-convolutional form: the final fc layer becomes a 1x1 convolution over
the conv5 feature map, giving a class score map at any input size; the map is averaged over
positions, and the scores are averaged over the shorter sides {224, 256, 384, 480, 640}.

`fully_convolutional(model)` builds that form explicitly from a model whose head is `avg_pool`
then the Dense `predictions`: the Dense kernel is applied at every position (logits, before the
softmax). We average the logit map over positions, apply the softmax once per scale, and average
the softmax scores over scales (and over the horizontal flip with `flip=True`). Because the fc
layer is linear, the position-averaged logits are exactly the logits of the global-pool model run
on the whole image; the tests check this.

    model = ResNet50(weights="imagenet", input_shape=(None, None, 3))
    evaluate_multi_scale(model, data.validation_images, preprocessing=model.preprocessing)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict, Unpack

import keras
import numpy as np
import tensorflow as tf

from keras_resnet_paper.data.crops import TEST_SCALES, shorter_side_size
from keras_resnet_paper.evaluation.topk import top1_top5_error
from keras_resnet_paper.graph import find_layer, graph_inputs
from keras_resnet_paper.validation import check_bool, check_int
from keras_resnet_paper.weights.conventions import input_convention

__all__ = ["fully_convolutional", "multi_scale_scores", "evaluate_multi_scale"]


class _ClassScoreMap(keras.layers.Layer):
    """The fc layer as a 1x1 convolution: logits at every position of a [B, h, w, D] feature map."""

    def __init__(self, dense: keras.layers.Dense, **kwargs):
        super().__init__(**kwargs)
        self.dense = dense

    def call(self, features):
        logits = keras.ops.matmul(keras.ops.cast(features, self.dense.kernel.dtype), self.dense.kernel)
        return logits + self.dense.bias if self.dense.use_bias else logits


def fully_convolutional(model: keras.Model) -> keras.Model:
    """The model's fully-convolutional form: image -> class score map (logits) [B, h, w, classes].

    Needs a model with a `predictions` Dense head after `avg_pool` (include_top=True) and spatial
    input dimensions left open, e.g. `ResNet50(input_shape=(None, None, 3))`.
    """
    shape = tuple(model.input_shape[1:3]) if hasattr(model, "input_shape") else ()
    if any(d is not None for d in shape):
        raise ValueError(
            f"multi-scale testing needs a model built with input_shape=(None, None, 3); got input shape {model.input_shape}."
        )
    try:
        dense = find_layer(model, "predictions")
        pool = find_layer(model, "avg_pool")
    except ValueError as err:
        raise ValueError(
            f"fully_convolutional needs layers 'avg_pool' and 'predictions' (include_top=True): {err}"
        ) from None
    if not isinstance(dense, keras.layers.Dense):
        raise ValueError(f"layer 'predictions' must be Dense; got {type(dense).__name__}.")
    features = pool.input
    return keras.Model(graph_inputs(model), _ClassScoreMap(dense, name="score_map")(features), name=f"{model.name}_fcn")


def multi_scale_scores(
    model: keras.Model,
    dataset: tf.data.Dataset,
    *,
    scales: Sequence[int] = TEST_SCALES,
    mean=None,
    preprocessing=None,
    flip: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(softmax scores [N, C] averaged over scales, labels [N]) for a dataset of (image, label).

    Images are single [H, W, 3] RGB images on the 0..255 scale, resized so the shorter side is
    each of `scales`. `mean` is a per-channel mean (3,) or `preprocessing` the convention of
    pretrained weights (e.g. `model.preprocessing`); a per-pixel mean image is reduced to its
    per-channel mean, since the inputs have no fixed size.
    """
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__") or not tuple(scales):
        raise ValueError(f"scales={scales!r} must be positive shorter sides, e.g. {TEST_SCALES}.")
    scales = tuple(check_int(f"scales[{i}]", s, minimum=1) for i, s in enumerate(scales))
    check_bool("flip", flip)
    fcn = fully_convolutional(model)
    convention = input_convention(mean, preprocessing)
    convention = None if convention is None else convention.per_channel()

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([], tf.int32)])
    def scale_scores(image, side):
        size = shorter_side_size(tf.shape(image), side)
        x = tf.image.resize(image, size, method="bilinear", antialias=True)
        x = x if convention is None else convention.normalize(x, "channels_last")
        batch = tf.stack([x, tf.reverse(x, axis=[1])]) if flip else x[None]
        logits = tf.reduce_mean(tf.cast(fcn(batch, training=False), tf.float32), axis=[1, 2])
        return tf.reduce_mean(tf.nn.softmax(logits, axis=-1), axis=0)

    scores, labels = [], []
    for image, label in dataset:
        image = tf.cast(image, tf.float32)
        scores.append(np.mean([scale_scores(image, tf.constant(s)).numpy() for s in scales], axis=0))
        labels.append(int(label))
    if not scores:
        raise ValueError("multi-scale evaluation got an empty dataset.")
    return np.stack(scores), np.asarray(labels)


class MultiScaleOptions(TypedDict, total=False):
    """The options of `multi_scale_scores` that `evaluate_multi_scale` passes on."""

    scales: Sequence[int]
    mean: Any
    preprocessing: Any
    flip: bool


def evaluate_multi_scale(
    model: keras.Model, dataset: tf.data.Dataset, **options: Unpack[MultiScaleOptions]
) -> dict[str, float]:
    """{"top1_error", "top5_error"} of fully-convolutional multi-scale testing (Sec. 3.4, Table 4);
    `options` as in `multi_scale_scores`."""
    scores, labels = multi_scale_scores(model, dataset, **options)
    return top1_top5_error(scores, labels)
