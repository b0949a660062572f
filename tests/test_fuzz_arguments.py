"""Argument fuzz test over the public constructors and data functions (issue 14, item 9).

For each function, a table of bad values: each call must raise our own ValueError or TypeError
whose message names the argument, before anything big is built or read: bools must be bools
('no' and 1 are not), ints ints (True and 1.7 are not), numbers finite and in range.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_resnet_paper as krp
from keras_resnet_paper import data, evaluation, models
from keras_resnet_paper.data.sources import FolderSource, TFRecordSource
from keras_resnet_paper.data.training_data import training_data
from keras_resnet_paper.evaluation.topk import TopKError, topk_error
from keras_resnet_paper.weights import load_weights

NOT_BOOL = ["no", 1, 0.0, None]
NOT_BOOL_OR_NONE = ["no", 1, "True"]
NOT_POSITIVE_INT = [True, 1.7, 2.0, "3", 0, -3, None]
NOT_OPTIONAL_POSITIVE_INT = [True, 1.7, "3", 0, -3]
NOT_SEED = [True, 1.5, "0", -1, 2**70]


def _tiny_arrays(n=4):
    x = np.zeros((n, 8, 8, 3), np.uint8)
    y = np.arange(n) % 2
    return x, y, x[:2], y[:2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
    from image_files import encode, photo, write

    root = str(tmp_path_factory.mktemp("fuzz"))
    for c in range(2):
        write(os.path.join(root, f"class_{c}", "0.jpg"), encode(photo(c, 40, 40), "jpeg"))
    return root


def _cases(folder):
    """[(id, call, argument name)] of bad calls."""
    cases = []

    def add(name, fn, argument, values, **fixed):
        for value in values:
            cases.append(
                (f"{name}-{argument}={value!r:.20}", functools.partial(fn, **fixed, **{argument: value}), argument)
            )

    # models: named constructors, builders, the registry
    for argument in ("include_top", "zero_init_residual"):
        add("ResNet20", models.ResNet20, argument, NOT_BOOL)
    add("ResNet20", models.ResNet20, "nested", NOT_BOOL_OR_NONE)
    add("Plain18", models.Plain18, "stride_in_1x1", NOT_BOOL_OR_NONE)
    add("ResNet50", models.ResNet50, "stride_in_1x1", NOT_BOOL_OR_NONE)
    add("imagenet_resnet", models.imagenet_resnet, "residual", NOT_BOOL, depth=18)
    add("cifar_resnet", models.cifar_resnet, "residual", NOT_BOOL, depth=20)
    add("imagenet_resnet", models.imagenet_resnet, "depth", [True, 18.0, "18", 0, 19])
    add("cifar_resnet", models.cifar_resnet, "depth", [True, 20.0, "20", 21, 2])
    add(
        "imagenet_resnet",
        models.imagenet_resnet,
        "blocks",
        [(1.7, 1, 1, 1), (True, 1, 1, 1), (0, 1, 1, 1), (1, 1, 1), "2222", 4],
        block="basic",
    )
    add("imagenet_resnet", models.imagenet_resnet, "block", ["plain", 1], blocks=(1, 1, 1, 1))
    add("ResNet20", models.ResNet20, "classes", NOT_POSITIVE_INT)
    add("ResNet20", models.ResNet20, "bn_momentum", [5, -1, 1.0, float("nan"), "0.9", True])
    add("ResNet20", models.ResNet20, "bn_epsilon", [-1, 0, float("inf"), "1e-5", True])
    add("ResNet18", models.ResNet18, "bn_epsilon", [-1, 0, "1e-5"])
    add("ResNet20", models.ResNet20, "input_shape", [(32.5, 32, 3), (32, 32), (0, 32, 3), (32, 32, True), "32"])
    add("ResNet20", models.ResNet20, "dtype", ["int32", "float", 3, tf.int32, np.int8])
    add("ResNet20", models.ResNet20, "shortcut", ["D", 1])
    add("ResNet20", models.ResNet20, "pooling", ["mean"], include_top=False)
    add("ResNet20", models.ResNet20, "name", [3, ("a",)])
    add("get_model", models.get_model, "name", [None, 3, "resnet21", ""])

    # data: CIFAR side
    add("cifar_datasets", data.cifar_datasets, "batch_size", NOT_POSITIVE_INT, source=_tiny_arrays())
    add("cifar_datasets", data.cifar_datasets, "holdout", NOT_BOOL, source=_tiny_arrays())
    add("cifar_datasets", data.cifar_datasets, "deterministic", NOT_BOOL, source=_tiny_arrays())
    add("cifar_datasets", data.cifar_datasets, "augment", ["yes", None, "host"], source=_tiny_arrays())
    add("cifar_datasets", data.cifar_datasets, "augment_on", ["gpu", None], source=_tiny_arrays())
    add("cifar_datasets", data.cifar_datasets, "seed", NOT_SEED, source=_tiny_arrays())
    add("cifar_datasets", data.cifar_datasets, "eval_batch_size", NOT_OPTIONAL_POSITIVE_INT, source=_tiny_arrays())
    x, y, xt, yt = _tiny_arrays()
    nan_images = x.astype(np.float32)
    nan_images[0, 0, 0, 0] = np.nan
    add("cifar_datasets", data.cifar_datasets, "source", [(nan_images, y, xt, yt)])  # names x_train
    add("load_cifar_arrays", data.load_cifar_arrays, "source", [(x, y - 1, xt, yt), (x, y + 0.5, xt, yt)])
    add("holdout_split", data.holdout_split, "num_examples", [True, 10.0, 1])
    add("holdout_split", data.holdout_split, "holdout_size", [True, 1.5, 0, 10], num_examples=10)
    add("load_cifar_binary", data.load_cifar_binary, "labels", ["medium"], path=folder)
    add("training_data", training_data, "batch_size", [True, 1.7, 0], dataset=_tiny_arrays())

    # data: ImageNet side (checked before the folder is read, or against it)
    add("imagenet_datasets", data.imagenet_datasets, "batch_size", NOT_POSITIVE_INT, source=folder)
    for argument in ("lighting", "deterministic", "skip_corrupt"):
        add("imagenet_datasets", data.imagenet_datasets, argument, NOT_BOOL, source=folder)
    add("imagenet_datasets", data.imagenet_datasets, "augment", ["random", None], source=folder)
    add("imagenet_datasets", data.imagenet_datasets, "image_size", [True, 224.0, 0, -1, 300], source=folder)
    add("imagenet_datasets", data.imagenet_datasets, "eval_side", [True, 256.5, 0, 100], source=folder)
    add(
        "imagenet_datasets",
        data.imagenet_datasets,
        "scale_range",
        [(480, 256), (256.0, 480), (0, 480), 256, (256,)],
        source=folder,
    )
    add("imagenet_datasets", data.imagenet_datasets, "shuffle_buffer", [0, -1, True, 1.5], source=folder)
    add("imagenet_datasets", data.imagenet_datasets, "eval_batch_size", NOT_OPTIONAL_POSITIVE_INT, source=folder)
    add("imagenet_datasets", data.imagenet_datasets, "seed", NOT_SEED, source=folder)
    add(
        "imagenet_datasets",
        data.imagenet_datasets,
        "mean",
        [[np.nan, 0, 0], [np.inf, 0, 0], "median", [1, 2]],
        source=folder,
    )
    add("imagenet_datasets", data.imagenet_datasets, "label_offset", [-1, 1.5, True], source=folder)
    add("imagenet_datasets", data.imagenet_datasets, "num_classes", [5, 0, True, 2.0], source=folder)
    add("mean_image", data.mean_image, "max_images", [0, True, 1.5], source=folder)
    add("mean_image", data.mean_image, "image_size", [0, True, 1.5], source=folder)
    add("FolderSource", FolderSource, "skip_corrupt", NOT_BOOL, root=folder)
    add("TFRecordSource", TFRecordSource, "label_offset", [1.5, True, "-1"], pattern="/nonexistent-*")
    add("TFRecordSource", TFRecordSource, "num_classes", [0, 1.5, True], pattern="/nonexistent-*")
    add("ten_crop", data.ten_crop, "crop_size", [0, True, 2.5], image=np.zeros((8, 8, 3), np.float32))
    add("ten_crop", data.ten_crop, "resize_side", [True, 2.5, 0], image=np.zeros((8, 8, 3), np.float32), crop_size=4)
    add(
        "multi_scale",
        data.multi_scale,
        "scales",
        [(), (224, 0), (True,), (2.5,), 224],
        image=np.zeros((8, 8, 3), np.float32),
    )
    add("resize_shorter_side", data.resize_shorter_side, "side", [0, True, 2.5], image=np.zeros((8, 8, 3), np.float32))

    # evaluation and weights (checked before the model is touched)
    images = tf.data.Dataset.from_tensor_slices((np.zeros((1, 8, 8, 3), np.float32), [0]))
    add("ten_crop_scores", evaluation.ten_crop_scores, "batch_size", [0, True, 1.5], model=None, dataset=images)
    add("ten_crop_scores", evaluation.ten_crop_scores, "from_logits", NOT_BOOL, model=None, dataset=images)
    add("multi_scale_scores", evaluation.multi_scale_scores, "scales", [(), (0,), (2.5,)], model=None, dataset=images)
    add("multi_scale_scores", evaluation.multi_scale_scores, "flip", NOT_BOOL, model=None, dataset=images)
    add("layer_responses", evaluation.layer_responses, "reduce", ["max"], model=None, images=[])
    add("layer_responses", evaluation.layer_responses, "max_batches", [0, True, 1.5], model=None, images=[])
    add("topk_error", topk_error, "k", [0, True, 1.5], scores=np.ones((2, 3)), labels=[0, 1])
    add("topk_error", topk_error, "labels", [[0, -1], [0.5, 1]], scores=np.ones((2, 3)))
    add("topk_error", topk_error, "scores", [[[np.nan, 0, 0], [0, 0, 0]]], labels=[0, 1])
    add("TopKError", TopKError, "k", [0, True, 1.5])
    add("load_weights", load_weights, "include_top", NOT_BOOL, model=None, weights=None)
    add("unfreeze", krp.unfreeze, "keep_bn_frozen", NOT_BOOL, model=None)
    return cases


def pytest_generate_tests(metafunc):
    if "case_id" in metafunc.fixturenames:
        ids = [case_id for case_id, _, _ in _cases("<folder>")]
        metafunc.parametrize("case_id", ids, ids=ids)


@pytest.fixture(scope="module")
def cases(folder):
    return {case_id: (call, argument) for case_id, call, argument in _cases(folder)}


def test_bad_argument_is_our_error_naming_it(cases, case_id):
    call, argument = cases[case_id]
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    name = argument.split("[")[0]
    names = {"source": ("x_train", "y_train", "labels"), "name": ("name", "model=")}.get(name, (name,))
    assert any(n in str(err.value) for n in names), f"{case_id}: {type(err.value).__name__}: {err.value}"
    assert "unexpected keyword" not in str(err.value) and "positional argument" not in str(err.value)


def test_good_arguments_still_pass(folder):
    """The checks refuse only what is wrong: numpy ints, None where allowed, mixed policies."""
    model = models.ResNet20(
        bn_momentum=np.float32(0.99),
        bn_epsilon=1e-3,
        nested=None,
        classes=np.int64(3),
        dtype="mixed_float16",
        input_shape=(32, 32, 3),
    )
    assert model.output_shape == (None, 3)
    assert models.ResNet20(dtype=np.float32, input_shape=(32, 32, 3)).dtype == "float32"
    d = data.cifar_datasets(_tiny_arrays(), np.int64(2), seed=np.int64(2**62), eval_batch_size=None)
    assert next(iter(d.train))[0].shape == (2, 8, 8, 3)
    img = data.imagenet_datasets(
        folder, 2, mean=[0, 0, 0], image_size=32, eval_side=40, scale_range=(40, 40), shuffle_buffer=1, seed=0
    )
    assert next(iter(img.train))[0].shape == (2, 32, 32, 3)
