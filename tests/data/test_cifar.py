"""CIFAR pipelines (Sec. 4.2) on the offline digits source."""

import hashlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resnet_paper import data
from keras_resnet_paper.data.augment import pad_crop_flip


def _coordinate_image(h=32, w=32):
    """Pixel (y, x) holds 1 + y * w + x in every channel: crops are identified exactly."""
    return np.repeat((1 + np.arange(h * w, dtype=np.float32).reshape(h, w))[..., None], 3, -1)


def _offset_and_flip(out, image, padding=4):
    """The (dy, dx, flipped) that produced `out` from `image` by pad-crop-flip, or None."""
    padded = np.pad(image, [(padding, padding), (padding, padding), (0, 0)])
    h, w = image.shape[:2]
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = padded[dy : dy + h, dx : dx + w]
            if np.array_equal(out, crop):
                return dy, dx, False
            if np.array_equal(out, crop[:, ::-1]):
                return dy, dx, True
    return None


def test_digits_shapes_split_and_range():
    x_train, y_train, x_test, y_test = data.load_digits_32()
    assert x_train.shape == (1437, 32, 32, 3) and x_test.shape == (360, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int32
    assert x_train.min() == 0 and x_train.max() == 255
    np.testing.assert_array_equal(x_train[..., 0], x_train[..., 2])
    # stratified: every class has ~20% of its images in the test split
    counts = np.bincount(y_test, minlength=10) / (
        np.bincount(y_test, minlength=10) + np.bincount(y_train, minlength=10)
    )
    assert np.all(np.abs(counts - 0.2) < 0.02)
    # fixed split: the same on every call
    again = data.load_digits_32()
    np.testing.assert_array_equal(again[1], y_train)
    np.testing.assert_array_equal(again[2], x_test)


def test_digits_upsampling_is_bilinear():
    from sklearn.datasets import load_digits

    from keras_resnet_paper.data.digits import _bilinear_upsample

    small = load_digits().images[:5] * (255.0 / 16.0)
    ours = _bilinear_upsample(small, 32)
    ref = tf.image.resize(small[..., None], (32, 32), method="bilinear", antialias=False)[..., 0].numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_cifar_datasets_digits_contract():
    d = data.cifar_datasets("digits", 32, seed=3)
    assert isinstance(d, data.CifarData)
    assert d.num_classes == 10 and d.train_size == 1437 and d.validation is None and d.augmentation is None
    assert d.mean.shape == (32, 32, 3) and d.mean.dtype == np.float32
    x, y = next(iter(d.train))
    assert x.shape == (32, 32, 32, 3) and x.dtype == tf.float32 and y.dtype == tf.int32
    assert -255 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 255
    # test set: original images, per-pixel mean subtracted, finite, in order
    _, _, x_test, y_test = data.load_digits_32()
    images, labels = zip(*[(a.numpy(), b.numpy()) for a, b in d.test])
    images, labels = np.concatenate(images), np.concatenate(labels)
    assert images.shape == (360, 32, 32, 3)
    np.testing.assert_allclose(images, x_test.astype(np.float32) - d.mean, atol=1e-4)
    np.testing.assert_array_equal(labels, y_test)
    # mean is over the training images only
    np.testing.assert_allclose(d.mean, data.load_digits_32()[0].mean(0), atol=1e-3)


def test_holdout_split_is_disjoint_and_fixed():
    d = data.cifar_datasets("digits", 16, holdout=True, seed=0)
    assert d.train_size == 1437 - 143
    val = np.concatenate([y.numpy() for _, y in d.validation])
    assert len(val) == 143
    keep, held = data.holdout_split(50000)
    assert len(held) == 5000 and len(keep) == 45000 and not set(keep) & set(held)
    np.testing.assert_array_equal(data.holdout_split(50000)[1], held)


def test_pad_crop_flip_offsets_and_flip_rate():
    image = _coordinate_image()
    fn = tf.function(lambda s: pad_crop_flip(tf.constant(image), s))
    seen, flips = set(), 0
    n = 600
    for i in range(n):
        found = _offset_and_flip(fn(tf.constant([7, i], tf.int64)).numpy(), image)
        assert found is not None
        seen.add(found[:2])
        flips += found[2]
    assert seen == {(dy, dx) for dy in range(9) for dx in range(9)}
    assert abs(flips / n - 0.5) < 0.07


def test_host_augmentation_reproducible_whatever_the_order():
    def batches(deterministic, seed):
        d = data.cifar_datasets("digits", 64, seed=seed, deterministic=deterministic)
        return [x.numpy() for x, _ in d.train.take(4)]

    def digests(arrays):
        return sorted(hashlib.sha1(im.tobytes()).hexdigest() for b in arrays for im in b)

    a, b = batches(True, 5), batches(True, 5)
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    fast = batches(False, 5)
    common = set(digests(a[:3])) & set(digests(fast))
    assert len(common) == 3 * 64
    other = batches(True, 6)
    assert not np.array_equal(np.stack(a), np.stack(other))


def _find_source(out, images):
    """The image of `images` that `out` was pad-cropped (and maybe flipped) from, by its centre 16x16."""
    centre = out[8:24, 8:24]
    for src in (images, images[:, :, ::-1]):
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                hit = np.all(np.abs(src[:, 8 + dy : 24 + dy, 8 + dx : 24 + dx] - centre) < 1e-3, axis=(1, 2, 3))
                if hit.any():
                    return images[np.argmax(hit)]
    return None


def test_augmented_train_images_are_crops_of_padded_images():
    d = data.cifar_datasets("digits", 8, seed=1, augment="paper", augment_on="host", deterministic=True)
    x_train = data.load_digits_32()[0].astype(np.float32) - d.mean
    for out in next(iter(d.train))[0].numpy():
        source = _find_source(out, x_train)
        assert source is not None and _offset_and_flip(out, source) is not None


def test_device_augmentation_layer():
    d = data.cifar_datasets("digits", 16, seed=2, augment_on="device")
    layer = d.augmentation
    assert isinstance(layer, data.PadCropFlip)
    x, _ = next(iter(d.train))
    # the stream itself is not augmented: every image is an original mean-subtracted digit
    originals = {
        hashlib.sha1(np.round(im, 2).tobytes()).hexdigest()
        for im in data.load_digits_32()[0].astype(np.float32) - d.mean
    }
    assert all(hashlib.sha1(np.round(im, 2).tobytes()).hexdigest() in originals for im in x.numpy())
    images = np.stack([_coordinate_image()] * 256)
    out = keras.ops.convert_to_numpy(layer(images, training=True))
    found = [_offset_and_flip(o, images[0]) for o in out]
    assert all(f is not None for f in found)
    assert len({f[:2] for f in found}) > 60
    assert abs(np.mean([f[2] for f in found]) - 0.5) < 0.1
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(clone, data.PadCropFlip) and clone.padding == 4 and clone.seed == 2


def test_device_augmentation_inside_a_model_trains():
    layer = data.PadCropFlip(seed=0)
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(layer(inputs))))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(np.zeros((8, 32, 32, 3), np.float32), np.zeros(8, np.int32), batch_size=4, verbose=0)
    np.testing.assert_allclose(
        model.predict(np.ones((2, 32, 32, 3), np.float32), verbose=0)[0],
        model.predict(np.ones((2, 32, 32, 3), np.float32), verbose=0)[1],
    )


def test_input_context_batches_per_replica():
    ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2)
    d = data.cifar_datasets("digits", 64, seed=0, input_context=ctx)
    assert d.train.element_spec[0].shape[0] == 32


def test_tuple_source_and_bad_arguments():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 16, 16, 1), dtype=np.uint8)
    y = np.arange(20) % 4
    d = data.cifar_datasets((x, y, x[:6], y[:6]), 4, seed=0, augment="none")
    first = next(iter(d.train))[0]
    assert first.shape == (4, 16, 16, 3) and d.num_classes == 4
    with pytest.raises(ValueError, match="augment_on='gpu'"):
        data.cifar_datasets("digits", 8, augment_on="gpu")
    with pytest.raises(ValueError, match="augment='inception'"):
        data.cifar_datasets("digits", 8, augment="inception")
    with pytest.raises(ValueError, match="source="):
        data.cifar_datasets(42, 8)
    with pytest.raises(ValueError, match="batch_size"):
        data.cifar_datasets("digits", 0)


def test_cifar10_through_tfds_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=20):
        d = data.cifar_datasets("cifar10", 8, seed=0)
        x, y = next(iter(d.train))
        assert x.shape == (8, 32, 32, 3) and x.dtype == tf.float32 and y.dtype == tf.int32
        assert d.train_size == 20 and d.mean.shape == (32, 32, 3)
        assert sum(int(b.shape[0]) for b, _ in d.test) == 20
