"""The data part of a recipe reaches the pipelines through `training_data`, in one vocabulary
(`data.augmentations`): what is done to each image, where CIFAR's runs, the ImageNet crop size and
scale range; an option a set does not have is refused, never ignored."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from keras_resnet_paper.data.training_data import training_data
from keras_resnet_paper.training.recipes import get_recipe
from tests.data.image_files import photo


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("classes")
    for label in range(2):
        (root / f"c{label}").mkdir()
        for i in range(2):
            Image.fromarray(photo(10 * label + i, 70, 90)).save(root / f"c{label}" / f"{i}.png")
    return str(root)


def test_a_cifar_recipe_says_where_its_augmentation_runs_and_whether():
    recipe = get_recipe("cifar10_offline")
    assert recipe.data_options()["augment"] == "paper" and recipe.data_options()["augment_on"] == "host"
    # deterministic: the order of a parallel map is otherwise whatever finishes first (a CI run under load)
    make = lambda recipe: training_data("digits", 8, seed=0, deterministic=True, **recipe.data_options())  # noqa: E731
    on_device = make(recipe.replace(augment_on="device"))
    assert type(on_device.augmentation).__name__ == "PadCropFlip"
    plain = make(recipe.replace(augment="none", augment_on="device"))
    assert plain.augmentation is None
    host = make(recipe)
    first = [np.asarray(next(iter(d.train))[0]) for d in (plain, on_device, host)]
    # the same shuffle: the stream of "device" is the unaugmented one, "host" pads, crops and flips it
    np.testing.assert_array_equal(first[0], first[1])
    assert host.augmentation is None and not np.array_equal(first[0], first[2])


def test_an_imagenet_style_recipe_sets_the_crop_size_and_scale_range(folder):
    recipe = get_recipe("imagenet_paper").replace(image_size=48, scale_range="56,64", dataset=folder)
    assert recipe.scale_range == (56, 64)
    data = training_data(folder, 2, seed=0, **recipe.data_options())
    images, labels = next(iter(data.train))
    assert images.shape == (2, 48, 48, 3) and set(np.asarray(labels)) <= {0, 1}


@pytest.mark.parametrize(
    "dataset, option, match",
    [
        ("digits", dict(image_size=64), "image_size=64 applies to ImageNet-style sets"),
        ("digits", dict(scale_range=(128, 160)), r"scale_range=\(128, 160\) applies to ImageNet-style sets"),
        ("digits", dict(augment="inception"), "augment='inception' applies to ImageNet-style sets"),
        ("digits", dict(skip_corrupt=True), "skip_corrupt=True applies to image files"),
        ("FOLDER", dict(holdout=True), "holdout=True applies to CIFAR-style sets"),
        ("FOLDER", dict(augment_on="device"), "augment_on='device' applies to CIFAR-style sets"),
        ("digits", dict(augment="host"), "augment='host'"),
    ],
)
def test_an_option_a_set_has_not_is_refused(folder, dataset, option, match):
    with pytest.raises(ValueError, match=match):
        training_data(folder if dataset == "FOLDER" else dataset, 2, **option)


def test_a_recipe_refuses_a_bad_data_part_before_anything_runs():
    recipe = get_recipe("imagenet_paper")
    for bad, match in (
        (dict(augment="alexnet"), "augment='alexnet' not in paper/inception/none"),
        (dict(augment_on="gpu"), "augment_on='gpu' not in host/device"),
        (dict(scale_range="480,256"), "scale_range=\\(480, 256\\)"),
        (dict(image_size="8"), "image_size=8"),
    ):
        with pytest.raises(ValueError, match=match):
            recipe.replace(**bad)
