"""The model family as data (models/variants.py): one record per network, one name per network,
constructors generated from the registry; the nets beyond the paper are one record each and exact."""

from __future__ import annotations

import dataclasses
import inspect
import pathlib

import pytest

import keras_resnet_paper as krp
from keras_resnet_paper.models import variants

#: Trainable parameters as their sources count them (timm's resnet200, torchvision's wide ResNets).
REFERENCE_PARAMS = {"resnet200": 64_673_832, "wide_resnet50_2": 68_883_240, "wide_resnet101_2": 126_886_696}


@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_nets_beyond_the_paper_are_exact(name):
    model = krp.get_model(name, input_shape=(32, 32, 3))
    assert krp.count_params(model) == REFERENCE_PARAMS[name] and model.name == name
    variant = krp.find_variant(name)
    layers = {layer.name: layer for layer in krp.iter_layers(model)}
    inner = 128 * variant.bottleneck_width_factor  # conv3_x: w = 128, a bottleneck outputs 4w = 512
    assert layers["conv3_block1_2_conv"].filters == inner and layers["conv3_block1_3_conv"].filters == 512
    assert sum(1 for n in layers if n.endswith("_3_conv")) == sum(variant.blocks)


def test_every_record_has_its_constructor_and_the_family_signature():
    for variant in variants.VARIANTS.values():
        constructor = krp.MODELS[variant.name]
        assert constructor is getattr(krp, variant.constructor) and constructor.__name__ == variant.constructor
        parameters = list(inspect.signature(constructor).parameters)
        assert parameters[:8] == [
            "include_top",
            "weights",
            "input_tensor",
            "input_shape",
            "pooling",
            "classes",
            "classifier_activation",
            "name",
        ]
        assert inspect.signature(constructor).parameters["classes"].default == variant.classes
        assert variant.summary and variant.summary.split(" ")[0] in constructor.__doc__
    depths = {v.name: v.depth for v in variants.VARIANTS.values()}
    assert depths["resnet200"] == 200 and depths["wide_resnet101_2"] == 101 and depths["resnet1202"] == 1202


@pytest.mark.parametrize(
    "spelling, name, family",
    [
        ("ResNet-200", "resnet200", "imagenet"),  # today's ImageNet net (was a CIFAR 6n+2 before it was registered)
        ("cifar_resnet200", "cifar_resnet200", "cifar"),
        ("resnet8", "resnet8", "cifar"),  # short CIFAR spellings keep working where unambiguous
        ("cifar-plain-14", "cifar_plain14", "cifar"),
        ("cifar_resnet20", "resnet20", "cifar"),  # the registered CIFAR net itself
        ("Wide_ResNet50_2", "wide_resnet50_2", "imagenet"),
        ("resnet50", "resnet50", "imagenet"),
    ],
)
def test_one_name_one_network(spelling, name, family):
    variant = krp.find_variant(spelling)
    assert (variant.name, variant.family) == (name, family)
    assert krp.resolve_model_name(spelling) == name


@pytest.mark.parametrize(
    "spelling, fragment",
    [
        ("plain200", "ambiguous: resnet200 is an ImageNet net; spell the CIFAR net of depth 200 cifar_plain200"),
        ("resnet152x", "not a model of the family"),
        ("cifar_resnet21", "not a model of the family"),
        ("resnet5", "not a model of the family"),
    ],
)
def test_names_that_mean_nothing_or_two_things_are_refused(spelling, fragment):
    with pytest.raises(ValueError, match=fragment):
        krp.find_variant(spelling)


def test_a_registration_never_changes_what_a_name_means():
    resnet20 = krp.find_variant("resnet20")
    with pytest.raises(ValueError, match="already means ResNet-20 for CIFAR-10"):
        krp.register_variant(dataclasses.replace(resnet20, blocks=(4, 4, 4)))
    with pytest.raises(ValueError, match="'resnet26' already means ResNet-26 for CIFAR-10"):  # a CIFAR spelling
        krp.register_variant(dataclasses.replace(resnet20, name="resnet26", constructor="ResNet26"))
    assert krp.register_variant(resnet20) is resnet20  # the same record again: nothing changes
    with pytest.raises(ValueError, match="takes a Variant"):
        krp.register_variant({"name": "resnet26"})


def test_a_new_record_is_a_new_network(monkeypatch):
    monkeypatch.setattr(variants, "VARIANTS", dict(variants.VARIANTS))  # the registry as it was, after the test
    tiny = variants.Variant("tiny_resnet10", "TinyResNet10", "imagenet", "basic", (1, 1, 1, 1), (64, 128, 256, 512))
    krp.register_variant(tiny)
    assert krp.find_variant("tiny-resnet10") is tiny and tiny.depth == 10
    model = krp.get_model("tiny_resnet10", input_shape=(32, 32, 3), classes=3)
    assert krp.count_params(model) == krp.count_params(
        krp.imagenet_resnet(blocks=(1, 1, 1, 1), block="basic", input_shape=(32, 32, 3), classes=3)
    )


def test_bad_records_are_refused():
    with pytest.raises(ValueError, match="family='vit'"):
        variants.Variant("x", "X", "vit", "basic", (1,), (64,))
    with pytest.raises(ValueError, match="blocks="):
        variants.Variant("x", "X", "imagenet", "basic", (1, 1), (64,))


def test_readme_table_of_nets_beyond_the_paper_is_the_registry():
    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Beyond the paper", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| `")]
    by_constructor = {v.constructor: v for v in variants.VARIANTS.values()}
    assert {row[0].strip("`") for row in rows} == {
        by_constructor[n].constructor for n in ("ResNet200", "WideResNet50_2", "WideResNet101_2")
    }
    for model, block, blocks, inside, params, _ in rows:
        variant = by_constructor[model.strip("`")]
        assert (block, blocks) == (variant.block, ",".join(map(str, variant.blocks)))
        assert inside == ("w" if variant.bottleneck_width_factor == 1 else f"{variant.bottleneck_width_factor}w")
        assert int(params.replace(",", "")) == REFERENCE_PARAMS[variant.name]
