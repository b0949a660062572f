"""Issue 14: weights files with NaN/inf values are refused by every reader, the tensor named.

The files are written in their real formats from a small randomised ResNet-18 (64x64 input)
with a few values replaced by NaN or infinity: a Keras 3 `.weights.h5`, a keras.applications
(Keras 2) HDF5 file, a torchvision-layout `.safetensors` and `.npz`.
"""

from __future__ import annotations

import numpy as np
import pytest
from weights_files import (
    assert_untouched,
    model_to_keras_applications_layout,
    randomize,
    snapshot,
    write_keras_applications_h5,
)

import keras_resnet_paper.models as models
from keras_resnet_paper.weights import WeightsFileError, load_weights
from keras_resnet_paper.weights.architecture import leaf_layers
from keras_resnet_paper.weights.safetensors_io import write_safetensors
from keras_resnet_paper.weights.torch_checkpoint import to_torchvision_state_dict

SIZE = 64


def _build(**kw):
    return models.ResNet18(input_shape=(SIZE, SIZE, 3), classes=5, classifier_activation=None, **kw)


@pytest.fixture(scope="module")
def poisoned():
    """A randomised model whose conv2_block1_1_conv kernel has 3 NaNs and conv3_block1_2_bn's
    moving variance 2 infinities."""
    model = randomize(_build())
    layers = {layer.name: layer for layer in leaf_layers(model)}
    kernel = np.array(layers["conv2_block1_1_conv"].kernel.numpy())
    kernel.flat[[0, 7, 11]] = np.nan
    layers["conv2_block1_1_conv"].kernel.assign(kernel)
    variance = np.array(layers["conv3_block1_2_bn"].moving_variance.numpy())
    variance[[1, 2]] = np.inf
    layers["conv3_block1_2_bn"].moving_variance.assign(variance)
    return model


def _keras3(model, path):
    model.save_weights(path)


def _keras_applications(model, path):
    write_keras_applications_h5(path, model_to_keras_applications_layout(model))


def _safetensors(model, path):
    write_safetensors(path, to_torchvision_state_dict(model))


def _npz(model, path):
    np.savez(path, **to_torchvision_state_dict(model))


WRITERS = {
    "ours.weights.h5": (_keras3, ["conv2_block1_1_conv/kernel (3 of", "conv3_block1_2_bn/moving_variance (2 of"]),
    "keras2.h5": (_keras_applications, ["conv2_block1_1_conv/kernel (3 of", "conv3_block1_2_bn/moving_variance (2 of"]),
    "torch.safetensors": (
        _safetensors,
        ["conv2_block1_1_conv/kernel (3 of", "conv3_block1_2_bn/moving_variance (2 of"],
    ),
    "torch.npz": (_npz, ["conv2_block1_1_conv/kernel (3 of", "conv3_block1_2_bn/moving_variance (2 of"]),
}


@pytest.mark.parametrize("file_name", sorted(WRITERS))
def test_non_finite_weights_are_refused_with_the_tensors_named(tmp_path, poisoned, file_name):
    write, named = WRITERS[file_name]
    path = str(tmp_path / file_name)
    write(poisoned, path)
    target = _build()
    before = snapshot(target)
    with pytest.raises(WeightsFileError) as err:
        load_weights(target, path)
    message = str(err.value)
    assert "non-finite values (NaN or inf)" in message and path in message and "Nothing was loaded" in message
    for tensor in named:
        assert tensor in message
    assert_untouched(target, before)
    with pytest.raises(WeightsFileError, match="conv2_block1_1_conv/kernel"):  # through the builder too
        _build(weights=path)


def test_finite_weights_still_load(tmp_path):
    source = randomize(_build(), seed=1)
    path = str(tmp_path / "fine.safetensors")
    _safetensors(source, path)
    loaded = load_weights(_build(), path)
    for a, b in zip(snapshot(loaded), snapshot(source)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
