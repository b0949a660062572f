"""keras.applications-layout HDF5 files: parity with keras.applications, bias folding, mismatches."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest
from weights_files import (
    assert_untouched,
    keras_applications_reference,
    model_to_keras_applications_layout,
    randomize,
    rel_error,
    snapshot,
    write_keras_applications_h5,
)

import keras_resnet_paper.models as models
from keras_resnet_paper.weights import WeightsFileError, WeightsMismatchError, load_weights
from keras_resnet_paper.weights.keras_applications_h5 import read_keras_applications_h5

SIZE = 64
EPS = 1.001e-5  # keras.applications' BatchNormalization epsilon
BUILDERS = {50: models.ResNet50, 101: models.ResNet101, 152: models.ResNet152}


def _ours(depth, include_top, weights=None, **kw):
    return BUILDERS[depth](
        include_top=include_top,
        weights=weights,
        input_shape=(SIZE, SIZE, 3),
        classifier_activation=None,
        pooling=None if include_top else "avg",
        bn_epsilon=EPS,
        **kw,
    )


def _inputs(n=2, seed=1):
    return np.random.default_rng(seed).uniform(-100, 150, (n, SIZE, SIZE, 3)).astype("float32")


def _check_parity(depth, include_top, tmp_path, **kw):
    path = str(tmp_path / f"resnet{depth}_{include_top}.h5")
    ref = keras_applications_reference(depth, include_top, path, size=SIZE)
    ours = _ours(depth, include_top, weights=path, **kw)
    x = _inputs()
    err = rel_error(np.asarray(ours(x, training=False)), np.asarray(ref(x, training=False)))
    assert err < 1e-4, err
    return path


@pytest.mark.parametrize("include_top", [True, False])
def test_resnet50_keras_applications_parity(tmp_path, include_top):
    _check_parity(50, include_top, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [101, 152])
@pytest.mark.parametrize("include_top", [True, False])
def test_deep_keras_applications_parity(tmp_path, depth, include_top):
    _check_parity(depth, include_top, tmp_path)


def test_nested_model_loads_same_file(tmp_path):
    _check_parity(50, False, tmp_path, nested=True)


def test_bias_is_folded_into_bn_moving_mean(tmp_path):
    path = str(tmp_path / "r50.h5")
    ref = keras_applications_reference(50, False, path, size=SIZE)
    ours = _ours(50, False, weights=path)
    bias = ref.get_layer("conv1_conv").bias.numpy()
    assert np.abs(bias).max() > 0
    np.testing.assert_allclose(
        models.find_layer(ours, "conv1_bn").moving_mean.numpy(),
        ref.get_layer("conv1_bn").moving_mean.numpy() - bias,
        rtol=1e-6,
        atol=1e-7,
    )
    assert not models.find_layer(ours, "conv1_conv").use_bias


def test_other_depth_names_first_mismatching_layer(r50_notop_file):
    model = models.ResNet101(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    before = snapshot(model)
    with pytest.raises(WeightsMismatchError, match="'conv4_block7_1_conv'"):
        load_weights(model, r50_notop_file, include_top=False)
    assert_untouched(model, before)


def test_other_shortcut_option_names_first_mismatching_layer(r50_notop_file):
    model = models.imagenet_resnet(50, shortcut="A", include_top=False, input_shape=(SIZE, SIZE, 3))
    before = snapshot(model)
    with pytest.raises(WeightsMismatchError, match="'conv2_block1_0_conv'.*not in the model"):
        load_weights(model, r50_notop_file, include_top=False)
    assert_untouched(model, before)


def test_builder_refuses_mismatching_file(r50_notop_file):
    with pytest.raises(ValueError, match="first mismatching layer 'predictions'"):
        models.ResNet50(include_top=True, weights=r50_notop_file, input_shape=(SIZE, SIZE, 3))


def test_truncated_file_is_refused_and_nothing_loaded(r50_notop_file, tmp_path):
    data = open(r50_notop_file, "rb").read()
    bad = tmp_path / "truncated.h5"
    bad.write_bytes(data[: len(data) // 2])
    model = _ours(50, False)
    before = snapshot(model)
    with pytest.raises(WeightsFileError, match="truncated"):
        load_weights(model, str(bad), include_top=False)
    assert_untouched(model, before)


def test_mis_shaped_late_layer_leaves_model_untouched(r50_notop_file, tmp_path):
    order, arrays = read_keras_applications_h5(r50_notop_file)
    arrays["conv5_block3_3_bn"]["gamma"] = np.ones(7, "float32")
    path = str(tmp_path / "bad.h5")
    write_keras_applications_h5(path, [(n, arrays[n]) for n in order])
    model = _ours(50, False)
    before = snapshot(model)
    with pytest.raises(WeightsMismatchError, match="conv5_block3_3_bn.*gamma"):
        load_weights(model, path, include_top=False)
    assert_untouched(model, before)


def test_include_top_false_leaves_out_the_files_head_and_logs_it(tmp_path, caplog):
    src = randomize(models.imagenet_resnet(18, input_shape=(SIZE, SIZE, 3), classes=7))
    path = str(tmp_path / "with_top.h5")
    write_keras_applications_h5(path, model_to_keras_applications_layout(src))
    with caplog.at_level(logging.INFO, "keras_resnet_paper.weights"):
        backbone = models.ResNet18(weights=path, include_top=False, pooling="avg", input_shape=(SIZE, SIZE, 3))
    assert "leaving out the file's 'predictions'" in caplog.text
    features = keras.Model(src.input, models.find_layer(src, "avg_pool").output)
    x = _inputs()
    assert rel_error(np.asarray(backbone(x, training=False)), np.asarray(features(x, training=False))) < 1e-6
