"""`load_weights` and `weights=`: what may be named, and files that cannot be read, which are
refused with an error naming the file and what is wrong, before anything is built or matched."""

from __future__ import annotations

import os
import zipfile

import h5py
import numpy as np
import pytest

import keras_resnet_paper as krp
import keras_resnet_paper.models as models
from keras_resnet_paper.weights import WeightsFileError, load_weights

SIZE = 64
NOISE = np.random.default_rng(0).bytes(4096)


def _object_npz(path):
    np.savez(path, a=np.array([{"x": 1}], dtype=object))


def _truncated_h5(path):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(4096))
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[:1000])


def _pickle_zip(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")


def _evil_zip(path):
    with zipfile.ZipFile(path, "w") as z:  # torch's layout, a pickle that would run a shell command
        z.writestr("archive/data.pkl", b"\x80\x02cposix\nsystem\nX\x05\x00\x00\x00touch\x85R.")


UNREADABLE = {
    "empty.safetensors": (lambda p: open(p, "wb").close(), "the file is empty"),
    "noise.safetensors": (lambda p: open(p, "wb").write(NOISE), "as safetensors: .*header length"),
    "empty.npz": (lambda p: open(p, "wb").close(), "the file is empty"),
    "noise.npz": (lambda p: open(p, "wb").write(NOISE), "as .npz: it is not a zip archive"),
    "objects.npz": (_object_npz, "Python objects, which are never unpickled"),
    "noise.h5": (lambda p: open(p, "wb").write(NOISE), "not an HDF5 file"),
    "truncated.h5": (_truncated_h5, "as HDF5 \\(truncated or corrupt"),
    "model.pth": (_pickle_zip, "as a PyTorch checkpoint: it holds no tensors"),
    "evil.pth": (_evil_zip, "as a PyTorch checkpoint: it names the global posix.system"),
    "other.pkl": (lambda p: open(p, "wb").write(b"\x80\x04N."), "not a file torch.save wrote"),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_file_is_named_with_what_is_wrong(tmp_path, name):
    make, reason = UNREADABLE[name]
    path = str(tmp_path / name)
    make(path)
    with pytest.raises(WeightsFileError, match=reason) as err:
        models.ResNet50(weights=path, include_top=False, input_shape=(SIZE, SIZE, 3))
    message = str(err.value)
    assert repr(path) in message
    for misleading in ("stride_in_1x1", "mismatching layer", "allow_pickle"):
        assert misleading not in message


def test_unknown_path_is_refused(tmp_path):
    model = models.imagenet_resnet(18, input_shape=(SIZE, SIZE, 3))
    with pytest.raises(ValueError, match="neither"):
        load_weights(model, str(tmp_path / "nope.h5"))
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(WeightsFileError, match="not an HDF5 file"):
        load_weights(model, str(junk))
    assert os.path.exists(junk)


def test_loading_api_is_exported():
    assert krp.load_weights is krp.weights.load_weights
    for name in (
        "load_torchvision_weights",
        "save_torchvision_checkpoint",
        "Preprocessing",
        "registered",
        "decode_predictions",
        "preprocess_input",
        "WeightsFileError",
        "WeightsMismatchError",
    ):
        assert hasattr(krp.weights, name), name
