"""The release registry: one record per release; `weights="imagenet"` builds the release's
architecture by itself, and a contradicting explicit argument is an error."""

from __future__ import annotations

import dataclasses
import os
import shutil
import warnings

import numpy as np
import pytest
from weights_files import rel_error, release_of

import keras_resnet_paper.models as models
from keras_resnet_paper import weights as weights_lib
from keras_resnet_paper.models.imagenet import DEFAULT_ARCHITECTURE
from keras_resnet_paper.weights.architecture import detect_stride_in_1x1, model_bn_epsilon, resolve_arguments

SIZE = 64


def test_records_match_keras_applications():
    from keras.src.applications import resnet as kres

    for name in ("resnet50", "resnet101", "resnet152"):
        release = weights_lib.get_release(name.replace("resnet", "ResNet-"))
        assert release.top_file.file_hash == kres.WEIGHTS_HASHES[name][0]
        assert release.notop_file.file_hash == kres.WEIGHTS_HASHES[name][1]
        assert release.url(include_top=False) == kres.BASE_WEIGHTS_PATH + release.notop_file.file_name
        assert release.architecture == weights_lib.Architecture(stride_in_1x1=True, shortcut="B", bn_epsilon=1.001e-5)
        assert release.preprocessing is weights_lib.CAFFE and release.preprocessing.resize_side == 256
        assert release.num_classes == 1000 and 70 < release.top1 < 80
    assert set(weights_lib.available_weights("ResNet-50")["ResNet-50"]) == {
        "imagenet",
        "imagenet1k_v1",
        "imagenet1k_v2",
        "timm",
    }
    with pytest.raises(ValueError, match=r"No weights 'cifar10' for model 'resnet34'; its tags: \['imagenet', "):
        weights_lib.get_release("resnet34", "cifar10")


def test_registered_overrides_only_inside_the_block(tmp_path):
    extra = dataclasses.replace(weights_lib.get_release("resnet50"), model="resnet18", tag="digits")
    with weights_lib.registered(extra):
        assert weights_lib.get_release("resnet18", "digits") is extra
        assert weights_lib.is_registered_tag("digits")
    assert not weights_lib.is_registered_tag("digits")
    with pytest.raises(ValueError, match="Release or LabelSet records"):
        with weights_lib.registered({"model": "resnet18"}):
            pass


def test_imagenet_builds_the_release_architecture_without_warning(r50_notop):
    path, reference = r50_notop
    release = release_of(path)
    cache = os.path.join(os.environ["KERAS_HOME"], "models")
    os.makedirs(cache)
    shutil.copy(path, cache)  # already in the cache: no download
    with weights_lib.registered(release), warnings.catch_warnings():
        warnings.simplefilter("error")
        model = models.ResNet50(weights="imagenet", include_top=False, pooling="avg", input_shape=(SIZE, SIZE, 3))
    assert model_bn_epsilon(model) == 1.001e-5 and detect_stride_in_1x1(model) is True
    assert model.preprocessing is weights_lib.CAFFE
    x = np.random.default_rng(0).uniform(-100, 150, (2, SIZE, SIZE, 3)).astype("float32")
    assert rel_error(model.predict(x, verbose=0), reference.predict(x, verbose=0)) < 1e-5


@pytest.mark.parametrize("argument", [dict(bn_epsilon=1e-5), dict(stride_in_1x1=False), dict(shortcut="C")])
def test_contradicting_argument_is_an_error_before_any_download(argument):
    name = next(iter(argument))
    with pytest.raises(ValueError, match=f"needs {name}=.* but got {name}="):
        models.ResNet50(weights="imagenet", include_top=False, **argument)
    assert not os.path.exists(os.environ["KERAS_HOME"])


def test_release_arguments_given_again_are_accepted():
    given = weights_lib.builder_overrides("resnet50", "imagenet")
    assert given == {"stride_in_1x1": True, "shortcut": "B", "bn_epsilon": 1.001e-5}
    resolved = resolve_arguments(
        {**given, "shortcut": "b"},
        weights_lib.get_release("resnet50").architecture,
        DEFAULT_ARCHITECTURE,
        "weights='imagenet'",
    )
    assert resolved == {**given, "shortcut": "b", "zero_padding": None}


def test_other_nets_and_heads_are_refused():
    with pytest.raises(
        ValueError,
        match="exists for the ImageNet resnet50, resnet101, resnet152, wide_resnet50_2, wide_resnet101_2 only, not for resnet34",
    ):
        models.ResNet34(weights="imagenet1k_v2")
    with pytest.raises(ValueError, match="'cifar10' is no ImageNet release"):
        models.ResNet50(weights="cifar10")
    with pytest.raises(ValueError, match="exists for the CIFAR ResNet-20/32/44/56/110/1202, not for the CIFAR plain"):
        models.Plain56(weights="cifar10")
    with pytest.raises(ValueError, match="not for plain-50"):
        models.Plain50(weights="imagenet")
    with pytest.raises(ValueError, match="classes=1000"):
        models.ResNet50(weights="imagenet", classes=10)


def test_load_weights_refuses_a_model_of_other_geometry_before_downloading():
    model = models.imagenet_resnet(50, stride_in_1x1=False, include_top=False, input_shape=(SIZE, SIZE, 3))
    with pytest.raises(weights_lib.WeightsMismatchError, match="stride_in_1x1=True"):
        weights_lib.load_weights(model, "imagenet", model_name="resnet50", include_top=False)
    other_eps = models.imagenet_resnet(50, bn_epsilon=1e-3, include_top=False, input_shape=(SIZE, SIZE, 3))
    with pytest.raises(weights_lib.WeightsMismatchError, match="bn_epsilon=1.001e-05"):
        weights_lib.load_weights(other_eps, "imagenet", model_name="resnet50", include_top=False)


def test_every_published_release_is_registered_with_its_file_hash_and_preprocessing():
    records = {(r.model, r.tag): r for r in weights_lib.RELEASES}
    assert len(records) == len(weights_lib.RELEASES) == 28  # 3 authors' + 14 torchvision + 5 timm + 6 CIFAR
    torchvision = {
        (18, 1): ("f37072fd", 69.758),
        (34, 1): ("b627a593", 73.314),
        (50, 1): ("0676ba61", 76.130),
        (101, 1): ("63fe2227", 77.374),
        (152, 1): ("394f9c45", 78.312),
        (50, 2): ("11ad3fa6", 80.858),
        (101, 2): ("cd907fc2", 81.886),
        (152, 2): ("f82ba261", 82.284),
    }
    for (depth, version), (prefix, top1) in torchvision.items():
        r = records[(f"resnet{depth}", f"imagenet1k_v{version}")]
        assert r.url() == f"https://download.pytorch.org/models/resnet{depth}-{prefix}.pth" and r.top1 == top1
        assert r.top_file.file_hash == prefix and weights_lib.hash_kind(prefix) == "sha256-prefix"
        assert r.architecture == weights_lib.Architecture(stride_in_1x1=False, shortcut="B", bn_epsilon=1e-5)
        assert r.preprocessing.resize_side == (256 if version == 1 else 232) and r.preprocessing.crop_size == 224
        assert r.license.startswith("BSD-3-Clause")
    wide = {(50, 1): "95faca4d", (50, 2): "9ba9bcbe", (101, 1): "32ee1156", (101, 2): "d733dc28"}
    for (depth, version), prefix in wide.items():  # the wide ResNets (not in the paper)
        r = records[(f"wide_resnet{depth}_2", f"imagenet1k_v{version}")]
        assert r.url() == f"https://download.pytorch.org/models/wide_resnet{depth}_2-{prefix}.pth"
        assert r.paper_top1_error is None and r.preprocessing.resize_side == (256 if version == 1 else 232)
    for depth in (18, 34):  # "imagenet" is torchvision's first release where the authors published none
        assert records[(f"resnet{depth}", "imagenet")].top_file == records[(f"resnet{depth}", "imagenet1k_v1")].top_file
    timm = {18: ("a1_in1k", 71.504, 235), 34: ("ra4_e3600_r224_in1k", 77.492, 248), 50: ("a1_in1k", 80.382, 235)}
    timm.update({101: ("a1h_in1k", 81.950, 235), 152: ("a1h_in1k", 82.818, 235)})
    for depth, (tag, top1, resize) in timm.items():
        r = records[(f"resnet{depth}", "timm")]
        hub = f"timm/resnet{depth}.{tag}"
        assert r.url() == f"https://huggingface.co/{hub}/resolve/main/model.safetensors" and r.top1 == top1
        assert r.top_file.file_name == f"timm-resnet{depth}.{tag}.safetensors" and r.top_file.file_hash is None
        assert "finite" in r.top_file.check and r.license.startswith("Apache-2.0")
        assert (r.preprocessing.resize_side, r.preprocessing.interpolation) == (resize, "bicubic")
    assert records[("resnet34", "timm")].preprocessing.mean == (0.5, 0.5, 0.5)
    cifar = {20: (8.27, 8.75), 32: (7.37, 7.51), 44: (6.90, 7.17), 56: (6.61, 6.97), 110: (6.32, 6.43)}
    cifar[1202] = (6.18, 7.93)
    for depth, (error, paper) in cifar.items():
        r = records[(f"resnet{depth}", "cifar10")]
        assert r.top_file.file_name.startswith(f"resnet{depth}-") and r.top_file.file_name.endswith(".th")
        assert r.top_file.file_hash.startswith(r.top_file.file_name[len(f"resnet{depth}-") : -3])
        assert len(r.top_file.file_hash) == (8 if depth in (110, 1202) else 64)
        assert (round(100 - r.top1, 2), r.paper_top1_error, r.num_classes) == (error, paper, 10)
        assert r.architecture == weights_lib.Architecture(shortcut="A", bn_epsilon=1e-5, zero_padding="both")
        assert r.preprocessing.input_size == (32, 32, 3) and r.preprocessing.resize_side == 32
        assert "50k" in r.note and r.url().startswith("https://github.com/akamaster/pytorch_resnet_cifar10/")
    urls = {}
    for r in weights_lib.RELEASES:  # one cached name, one published file
        for file in filter(None, (r.top_file, r.notop_file)):
            assert urls.setdefault(file.file_name, r.url(file is r.top_file)) == r.url(file is r.top_file)
    for r in weights_lib.RELEASES:
        assert r.model in weights_lib.available_weights() and r.tag in weights_lib.available_weights()[r.model]
        assert f"top-1 {r.top1:g}%" in weights_lib.available_weights()[r.model][r.tag].split(";")[0]


@pytest.mark.parametrize(
    "file_hash, fragment", [("xyz12345", "hex digits"), ("abc", "hex digits"), ("a" * 40, "40 hex digits")]
)
def test_bad_hashes_and_file_names_are_refused(file_hash, fragment):
    with pytest.raises(ValueError, match=fragment):
        weights_lib.ReleaseFile("resnet.pth", file_hash)
    with pytest.raises(ValueError, match="bare file name"):
        weights_lib.ReleaseFile("timm/model.safetensors", None)
