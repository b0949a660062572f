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


def test_the_served_model_adds_a_softmax_to_a_logits_head_only(digits):
    import keras_resnet_paper as krp
    from keras_resnet_paper.deploy import serving_model
    from keras_resnet_paper.weights.conventions import input_convention

    x_train, x_test, _ = digits
    mean = pixel_mean(x_train)
    logits = krp.cifar_resnet(8, classifier_activation=None)
    backbone = krp.cifar_resnet(8, include_top=False, pooling="avg", input_shape=(32, 32, 3))
    normalised = x_test[:2].astype("float32") - mean
    for model, expected in ((logits, None), (backbone, backbone.predict(normalised, verbose=0))):
        served = serving_model(model, input_convention(mean))
        got = served.predict(x_test[:2], verbose=0)
        if expected is None:  # probabilities of the logits
            want = model.predict(normalised, verbose=0).astype("float64")
            want = np.exp(want - want.max(axis=1, keepdims=True))
            np.testing.assert_allclose(got, want / want.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
        else:  # features stay features
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
