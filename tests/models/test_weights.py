"""Pretrained weights: keras.applications HDF5 parity, Keras 3 files, registry, mismatch errors."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
from weights_testutils import keras_applications_reference, randomize, rel_error

import keras_resnet_paper.models as models
from keras_resnet_paper.models import weights as weights_lib

SIZE = 64
EPS = weights_lib.PRETRAINED_CONFIGS["resnet50"]["imagenet"]["bn_epsilon"]
BUILDERS = {50: models.ResNet50, 101: models.ResNet101, 152: models.ResNet152}


def _ours(depth, include_top, weights=None, **kw):
    return BUILDERS[depth](include_top=include_top, weights=weights, input_shape=(SIZE, SIZE, 3),
                           classifier_activation=None, pooling=None if include_top else "avg",
                           bn_epsilon=EPS, **kw)


def _inputs(n=2, seed=1):
    return np.random.default_rng(seed).uniform(-100, 150, (n, SIZE, SIZE, 3)).astype("float32")


def _check_parity(depth, include_top, tmp_path, **kw):
    path = str(tmp_path / f"resnet{depth}_{include_top}.h5")
    ref = keras_applications_reference(depth, include_top, path, size=SIZE)
    ours = _ours(depth, include_top, weights=path, **kw)
    x = _inputs()
    err = rel_error(ours.predict(x, verbose=0), ref.predict(x, verbose=0))
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
        ref.get_layer("conv1_bn").moving_mean.numpy() - bias, rtol=1e-6, atol=1e-7)
    assert not models.find_layer(ours, "conv1_conv").use_bias


@pytest.fixture(scope="module")
def r50_notop_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("w") / "r50_notop.h5")
    keras_applications_reference(50, False, path, size=SIZE)
    return path


def _snapshot(model):
    return [np.array(v.numpy()) for v in model.weights]


def _assert_untouched(model, before):
    for a, b in zip(before, _snapshot(model)):
        np.testing.assert_array_equal(a, b)


def test_other_depth_names_first_mismatching_layer(r50_notop_file):
    model = models.ResNet101(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    before = _snapshot(model)
    with pytest.raises(weights_lib.WeightsMismatchError, match="'conv4_block7_1_conv'"):
        weights_lib.load_weights(model, r50_notop_file, include_top=False)
    _assert_untouched(model, before)


def test_other_shortcut_option_names_first_mismatching_layer(r50_notop_file):
    model = models.imagenet_resnet(50, shortcut="A", include_top=False, input_shape=(SIZE, SIZE, 3))
    before = _snapshot(model)
    with pytest.raises(weights_lib.WeightsMismatchError, match="'conv2_block1_0_conv'.*not in the model"):
        weights_lib.load_weights(model, r50_notop_file, include_top=False)
    _assert_untouched(model, before)


def test_builder_refuses_mismatching_file(r50_notop_file):
    with pytest.raises(ValueError, match="first mismatching layer 'predictions'"):
        models.ResNet50(include_top=True, weights=r50_notop_file, input_shape=(SIZE, SIZE, 3))


def test_truncated_file_is_refused_and_nothing_loaded(r50_notop_file, tmp_path):
    data = open(r50_notop_file, "rb").read()
    bad = tmp_path / "truncated.h5"
    bad.write_bytes(data[: len(data) // 2])
    model = _ours(50, False)
    before = _snapshot(model)
    with pytest.raises(weights_lib.WeightsMismatchError, match="truncated"):
        weights_lib.load_weights(model, str(bad), include_top=False)
    _assert_untouched(model, before)


def test_mis_shaped_late_layer_leaves_model_untouched(r50_notop_file, tmp_path):
    order, arrays = weights_lib.read_keras_applications_h5(r50_notop_file)
    arrays["conv5_block3_3_bn"]["gamma"] = np.ones(7, "float32")
    path = str(tmp_path / "bad.h5")
    weights_lib.write_keras_applications_h5(path, [(n, arrays[n]) for n in order])
    model = _ours(50, False)
    before = _snapshot(model)
    with pytest.raises(weights_lib.WeightsMismatchError, match="conv5_block3_3_bn.*gamma"):
        weights_lib.load_weights(model, path, include_top=False)
    _assert_untouched(model, before)


def test_keras3_weights_file_round_trip_and_mismatch(tmp_path):
    src = randomize(_ours(50, False))
    path = str(tmp_path / "ours.weights.h5")
    src.save_weights(path)
    assert weights_lib.detect_h5_layout(path) == "keras3_weights_h5"
    x = _inputs(1)
    for nested in (False, True):
        loaded = _ours(50, False, weights=path, nested=nested) if not nested else None
        if loaded is None:
            # A nested model saves differently; its own file must round-trip too.
            nsrc = randomize(_ours(50, False, nested=True))
            npath = str(tmp_path / "nested.weights.h5")
            nsrc.save_weights(npath)
            loaded, src_ = _ours(50, False, weights=npath, nested=True), nsrc
        else:
            src_ = src
        assert rel_error(loaded.predict(x, verbose=0), src_.predict(x, verbose=0)) < 1e-6
    other = models.ResNet101(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    before = _snapshot(other)
    with pytest.raises(weights_lib.WeightsMismatchError, match="first mismatching layer"):
        weights_lib.load_weights(other, path, include_top=False)
    _assert_untouched(other, before)


def test_keras3_layout_prediction_matches_keras(tmp_path):
    model = models.imagenet_resnet(18, input_shape=(SIZE, SIZE, 3), nested=True)
    path = str(tmp_path / "r18.weights.h5")
    model.save_weights(path)
    expected = {g: s for g, _, s in weights_lib.keras3_layout(model) if s}
    found = {g: s for g, s in weights_lib._keras3_file_layout(path).items() if s}
    assert expected == found


def test_imagenet_tag_uses_pinned_registry_file(monkeypatch, r50_notop_file):
    calls = []

    def fake_get_file(fname, origin, cache_subdir, file_hash, cache_dir=None):
        calls.append((fname, origin, cache_subdir, file_hash))
        return r50_notop_file

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    with pytest.warns(UserWarning, match="epsilon"):
        models.ResNet50(weights="imagenet", include_top=False, input_shape=(SIZE, SIZE, 3))
    model = models.ResNet50(weights="imagenet", include_top=False, input_shape=(SIZE, SIZE, 3),
                            bn_epsilon=EPS)
    assert calls[-1] == (
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "models",
        "4d473c1dd8becc155b73f8504c6f6626",
    )
    assert model.output.shape[-1] == 2048


def test_registry_metadata_and_hashes_match_keras():
    from keras.src.applications import resnet as kres

    for name in ("resnet50", "resnet101", "resnet152"):
        cfg = weights_lib.get_pretrained_config(name.replace("resnet", "ResNet"))
        assert cfg["files"]["top"][1] == kres.WEIGHTS_HASHES[name][0]
        assert cfg["files"]["notop"][1] == kres.WEIGHTS_HASHES[name][1]
        assert cfg["url"] == kres.BASE_WEIGHTS_PATH
        assert cfg["input_size"] == (224, 224, 3) and cfg["preprocessing"] == "caffe"
        assert cfg["stride_in_1x1"] and cfg["shortcut"] == "B"
    assert weights_lib.available_weights("ResNet-50") == {"resnet50": ("imagenet",)}
    with pytest.raises(ValueError, match="No weights"):
        weights_lib.get_pretrained_config("resnet34")


def test_imagenet_refuses_v1_5_geometry():
    model = models.imagenet_resnet(50, stride_in_1x1=False, include_top=False,
                                   input_shape=(SIZE, SIZE, 3))
    assert weights_lib.detect_stride_in_1x1(model) is False
    with pytest.raises(weights_lib.WeightsMismatchError, match="stride_in_1x1"):
        weights_lib.load_weights(model, "imagenet", model_name="resnet50", include_top=False)


def test_unknown_path_is_refused(tmp_path):
    model = models.imagenet_resnet(18, input_shape=(SIZE, SIZE, 3))
    with pytest.raises(ValueError, match="neither"):
        weights_lib.load_weights(model, str(tmp_path / "nope.h5"))
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(weights_lib.WeightsMismatchError):
        weights_lib.load_weights(model, str(junk))
    assert os.path.exists(junk)
