"""Shared test fixtures: quiet TensorFlow, restore Keras global settings after each test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_keras_globals():
    """Tests may change the data format or dtype policy; put them back afterwards."""
    data_format = keras.config.image_data_format()
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_image_data_format(data_format)
    keras.config.set_dtype_policy(policy)
