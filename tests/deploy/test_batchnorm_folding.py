"""BatchNorm folded into the convolutions (deploy/batchnorm_folding.py): the same function to 1e-5,
no BatchNormalization left, layer names kept, nested nets folded inside, the original untouched."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_resnet_paper as krp
from keras_resnet_paper.deploy import fold_batchnorm, folded_pairs
from keras_resnet_paper.graph import iter_layers
from tests.weights.weights_files import randomize

NETS = {
    "resnet20_A": lambda: krp.ResNet20(classifier_activation=None),
    "resnet14_nested_B": lambda: krp.cifar_resnet(14, shortcut="B", nested=True, classifier_activation=None),
    "resnet18": lambda: krp.ResNet18(input_shape=(64, 64, 3), classifier_activation=None),
    "resnet50": lambda: krp.ResNet50(input_shape=(64, 64, 3), classifier_activation=None),
    "resnet50_pooled": lambda: krp.ResNet50(include_top=False, pooling="avg", input_shape=(64, 64, 3)),
    "plain18": lambda: krp.Plain18(input_shape=(64, 64, 3), classifier_activation=None),
}


def _bn_layers(model) -> list:
    return [layer for layer in iter_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.mark.parametrize("name", NETS)
def test_folding_is_exact_and_leaves_no_batchnorm(name):
    model = randomize(NETS[name](), seed=1)  # non-trivial BN statistics, gamma and beta
    before = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(0).uniform(-2, 2, (2, *model.input_shape[1:])).astype("float32")
    folded = fold_batchnorm(model)
    want, got = np.asarray(model(x, training=False)), np.asarray(folded(x, training=False))
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want)), name
    assert not _bn_layers(folded) and len(folded_pairs(model)) == len(_bn_layers(model))
    assert [layer.name for layer in iter_layers(folded)] == [layer.name for layer in iter_layers(model)]
    conv = krp.find_layer(folded, "conv2_block1_1_conv")
    assert conv.use_bias and not krp.find_layer(model, "conv2_block1_1_conv").use_bias
    for a, b in zip(model.get_weights(), before):  # the original keeps its weights and its BN layers
        np.testing.assert_array_equal(a, b)
    assert folded.count_params() < model.count_params()


def test_a_batchnorm_whose_convolution_feeds_more_is_kept():
    inputs = keras.Input((8, 8, 3))
    z = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv")(inputs)
    y = keras.layers.BatchNormalization(name="bn")(z)
    model = randomize(keras.Model(inputs, keras.layers.Add()([y, z])))
    folded = fold_batchnorm(model)
    assert [layer.name for layer in _bn_layers(folded)] == ["bn"] and not folded_pairs(model)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(folded(x, training=False)), np.asarray(model(x, training=False)), rtol=1e-6, atol=1e-6
    )


def test_not_a_model_is_a_value_error():
    with pytest.raises(ValueError, match="must be a built keras.Model"):
        fold_batchnorm("resnet50")
