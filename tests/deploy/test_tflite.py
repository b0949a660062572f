"""TFLite files of a trained run (deploy/tflite.py): uint8 images in, the run's per-pixel mean
inside, the float file equal to the Keras model, the int8 file within 2 points of its test error
and a third of its size."""

from __future__ import annotations

import numpy as np
import pytest

from keras_resnet_paper.data import load_digits_32
from keras_resnet_paper.data.cifar import pixel_mean
from keras_resnet_paper.deploy import QUANTIZATIONS, tflite_scores, to_tflite


@pytest.fixture(scope="module")
def digits():
    x_train, _, x_test, y_test = load_digits_32()
    return x_train, x_test, y_test


@pytest.mark.slow
def test_float_and_int8_files_of_a_trained_run(offline_run, digits, tmp_path):
    result, _ = offline_run
    x_train, x_test, y_test = digits
    mean = pixel_mean(x_train)  # the run's own mean image (Sec. 4.2), inside the file
    want = result.model.predict(x_test.astype("float32") - mean, verbose=0)
    plain = to_tflite(result.model, str(tmp_path / "r8.tflite"), mean=mean)
    np.testing.assert_allclose(tflite_scores(plain, x_test), want, atol=1e-4)
    int8 = to_tflite(
        result.model, str(tmp_path / "r8_int8.tflite"), mean=mean, quantize="int8", representative=x_train[:100]
    )
    errors = {
        name: float(np.mean(tflite_scores(path, x_test).argmax(1) != y_test))
        for name, path in (("float", plain), ("int8", int8))
    }
    assert abs(errors["int8"] - errors["float"]) <= 0.02, errors
    assert (tmp_path / "r8_int8.tflite").stat().st_size < (tmp_path / "r8.tflite").stat().st_size / 3


def test_bad_requests_are_value_errors(offline_run, tmp_path):
    result, _ = offline_run
    assert QUANTIZATIONS == ("none", "float16", "dynamic", "int8")
    with pytest.raises(ValueError, match="quantize='int4'"):
        to_tflite(result.model, str(tmp_path / "x.tflite"), quantize="int4")
    with pytest.raises(ValueError, match="needs representative images"):
        to_tflite(result.model, str(tmp_path / "x.tflite"), quantize="int8")
