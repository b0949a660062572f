"""`load_weights`: what `weights=` may name, and files no reader can read."""

from __future__ import annotations

import os

import pytest

import keras_resnet_paper.models as models
from keras_resnet_paper.weights import WeightsMismatchError, load_weights

SIZE = 64


def test_unknown_path_is_refused(tmp_path):
    model = models.imagenet_resnet(18, input_shape=(SIZE, SIZE, 3))
    with pytest.raises(ValueError, match="neither"):
        load_weights(model, str(tmp_path / "nope.h5"))
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(WeightsMismatchError):
        load_weights(model, str(junk))
    assert os.path.exists(junk)
