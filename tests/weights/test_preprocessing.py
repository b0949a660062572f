"""preprocess_input / decode_predictions match the pretrained weights' conventions."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resnet_paper.weights import preprocessing


def test_caffe_matches_keras_applications():
    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 6, 3)).astype("float32")
    ref = keras.applications.resnet.preprocess_input(x.copy())
    out = preprocessing.preprocess_input(x)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(out[..., 0], x[..., 2] - np.float32(103.939))
    assert out is not x and x.max() > 1  # the input is left alone
    t = preprocessing.preprocess_input(tf.constant(x))
    np.testing.assert_allclose(np.asarray(t), ref, rtol=1e-6, atol=1e-4)
    first = np.transpose(x, (0, 3, 1, 2))
    ref_first = keras.applications.resnet.preprocess_input(first.copy(), data_format="channels_first")
    np.testing.assert_allclose(preprocessing.preprocess_input(first, "channels_first"), ref_first, atol=1e-4)
    np.testing.assert_allclose(preprocessing.preprocess_input(first[0], "channels_first"), ref_first[0], atol=1e-4)
    ints = preprocessing.preprocess_input(x.astype("uint8"))
    assert ints.dtype == np.float32


def test_torch_mode_and_release_metadata():
    x = np.full((1, 2, 2, 3), 255.0, "float32")
    out = preprocessing.preprocess_input(x, mode="torch")
    np.testing.assert_allclose(
        out[0, 0, 0], (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]), rtol=1e-6
    )
    cfg = preprocessing.preprocessing_for("ResNet101")
    assert cfg["color_order"] == "BGR" and cfg["input_size"] == (224, 224, 3)
    assert round(224 / cfg["crop_pct"]) == 256
    with pytest.raises(ValueError, match="mode"):
        preprocessing.preprocess_input(x, mode="tf")


def test_resize_and_center_crop():
    img = np.zeros((300, 400, 3), "float32")
    assert tuple(preprocessing.resize_and_center_crop(img).shape) == (224, 224, 3)


def test_resize_and_center_crop_matches_the_validation_pipeline():
    from keras_resnet_paper.data.crops import center_crop, resize_shorter_side

    img = np.random.default_rng(3).uniform(0, 255, (300, 411, 3)).astype("float32")
    ours = np.asarray(preprocessing.resize_and_center_crop(img))
    pipeline = center_crop(resize_shorter_side(tf.constant(img), 256), 224).numpy()
    np.testing.assert_allclose(ours, pipeline, atol=1e-3)
