"""The layers are the paper's: BN after every conv, ReLU after the addition, stride placement,
shortcut numerics, stage shapes (Table 1, Sec. 3.3-3.4, Sec. 4.2)."""

import keras
import numpy as np
import pytest

import keras_resnet_paper as krp
from keras_resnet_paper.graph import option_a_placement


def inbound(layer):
    """The layers feeding `layer` (single call site)."""
    node = layer._inbound_nodes[0]
    return [t._keras_history.operation for t in node.input_tensors]


@pytest.fixture(scope="module")
def resnet50():
    return krp.ResNet50(input_shape=(64, 64, 3), include_top=False)


@pytest.fixture(scope="module")
def resnet18():
    return krp.ResNet18(input_shape=(64, 64, 3))


@pytest.mark.parametrize("fixture", ["resnet18", "resnet50"])
def test_bn_after_every_conv_and_no_biases(fixture, request):
    model = request.getfixturevalue(fixture)
    convs = [l for l in krp.iter_layers(model) if isinstance(l, keras.layers.Conv2D)]
    for conv in convs:
        assert not conv.use_bias, conv.name
        bn = model.get_layer(conv.name.replace("_conv", "_bn"))
        assert isinstance(bn, keras.layers.BatchNormalization)
        assert inbound(bn) == [conv]
        assert bn.momentum == 0.9 and bn.epsilon == 1e-5


def test_relu_follows_addition(resnet50):
    adds = [l for l in resnet50.layers if isinstance(l, keras.layers.Add)]
    assert len(adds) == 16
    for add in adds:
        out = resnet50.get_layer(add.name.replace("_add", "_out"))
        assert inbound(out) == [add] and out.activation is keras.activations.relu
        # the residual branch enters the addition after its last BN, not after a ReLU
        assert any(isinstance(l, keras.layers.BatchNormalization) for l in inbound(add))


def test_plain_nets_have_no_shortcuts():
    plain = krp.Plain34(input_shape=(32, 32, 3), include_top=False)
    assert not any(isinstance(l, keras.layers.Add) or option_a_placement(l) for l in plain.layers)
    resnet = krp.ResNet34(input_shape=(32, 32, 3), include_top=False)
    names = lambda m: {l.name for l in m.layers if "_add" not in l.name and "_0_" not in l.name}  # noqa: E731
    assert names(plain) == names(resnet)  # same layers, minus shortcuts


@pytest.mark.parametrize("stride_in_1x1", [True, False])
def test_stride_placement(stride_in_1x1):
    model = krp.ResNet50(input_shape=(64, 64, 3), include_top=False, stride_in_1x1=stride_in_1x1)
    first, middle = model.get_layer("conv3_block1_1_conv"), model.get_layer("conv3_block1_2_conv")
    assert first.strides == ((2, 2) if stride_in_1x1 else (1, 1))
    assert middle.strides == ((1, 1) if stride_in_1x1 else (2, 2))
    assert model.get_layer("conv3_block1_0_conv").strides == (2, 2)
    if not stride_in_1x1:
        assert model.get_layer("conv3_block1_2_pad").padding == ((1, 1), (1, 1))


def test_stage_shapes_of_table1():
    model = krp.ResNet50(include_top=False, input_shape=(224, 224, 3))
    shapes = {k: tuple(v.shape[1:]) for k, v in krp.stage_outputs(model).items()}
    assert shapes == {
        "conv2_x": (56, 56, 256),
        "conv3_x": (28, 28, 512),
        "conv4_x": (14, 14, 1024),
        "conv5_x": (7, 7, 2048),
    }
    assert tuple(model.get_layer("pool1_pool").output.shape[1:]) == (56, 56, 64)
    cifar = {k: tuple(v.shape[1:]) for k, v in krp.stage_outputs(krp.ResNet20()).items()}
    assert cifar == {"conv2_x": (32, 32, 16), "conv3_x": (16, 16, 32), "conv4_x": (8, 8, 64)}


def test_zero_padding_shortcut_numerics():
    x = np.random.default_rng(1).normal(size=(2, 6, 7, 3)).astype("float32")
    y = np.asarray(krp.ZeroPaddingShortcut(8, 2)(x))
    assert y.shape == (2, 3, 4, 8)
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 3:], 0.0)
    layer = krp.ZeroPaddingShortcut(8, 2, data_format="channels_first")
    y_cf = np.asarray(layer(np.transpose(x, (0, 3, 1, 2))))
    np.testing.assert_array_equal(y_cf, np.transpose(y, (0, 3, 1, 2)))
    assert layer.compute_output_shape((None, 3, 7, 7)) == (None, 8, 4, 4)
    clone = krp.ZeroPaddingShortcut.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    both = krp.ZeroPaddingShortcut(8, 2, placement="both")  # akamaster's CIFAR nets: 2 zeros, x, 3 zeros
    y_both = np.asarray(both(x))
    np.testing.assert_array_equal(y_both[..., 2:5], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y_both[..., :2], 0.0)
    np.testing.assert_array_equal(y_both[..., 5:], 0.0)
    assert krp.ZeroPaddingShortcut.from_config(both.get_config()).placement == "both"
    with pytest.raises(ValueError, match="placement='middle'"):
        krp.ZeroPaddingShortcut(8, placement="middle")
    with pytest.raises(ValueError, match="zero_padding='middle'"):
        krp.cifar_resnet(8, zero_padding="middle")


def test_residual_block_adds_its_input():
    """With the residual branch's last BN gamma at zero, each block outputs relu(shortcut(x))."""
    model = krp.ResNet20(zero_init_residual=True, include_top=False)
    bn = model.get_layer("conv2_block2_2_bn")
    np.testing.assert_array_equal(bn.gamma.numpy(), 0.0)
    probe = keras.Model(
        model.input, [model.get_layer("conv2_block1_out").output, model.get_layer("conv2_block2_out").output]
    )
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    block_in, block_out = probe(x, training=False)
    beta = model.get_layer("conv2_block2_2_bn").beta.numpy()
    np.testing.assert_allclose(block_out, np.maximum(np.asarray(block_in) + beta, 0), atol=1e-6)
    assert not krp.ResNet20().get_layer("conv2_block2_2_bn").gamma.numpy().any() == 0


def test_deep_nets_nest_stages_and_blocks():
    model = krp.cifar_resnet(8, nested=True)
    assert [l.name for l in model.layers if isinstance(l, keras.Model)] == ["conv2_x", "conv3_x", "conv4_x"]
    assert krp.find_layer(model, "conv3_block1_0_subsample").strides == (2, 2)
    assert option_a_placement(krp.find_layer(model, "conv3_block1_0_shortcut")) == "after"
    flat = krp.cifar_resnet(8)
    assert [l.name for l in krp.iter_layers(model)] == [l.name for l in krp.iter_layers(flat)]
    flat.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(model(x), flat(x), rtol=1e-5, atol=1e-6)
    assert set(krp.stage_outputs(model)) == {"conv2_x", "conv3_x", "conv4_x"}
