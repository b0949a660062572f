"""The release registry: metadata and pinned hashes, and what `weights="imagenet"` fetches."""

from __future__ import annotations

import keras
import pytest

import keras_resnet_paper.models as models
from keras_resnet_paper import weights as weights_lib
from keras_resnet_paper.weights.architecture import detect_stride_in_1x1

SIZE = 64
EPS = 1.001e-5


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
    assert detect_stride_in_1x1(model) is False
    with pytest.raises(weights_lib.WeightsMismatchError, match="stride_in_1x1"):
        weights_lib.load_weights(model, "imagenet", model_name="resnet50", include_top=False)
