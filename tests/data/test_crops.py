"""Exact test-time geometry (Sec. 3.4): shorter-side resize, centre crop, 10 crops, scales."""

import numpy as np
import pytest
import tensorflow as tf

from keras_resnet_paper import data
from keras_resnet_paper.data.crops import center_crop_window


def _coordinates(h, w):
    """Pixel (y, x) holds (y, x, y * w + x): every crop is identified exactly."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([y, x, y * w + x], -1).astype(np.float32)


@pytest.mark.parametrize(
    "shape, side, expected",
    [
        ((300, 400), 256, (256, 341)),
        ((400, 300), 256, (341, 256)),
        ((333, 500), 224, (224, 336)),
        ((256, 256), 480, (480, 480)),
        ((300, 400), 640, (640, 853)),
    ],
)
def test_resize_shorter_side_sizes_and_values(shape, side, expected):
    image = tf.random.stateless_uniform((*shape, 3), [0, 1], 0, 255)
    out = data.resize_shorter_side(image, side)
    assert tuple(out.shape[:2]) == expected
    ref = tf.image.resize(image, expected, method="bilinear", antialias=True)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_center_crop_is_exact():
    image = _coordinates(7, 10)
    out = data.center_crop(tf.constant(image), 4).numpy()
    np.testing.assert_array_equal(out, image[1:5, 3:7])


def test_ten_crop_corners_centre_and_flips_pixel_by_pixel():
    image = _coordinates(9, 12)
    crops = data.ten_crop(tf.constant(image), crop_size=5, resize_side=None).numpy()
    assert crops.shape == (10, 5, 5, 3)
    expected = [image[2:7, 3:8], image[0:5, 0:5], image[0:5, 7:12], image[4:9, 0:5], image[4:9, 7:12]]
    for i, crop in enumerate(expected):
        np.testing.assert_array_equal(crops[i], crop)
        np.testing.assert_array_equal(crops[5 + i], crop[:, ::-1])


def test_ten_crop_from_shorter_side_256():
    image = tf.random.stateless_uniform((300, 450, 3), [0, 2], 0, 255)
    crops = data.ten_crop(image).numpy()
    resized = tf.image.resize(image, (256, 384), antialias=True).numpy()
    assert crops.shape == (10, 224, 224, 3)
    np.testing.assert_array_equal(crops[0], resized[16:240, 80:304])
    np.testing.assert_array_equal(crops[4], resized[32:256, 160:384])
    np.testing.assert_array_equal(crops[9], resized[32:256, 160:384][:, ::-1])
    with pytest.raises(ValueError, match="resize_side=200"):
        data.ten_crop(image, 224, 200)


def test_multi_scale_shapes_and_values():
    image = tf.random.stateless_uniform((300, 400, 3), [0, 3], 0, 255)
    outs = data.multi_scale(image)
    assert [tuple(o.shape) for o in outs] == [(224, 299, 3), (256, 341, 3), (384, 512, 3), (480, 640, 3), (640, 853, 3)]
    for out in outs:
        ref = tf.image.resize(image, out.shape[:2], method="bilinear", antialias=True)
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
    with pytest.raises(ValueError, match="scales"):
        data.multi_scale(image, ())


def test_center_crop_window_matches_resize_then_crop():
    # a 512x680 image at shorter side 256 is scaled by exactly 1/2: the centre 224 crop covers 448 source pixels
    np.testing.assert_array_equal(center_crop_window(tf.constant([512, 680]), 224, 256).numpy(), [32, 116, 448, 448])
    np.testing.assert_array_equal(center_crop_window(tf.constant([300, 300]), 224).numpy(), [38, 38, 224, 224])
