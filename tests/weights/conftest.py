"""Fixtures of the weight tests: no test reaches the network or ~/.keras, and weight files are
generated once per session in the real layouts."""

from __future__ import annotations

import os
import shutil
import socket

import pytest
from weights_files import PHOTOS, keras_applications_reference

SIZE = 64


def closed_port_url() -> str:
    """http://127.0.0.1:<a port nobody listens on>/ (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def _offline_weights_cache(tmp_path, monkeypatch):
    """A fresh KERAS_HOME per test and a mirror URL on a closed local port: never ~/.keras, never
    the network."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("KERAS_RESNET_PAPER_WEIGHTS_URL", closed_port_url())


@pytest.fixture(scope="session")
def r50_notop(tmp_path_factory):
    """(path, reference): a randomised keras.applications ResNet-50 without its top (logits,
    average pooling) and its file in the keras.applications layout."""
    path = str(tmp_path_factory.mktemp("w") / "r50_notop.h5")
    return path, keras_applications_reference(50, False, path, size=SIZE)


@pytest.fixture(scope="session")
def r50_notop_file(r50_notop):
    return r50_notop[0]


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory):
    """train/ and val/ folders of class subfolders holding scikit-learn's sample JPEGs."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    images = os.path.join(os.path.dirname(sklearn_datasets.__file__), "images")
    root = tmp_path_factory.mktemp("photos")
    for split in ("train", "val"):
        for name in PHOTOS:
            os.makedirs(root / split / name)
            shutil.copy(os.path.join(images, f"{name}.jpg"), root / split / name)
    return root


@pytest.fixture(scope="session")
def r50_top224(tmp_path_factory):
    """(path, reference): a randomised keras.applications ResNet-50 with its top at 224 px (logits)
    and its file in the keras.applications layout."""
    path = str(tmp_path_factory.mktemp("w") / "resnet50_top.h5")
    return path, keras_applications_reference(50, True, path, size=224)
