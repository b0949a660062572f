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
    assert weights_lib.available_weights("ResNet-50") == {"resnet50": ("imagenet",)}
    with pytest.raises(ValueError, match="No weights 'imagenet' for model 'resnet34'"):
        weights_lib.get_release("resnet34")


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
    assert resolved == {**given, "shortcut": "b"}


def test_other_nets_and_heads_are_refused():
    with pytest.raises(ValueError, match="exists for ResNet-50/101/152 only, not for ResNet-34"):
        models.ResNet34(weights="imagenet")
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
