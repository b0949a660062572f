"""Keras 3 `.weights.h5` files: round trips (flat and nested) and the structure check."""

from __future__ import annotations

import numpy as np
import pytest
from weights_files import assert_untouched, randomize, rel_error, snapshot

import keras_resnet_paper.models as models
from keras_resnet_paper.weights import WeightsMismatchError, load_weights
from keras_resnet_paper.weights.keras3_h5 import keras3_file_layout, keras3_layout
from keras_resnet_paper.weights.loading import detect_h5_layout

SIZE = 64


def _build(depth=50, **kw):
    return models.imagenet_resnet(depth, include_top=False, pooling="avg", input_shape=(SIZE, SIZE, 3), **kw)


@pytest.mark.parametrize("nested", [False, True])
def test_round_trip(tmp_path, nested):
    src = randomize(_build(nested=nested))
    path = str(tmp_path / "ours.weights.h5")
    src.save_weights(path)
    assert detect_h5_layout(path) == "keras3_weights_h5"
    loaded = _build(weights=path, nested=nested)
    x = np.random.default_rng(1).uniform(-100, 150, (1, SIZE, SIZE, 3)).astype("float32")
    assert rel_error(np.asarray(loaded(x, training=False)), np.asarray(src(x, training=False))) < 1e-6


def test_other_depth_is_refused_and_nothing_loaded(tmp_path):
    path = str(tmp_path / "r18.weights.h5")
    _build(18).save_weights(path)
    other = _build(34)
    before = snapshot(other)
    with pytest.raises(WeightsMismatchError, match="first mismatching layer"):
        load_weights(other, path, include_top=False)
    assert_untouched(other, before)


def test_keras3_layout_prediction_matches_keras(tmp_path):
    model = models.imagenet_resnet(18, input_shape=(SIZE, SIZE, 3), nested=True)
    path = str(tmp_path / "r18.weights.h5")
    model.save_weights(path)
    expected = {g: s for g, _, s, _ in keras3_layout(model) if s}
    found = {g: s for g, s in keras3_file_layout(path).items() if s}
    assert expected == found
