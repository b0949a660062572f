"""10-crop and fully-convolutional multi-scale testing (Sec. 3.4) against direct computations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet_paper
from keras_resnet_paper.evaluation import evaluate_multi_scale, evaluate_ten_crop, fully_convolutional
from keras_resnet_paper.evaluation.multi_scale import multi_scale_scores
from keras_resnet_paper.evaluation.ten_crop import ten_crop_scores


def _images(n=4, shape=(40, 52), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 255, (*shape, 3)).astype(np.float32) for _ in range(n)]


def _dataset(images, labels):
    return tf.data.Dataset.from_generator(
        lambda: zip(images, labels),
        output_signature=(tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([], tf.int32)),
    )


def _pooled_linear_model(classes=6, seed=0):
    """softmax(W . mean-over-pixels + b), with weights that make the 10 crops disagree."""
    rng = np.random.default_rng(seed)
    inputs = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(inputs)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(pooled)
    model = keras.Model(inputs, outputs)
    model.get_layer("predictions").set_weights([rng.normal(0, 0.2, (3, classes)), rng.normal(0, 1, classes)])
    return model


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_ten_crop_averages_softmax_over_the_ten_crops():
    model = _pooled_linear_model()
    kernel, bias = model.get_layer("predictions").get_weights()
    images, mean = _images(), np.array([10.0, 20.0, 30.0], np.float32)
    crop, side = 16, 20
    expected = []
    for image in images:
        resized = tf.image.resize(image, (20, 26), antialias=True).numpy()  # shorter side 40 -> 20
        corners = [(2, 5), (0, 0), (0, 10), (4, 0), (4, 10)]
        crops = [resized[y : y + crop, x : x + crop] for y, x in corners]
        crops += [c[:, ::-1] for c in crops]  # flips: the pixel mean is unchanged, but keep it honest
        probs = [_softmax((c - mean).mean((0, 1)) @ kernel + bias) for c in crops]
        expected.append(np.mean(probs, 0))
    seen = []  # the progress a command shows: images scored after each batch
    scores, labels = ten_crop_scores(
        model, _dataset(images, [0, 1, 2, 3]), mean=mean, crop_size=crop, resize_side=side, batch_size=3,
        on_images=seen.append,
    )  # fmt: skip
    assert seen == [3, 4]
    np.testing.assert_allclose(scores, np.array(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(labels, [0, 1, 2, 3])
    assert np.allclose(scores.sum(1), 1)
    # errors from the averaged scores
    best = np.argsort(-np.array(expected), 1)
    truth = best[:, 0].copy()
    truth[0] = best[0, 1]  # image 0: right in the top-5, wrong in the top-1
    result = evaluate_ten_crop(model, _dataset(images, truth), mean=mean, crop_size=crop, resize_side=side)
    assert result == pytest.approx({"top1_error": 0.25, "top5_error": 0.0})


def test_ten_crop_from_logits_applies_softmax():
    inputs = keras.Input((8, 8, 3))
    logits = keras.layers.Dense(4, name="predictions")(keras.layers.GlobalAveragePooling2D()(inputs))
    model = keras.Model(inputs, logits)
    images = _images(2, (12, 12))
    probs, _ = ten_crop_scores(model, _dataset(images, [0, 1]), crop_size=8, resize_side=None, from_logits=True)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)


def test_fully_convolutional_form_equals_global_pool_model():
    model = keras_resnet_paper.ResNet18(weights=None, input_shape=(None, None, 3), classes=7)
    x = tf.random.stateless_uniform([2, 64, 96, 3], [0, 5], -1, 1)
    score_map = fully_convolutional(model)(x).numpy()
    assert score_map.shape == (2, 2, 3, 7)
    np.testing.assert_allclose(_softmax(score_map.mean((1, 2))), model(x).numpy(), rtol=1e-4, atol=1e-6)


def test_multi_scale_averages_scores_over_scales():
    model = keras_resnet_paper.ResNet18(weights=None, input_shape=(None, None, 3), classes=5)
    images, scales = _images(2, (36, 48), seed=1), (32, 64)
    expected = []
    for image in images:
        per_scale = []
        for size in ((32, 43), (64, 85)):
            x = tf.image.resize(image, size, antialias=True)[None] - np.array([1.0, 2.0, 3.0], np.float32)
            per_scale.append(model(x).numpy()[0])
        expected.append(np.mean(per_scale, 0))
    scores, labels = multi_scale_scores(model, _dataset(images, [3, 4]), scales=scales, mean=[1.0, 2.0, 3.0])
    # atol 1e-5: a random net's saturated probabilities differ by up to 7.6e-6 between two call
    # paths of the same float32 convolutions (thread order of the CPU kernels; one full run in five)
    np.testing.assert_allclose(scores, np.array(expected), rtol=1e-4, atol=1e-5)
    result = evaluate_multi_scale(model, _dataset(images, [3, 4]), scales=scales, mean=[1.0, 2.0, 3.0], flip=True)
    assert set(result) == {"top1_error", "top5_error"} and result["top5_error"] == 0.0


def test_multi_scale_needs_an_open_input_size_and_a_head():
    fixed = _pooled_linear_model()
    fixed_input = keras.Model(*(lambda i: (i, fixed(i)))(keras.Input((32, 32, 3))))
    with pytest.raises(ValueError, match="input_shape=\\(None, None, 3\\)"):
        fully_convolutional(fixed_input)
    headless = keras.Model(*(lambda i: (i, keras.layers.GlobalAveragePooling2D()(i)))(keras.Input((None, None, 3))))
    with pytest.raises(ValueError, match="predictions"):
        fully_convolutional(headless)
    with pytest.raises(ValueError, match="scales"):
        multi_scale_scores(_pooled_linear_model(), _dataset(_images(1), [0]), scales=())
