"""ImageNet augmentation (Sec. 3.4): scale augmentation, random-resized crop, flip, lighting."""

import numpy as np
import pytest
import tensorflow as tf

from keras_resnet_paper import data
from keras_resnet_paper.data import augment


def _seeds(n, salt=0):
    return [tf.constant([salt, i], tf.int64) for i in range(n)]


@pytest.mark.parametrize("shape", [(375, 500), (640, 427)])
def test_scale_augmentation_covers_256_to_480(shape):
    fn = tf.function(lambda s: data.scale_augmentation_window(tf.constant(shape), s))
    windows, sides = zip(*[(w.numpy(), int(side)) for w, side in (fn(s) for s in _seeds(1500))])
    windows, sides = np.array(windows), np.array(sides)
    assert sides.min() >= 256 and sides.max() <= 480
    assert sides.min() <= 262 and sides.max() >= 474  # the whole range is drawn
    assert abs(sides.mean() - 368) < 6  # uniform on [256, 480]
    assert np.histogram(sides, bins=4, range=(256, 481))[0].min() > 300
    y, x, h, w = windows.T
    assert (y >= 0).all() and (x >= 0).all() and (y + h <= shape[0]).all() and (x + w <= shape[1]).all()
    # the window is what a 224 crop of the image resized to shorter side S covers
    implied = 224 * min(shape) / h
    assert np.all(np.abs(implied / sides - 1) < 0.01)
    np.testing.assert_array_equal(h, w)
    # crop positions spread over the whole resized image
    assert y.min() <= 2 and (y + h).max() >= shape[0] - 2 and x.min() <= 2 and (x + w).max() >= shape[1] - 2


def test_scale_augmentation_rejects_bad_ranges():
    with pytest.raises(ValueError, match="min_side=300"):
        data.scale_augmentation_window(tf.constant([300, 400]), tf.constant([0, 0], tf.int64), 300, 256)


def test_inception_crop_window_area_and_aspect():
    shape = (400, 600)
    fn = tf.function(lambda s: data.inception_crop_window(tf.constant(shape), s))
    windows = np.array([fn(s).numpy() for s in _seeds(400)])
    y, x, h, w = windows.T
    area = h * w / (shape[0] * shape[1])
    assert area.min() >= 0.07 and area.max() <= 1.0 and area.min() < 0.2 and area.max() > 0.8
    whole = (h == shape[0]) & (w == shape[1])
    aspect = (w / h)[~whole]
    assert aspect.min() >= 0.74 and aspect.max() <= 1.34
    assert (y + h <= shape[0]).all() and (x + w <= shape[1]).all()


def test_random_flip_is_exact_and_fair():
    image = tf.reshape(tf.range(2 * 5 * 3, dtype=tf.float32), [2, 5, 3])
    fn = tf.function(lambda s: data.random_flip(image, s))
    flips = 0
    for s in _seeds(1000, salt=3):
        out = fn(s).numpy()
        if np.array_equal(out, image.numpy()[:, ::-1]):
            flips += 1
        else:
            np.testing.assert_array_equal(out, image.numpy())
    assert abs(flips / 1000 - 0.5) < 0.05


def test_lighting_noise_statistics():
    image = tf.fill([4, 4, 3], 100.0)
    fn = tf.function(lambda s: data.lighting(image, s))
    outs = np.array([fn(s).numpy() for s in _seeds(4000, salt=9)])
    # one colour offset per image, the same at every pixel
    np.testing.assert_allclose(outs, np.broadcast_to(outs[:, :1, :1], outs.shape), atol=1e-4)
    offsets = outs[:, 0, 0] - 100.0
    assert np.all(np.abs(offsets.mean(0)) < 0.5)
    # alpha = eigvec^-1 . offset / eigval ~ N(0, 0.1) per eigenvector, independent
    alpha = np.linalg.solve(augment.LIGHTING_EIGVEC, offsets.T).T / augment.LIGHTING_EIGVAL
    np.testing.assert_allclose(alpha.std(0), 0.1, rtol=0.06)
    corr = np.corrcoef(alpha.T)
    assert np.all(np.abs(corr[np.triu_indices(3, 1)]) < 0.06)
    # the first (luminance) component dominates: std of the offset ~ 0.1 * 55.46 * |eigvec|
    expected = np.sqrt(((augment.LIGHTING_EIGVEC * augment.LIGHTING_EIGVAL * 0.1) ** 2).sum(1))
    np.testing.assert_allclose(offsets.std(0), expected, rtol=0.06)


def test_example_seed_depends_on_seed_and_index():
    base = tf.constant([1, 0], tf.int64)
    a, b = augment.example_seed(base, 5).numpy(), augment.example_seed(base, 6).numpy()
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, augment.example_seed(base, 5).numpy())
    assert not np.array_equal(a, augment.example_seed(tf.constant([2, 0], tf.int64), 5).numpy())
