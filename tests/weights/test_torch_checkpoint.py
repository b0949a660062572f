"""torchvision-layout checkpoints: round trips, an independent NumPy forward pass, strict checking."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest
from weights_files import randomize, rel_error

import keras_resnet_paper.models as models
from keras_resnet_paper.weights import TORCH, WeightsFileError, WeightsMismatchError
from keras_resnet_paper.weights import torch_checkpoint as converters
from keras_resnet_paper.weights.architecture import detect_stride_in_1x1

SIZE = 64


def _build(depth, **kw):
    kw.setdefault("classifier_activation", None)
    return models.imagenet_resnet(depth, input_shape=(SIZE, SIZE, 3), **kw)


def _x(n=2):
    return np.random.default_rng(3).normal(0, 1, (n, SIZE, SIZE, 3)).astype("float32")


# --- an independent forward pass in NumPy, NCHW with torchvision's tensors ------------------


def _conv(x, w, stride=1, pad=0):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    _, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = 0.0
    for a in range(kh):
        for b in range(kw):
            patch = x[:, :, a : a + stride * (oh - 1) + 1 : stride, b : b + stride * (ow - 1) + 1 : stride]
            out = out + np.einsum("nchw,oc->nohw", patch, w[:, :, a, b])
    return out


def _bn(x, sd, p, eps=1e-5):
    s = lambda k: sd[f"{p}.{k}"][None, :, None, None].astype(np.float64)  # noqa: E731
    return (x - s("running_mean")) / np.sqrt(s("running_var") + eps) * s("weight") + s("bias")


def _relu(x):
    return np.maximum(x, 0)


def _maxpool(x):
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    oh, ow = (x.shape[2] - 3) // 2 + 1, (x.shape[3] - 3) // 2 + 1
    return np.max([x[:, :, a : a + 2 * oh - 1 : 2, b : b + 2 * ow - 1 : 2] for a in range(3) for b in range(3)], 0)


def _block(x, sd, p, bottleneck, stride, stride_in_1x1=False):
    if bottleneck:
        s1, s2 = (stride, 1) if stride_in_1x1 else (1, stride)
        y = _relu(_bn(_conv(x, sd[f"{p}.conv1.weight"], s1), sd, f"{p}.bn1"))
        y = _relu(_bn(_conv(y, sd[f"{p}.conv2.weight"], s2, 1), sd, f"{p}.bn2"))
        y = _bn(_conv(y, sd[f"{p}.conv3.weight"]), sd, f"{p}.bn3")
    else:
        y = _relu(_bn(_conv(x, sd[f"{p}.conv1.weight"], stride, 1), sd, f"{p}.bn1"))
        y = _bn(_conv(y, sd[f"{p}.conv2.weight"], 1, 1), sd, f"{p}.bn2")
    if f"{p}.downsample.0.weight" in sd:
        x = _bn(_conv(x, sd[f"{p}.downsample.0.weight"], stride), sd, f"{p}.downsample.1")
    return _relu(y + x)


def _nchw(t):
    return np.asarray(t, np.float64).transpose(0, 3, 1, 2)


def _probe(model, names):
    return keras.Model(model.input, [models.find_layer(model, n).output for n in names])


def _numpy_reference_check(model, sd, bottleneck, stride_in_1x1=False):
    """Stem, the first downsampling block of conv3_x and the fc head, from torchvision tensors only."""
    x = _x(1)
    stem, c2, c3, logits = _probe(
        model, ["pool1_pool", f"conv2_block{2 if not bottleneck else 3}_out", "conv3_block1_out", "predictions"]
    )(x, training=False)
    ref_stem = _maxpool(_relu(_bn(_conv(_nchw(x), sd["conv1.weight"], 2, 3), sd, "bn1")))
    assert rel_error(_nchw(stem), ref_stem) < 1e-4
    ref_c3 = _block(_nchw(c2), sd, "layer2.0", bottleneck, 2, stride_in_1x1)
    assert rel_error(_nchw(c3), ref_c3) < 1e-4
    pooled = keras.Model(model.input, models.find_layer(model, "avg_pool").output)(x, training=False)
    assert rel_error(logits, pooled @ sd["fc.weight"].T + sd["fc.bias"]) < 1e-4


# --- tests ----------------------------------------------------------------------------------


def test_resnet18_round_trip_and_numpy_forward(tmp_path):
    src = randomize(_build(18))
    sd = converters.to_torchvision_state_dict(src)
    assert sd["conv1.weight"].shape == (64, 3, 7, 7) and sd["fc.weight"].shape == (1000, 512)
    assert "layer1.0.downsample.0.weight" not in sd and "layer2.0.downsample.0.weight" in sd
    _numpy_reference_check(src, sd, bottleneck=False)
    for ext in ("safetensors", "npz"):
        path = tmp_path / f"r18.{ext}"
        converters.save_torchvision_checkpoint(src, path)
        loaded = _build(18, weights=str(path))
        assert rel_error(loaded(_x(), training=False), src(_x(), training=False)) < 1e-6


def test_resnet50_v1_5_round_trip_and_numpy_forward(tmp_path):
    src = randomize(_build(50, stride_in_1x1=False, include_top=True))
    sd = converters.to_torchvision_state_dict(src)
    assert len([k for k in sd if not k.endswith("num_batches_tracked")]) == len(src.weights)
    _numpy_reference_check(src, sd, bottleneck=True, stride_in_1x1=False)
    path = tmp_path / "r50.safetensors"
    converters.save_torchvision_checkpoint(src, path)
    loaded = _build(50, weights=str(path))  # the checkpoint's v1.5 geometry, built by itself
    assert detect_stride_in_1x1(loaded) is False and loaded.preprocessing is TORCH
    assert rel_error(loaded(_x(), training=False), src(_x(), training=False)) < 1e-6
    # The Caffe geometry contradicts the file, and shapes could not tell them apart: refused.
    with pytest.raises(ValueError, match="needs stride_in_1x1=False but got stride_in_1x1=True"):
        _build(50, weights=str(path), stride_in_1x1=True)


def test_missing_extra_misshaped_are_listed_and_nothing_loaded():
    model = randomize(_build(18, include_top=False, pooling="avg"))
    sd = converters.to_torchvision_state_dict(model)
    del sd["layer3.1.bn2.running_var"]
    sd["layer5.0.conv1.weight"] = np.zeros((1, 1, 1, 1), "float32")
    sd["layer4.0.conv2.weight"] = sd["layer4.0.conv2.weight"][:, :, :2]
    before = [np.array(v.numpy()) for v in model.weights]
    target = _build(18, include_top=False, pooling="avg")
    fresh = [np.array(v.numpy()) for v in target.weights]
    with pytest.raises(WeightsMismatchError) as err:
        converters.load_torchvision_weights(target, sd)
    msg = str(err.value)
    assert "1 missing: layer3.1.bn2.running_var" in msg
    assert "1 unexpected: layer5.0.conv1.weight" in msg
    assert "1 mis-shaped: layer4.0.conv2.weight" in msg
    for a, b in zip(fresh, [np.array(v.numpy()) for v in target.weights]):
        np.testing.assert_array_equal(a, b)
    assert len(before) == len(fresh)


def test_option_a_and_cifar_models_are_refused():
    sd = converters.to_torchvision_state_dict(_build(18, include_top=False))
    with pytest.raises(WeightsMismatchError, match="unexpected"):
        converters.load_torchvision_weights(_build(18, include_top=False, shortcut="A"), sd)
    with pytest.raises(WeightsMismatchError, match="missing"):
        converters.load_torchvision_weights(models.cifar_resnet(20, include_top=False), sd)


def test_npz_is_read_without_pickle(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(WeightsFileError, match="Python objects, which are never unpickled"):
        converters.read_state_dict(path)


def _tiny(**kw):
    """A one-block-per-stage bottleneck net of the ImageNet family: quick to build."""
    kw.setdefault("classifier_activation", None)
    return models.imagenet_resnet(blocks=(1, 1, 1, 1), block="bottleneck", input_shape=(SIZE, SIZE, 3), **kw)


def test_source_layout_passes_through_the_constructors_or_is_recorded(tmp_path):
    src = randomize(_tiny())  # the Caffe geometry: stride on the first 1x1
    x = _x()
    foreign = tmp_path / "port_of_caffe_model.npz"  # as torch users export it: no metadata
    np.savez(foreign, **converters.to_torchvision_state_dict(src))
    as_torchvision = _tiny(weights=str(foreign))  # the default layout builds the 3x3 stride ...
    assert detect_stride_in_1x1(as_torchvision) is False
    assert rel_error(as_torchvision(x, training=False), src(x, training=False)) > 1e-2  # ... and differs
    with pytest.raises(WeightsMismatchError, match="build it with stride_in_1x1=True"):  # a built model
        converters.load_torchvision_weights(as_torchvision, str(foreign), source_layout="caffe")
    as_caffe = _tiny(weights=str(foreign), source_layout="caffe")
    assert detect_stride_in_1x1(as_caffe) is True
    assert rel_error(as_caffe(x, training=False), src(x, training=False)) < 1e-6
    with pytest.raises(ValueError, match="needs stride_in_1x1=True but got stride_in_1x1=False"):
        models.ResNet50(weights=str(foreign), source_layout="caffe", stride_in_1x1=False)  # through the zoo
    for ext in ("npz", "safetensors"):  # a file this package wrote records its layout
        ours = tmp_path / f"exported.{ext}"
        converters.save_torchvision_checkpoint(src, ours)
        assert converters.checkpoint_metadata(ours)["source_layout"] == "caffe"
        assert rel_error(_tiny(weights=str(ours))(x, training=False), src(x, training=False)) < 1e-6
        with pytest.raises(ValueError, match="contradicts"):
            _tiny(weights=str(ours), source_layout="torchvision")
    with pytest.raises(ValueError, match="applies to torchvision/timm checkpoints"):
        _tiny(weights=None, source_layout="caffe")


def test_include_top_false_leaves_out_the_head_and_logs_it(tmp_path, caplog):
    src = randomize(_tiny(stride_in_1x1=False))
    path = tmp_path / "full.safetensors"
    converters.save_torchvision_checkpoint(src, path)
    with caplog.at_level(logging.INFO, "keras_resnet_paper.weights"):
        backbone = _tiny(weights=str(path), include_top=False, pooling="avg")
    assert "leaving out the checkpoint's fc.weight, fc.bias" in caplog.text
    features = keras.Model(src.input, models.find_layer(src, "avg_pool").output)
    x = _x()
    assert rel_error(backbone(x, training=False), features(x, training=False)) < 1e-6
