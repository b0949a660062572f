"""Fixtures of the weight tests: weight files generated once per session in the real layouts."""

from __future__ import annotations

import pytest
from weights_files import keras_applications_reference

SIZE = 64


@pytest.fixture(scope="session")
def r50_notop_file(tmp_path_factory):
    """A randomised keras.applications ResNet-50 without its top, in the keras.applications layout."""
    path = str(tmp_path_factory.mktemp("w") / "r50_notop.h5")
    keras_applications_reference(50, False, path, size=SIZE)
    return path
