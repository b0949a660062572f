"""`Preprocessing`: the input convention of weights, applied by itself, by the pipelines and by the
test protocols (10-crop, multi-scale)."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet_paper.models as models
from keras_resnet_paper import data
from keras_resnet_paper.evaluation.multi_scale import multi_scale_scores
from keras_resnet_paper.evaluation.ten_crop import ten_crop_scores
from keras_resnet_paper.weights import CAFFE, TORCH, Preprocessing
from keras_resnet_paper.weights.conventions import as_preprocessing, input_convention

RNG = np.random.default_rng(0)


def test_normalize_matches_keras_conventions_and_leaves_input_alone():
    x = RNG.uniform(0, 255, (2, 5, 6, 3)).astype("float32")
    np.testing.assert_allclose(CAFFE.normalize(x), keras.applications.resnet.preprocess_input(x.copy()), atol=1e-4)
    torch_ref = (x / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(TORCH.normalize(x), torch_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(TORCH.normalize(tf.constant(x))), torch_ref, rtol=1e-5, atol=1e-5)
    assert x.max() > 1  # untouched


@pytest.mark.parametrize("prep", [CAFFE, TORCH], ids=lambda p: p.name)
def test_rgb_mean_and_gain_are_what_the_pipelines_apply(prep):
    x = RNG.uniform(0, 255, (4, 4, 3)).astype("float32")
    via_pipeline = ((x - prep.rgb_mean()) * prep.rgb_gain())[..., :: -1 if prep.color_order == "BGR" else 1]
    np.testing.assert_allclose(via_pipeline, prep.normalize(x), rtol=1e-5, atol=1e-5)


def test_mean_image_and_per_channel():
    image = RNG.uniform(90, 130, (4, 4, 3)).astype("float32")
    prep = Preprocessing(name="authors", color_order="BGR", mean_image=image, input_size=(4, 4, 3), crop_pct=1.0)
    x = RNG.uniform(0, 255, (4, 4, 3)).astype("float32")
    np.testing.assert_allclose(prep.normalize(x), x[..., ::-1] - image, atol=1e-4)
    np.testing.assert_allclose(prep.per_channel().mean, image.mean((0, 1)), rtol=1e-6)
    with pytest.raises(ValueError, match="mean_image has shape"):
        Preprocessing(name="bad", mean_image=image)  # not the 224 x 224 crop


def test_called_on_a_photo_it_resizes_crops_and_normalises():
    photo = RNG.uniform(0, 255, (300, 411, 3)).astype("float32")
    out = CAFFE(photo)
    crop = data.center_crop(data.resize_shorter_side(tf.constant(photo), 256), 224).numpy()
    np.testing.assert_allclose(out, keras.applications.resnet.preprocess_input(crop.copy()), atol=2e-3)
    assert tuple(np.shape(out)) == (224, 224, 3)


def test_conversions_and_errors():
    model = models.ResNet18(input_shape=(32, 32, 3))
    assert model.preprocessing is None  # no weights, no convention
    with pytest.raises(ValueError, match="carries no preprocessing"):
        as_preprocessing(model)
    model.preprocessing = TORCH
    assert as_preprocessing(model) is TORCH and as_preprocessing("caffe") is CAFFE
    assert as_preprocessing({"preprocessing": "torch"}) is TORCH
    with pytest.raises(ValueError, match="allowed"):
        as_preprocessing("tf")
    with pytest.raises(ValueError, match="both given"):
        input_convention(mean=[1, 2, 3], preprocessing=CAFFE)
    with pytest.raises(ValueError, match="color_order"):
        dataclasses.replace(CAFFE, color_order="GBR")


@pytest.mark.slow  # builds four ImageNet pipelines over real JPEGs: over 20 s on 2 cores
def test_imagenet_pipelines_take_the_preprocessing(photo_folder):
    common = dict(augment="none", lighting=False, seed=0, deterministic=True)
    plain = data.imagenet_datasets(str(photo_folder), 2, mean=[0, 0, 0], **common)
    torch = data.imagenet_datasets(str(photo_folder), 2, preprocessing="torch", **common)
    assert torch.preprocessing is TORCH and np.allclose(torch.mean, [123.675, 116.28, 103.53])
    for split in ("validation", "train"):
        raw, normalised = (next(iter(getattr(d, split)))[0].numpy() for d in (plain, torch))
        np.testing.assert_allclose(normalised, TORCH.normalize(raw), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="give one"):
        data.imagenet_datasets(str(photo_folder), 2, mean="channel", preprocessing="caffe")
    bicubic = dataclasses.replace(TORCH, interpolation="bicubic")
    with pytest.raises(ValueError, match="bicubic"):
        data.imagenet_datasets(str(photo_folder), 2, preprocessing=bicubic)


def _small_convnet(classes=6):
    """conv 3x3 (valid), ReLU, average pool, fc to logits: any input size, sensitive to colour order
    and scale (logits, so the raw and the normalised images cannot both saturate a softmax)."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(
        4, 3, activation="relu", kernel_initializer=keras.initializers.RandomNormal(0, 0.5, seed=1)
    )(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, keras.layers.Dense(classes, name="predictions")(x))


def _dataset(images):
    return tf.data.Dataset.from_tensor_slices((np.stack(images), np.arange(len(images), dtype="int32")))


@pytest.mark.parametrize("prep", [CAFFE, TORCH], ids=lambda p: p.name)
def test_protocols_normalise_with_the_preprocessing(prep):
    """Normalising is affine per pixel, so it commutes with the protocols' resizes, crops and flips:
    the raw images with `preprocessing=` score as the pre-normalised images with none."""
    model = _small_convnet()
    rng = np.random.default_rng(5)
    images = [rng.uniform(0, 255, (12, 16, 3)).astype("float32") for _ in range(3)]
    normalised = [prep.normalize(x) for x in images]
    ten = dict(crop_size=8, resize_side=10)
    got, _ = ten_crop_scores(model, _dataset(images), preprocessing=prep, **ten)
    want, _ = ten_crop_scores(model, _dataset(normalised), **ten)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert not np.allclose(want, ten_crop_scores(model, _dataset(images), **ten)[0], rtol=0.1)
    got, _ = multi_scale_scores(model, _dataset(images), scales=(8, 12), preprocessing=prep)
    want, _ = multi_scale_scores(model, _dataset(normalised), scales=(8, 12))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="both given"):
        ten_crop_scores(model, _dataset(images), mean=[1, 2, 3], preprocessing=prep, **ten)
