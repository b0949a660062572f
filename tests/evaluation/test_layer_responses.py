"""Fig. 7 layer responses: which layers, exact values, flat == nested."""

import keras
import numpy as np
import pytest

import keras_resnet_paper as krp
from keras_resnet_paper.evaluation.layer_responses import layer_responses, plot_layer_responses, response_layers
from keras_resnet_paper.graph import find_layer, iter_layers


def test_response_layers_are_the_3x3_convs():
    names = response_layers(krp.ResNet20())
    assert len(names) == 1 + 2 * 9  # conv1 + two 3x3 per basic block
    assert names[0] == "conv1_bn" and names[1] == "conv2_block1_1_bn" and names[-1] == "conv4_block3_2_bn"
    r50 = response_layers(krp.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3)))
    assert len(r50) == 16 and all(n.endswith("_2_bn") for n in r50)  # the 3x3 of each bottleneck


def test_values_match_direct_computation():
    model = krp.Plain20()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 32, 32, 3)).astype("float32")
    got = layer_responses(model, [x[:3], (x[3:], np.zeros(3))], reduce="channel_mean")
    probe = keras.Model(model.input, [find_layer(model, n).output for n in got])
    for name, out in zip(got, probe.predict(x, verbose=0)):
        want = out.reshape(-1, out.shape[-1]).std(0).mean()
        np.testing.assert_allclose(got[name], want, rtol=1e-4)
    all_ = layer_responses(model, [x], reduce="all")
    np.testing.assert_allclose(all_["conv1_bn"], probe.predict(x, verbose=0)[0].std(), rtol=1e-4)


def test_nested_equals_flat(tmp_path):
    flat, nested = krp.ResNet20(), krp.ResNet20(nested=True)
    by_name = {l.name: l for l in iter_layers(flat)}
    for layer in iter_layers(nested):
        layer.set_weights(by_name[layer.name].get_weights())
    x = np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype("float32")
    a, b = layer_responses(flat, [x]), layer_responses(nested, [x])
    assert list(a) == list(b)
    np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=1e-4)
    png = plot_layer_responses({"flat": a, "nested": list(b.values())}, str(tmp_path / "fig7.png"))
    assert (tmp_path / "fig7.png").stat().st_size > 1000 and png.endswith(".png")


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduce='median'"):
        layer_responses(krp.ResNet20(), [], reduce="median")
    with pytest.raises(ValueError, match="no batch"):
        layer_responses(krp.ResNet20(), [])
