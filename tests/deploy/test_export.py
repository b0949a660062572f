"""Exports measured (deploy/exportable.py, deploy/measure.py, deploy/onnx.py): a run folder's net
rebuilt with its weights, mean and test images; an ONNX file equal to the Keras model; the report's
errors, sizes and latencies; a release measured by agreement; each mistake a ValueError naming it.
The command itself: tests/journeys/test_export_command.py."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from keras_resnet_paper.data import load_digits_32
from keras_resnet_paper.data.cifar import pixel_mean
from keras_resnet_paper.deploy import exportable, measure
from keras_resnet_paper.deploy.onnx import onnx_scores


@pytest.fixture(scope="module")
def run_item(offline_run):
    _, folder = offline_run
    return exportable.from_run_folder(str(folder), max_images=120)


def test_a_run_folder_gives_its_net_weights_mean_and_test_images(offline_run, run_item):
    result, folder = offline_run
    x_train, _, x_test, y_test = load_digits_32()
    assert run_item.name == "resnet8_final" and run_item.out_dir == str(folder / "export")
    np.testing.assert_array_equal(run_item.images, x_test[:120])
    np.testing.assert_array_equal(run_item.labels, y_test[:120])
    assert run_item.images.dtype == np.uint8 and run_item.calibration.shape == (100, 32, 32, 3)
    np.testing.assert_allclose(run_item.mean, pixel_mean(x_train))
    normalised = x_test[:8].astype("float32") - run_item.mean
    want = result.training_model(normalised, training=False)  # the trained net: logits
    np.testing.assert_allclose(run_item.model(normalised, training=False), want, rtol=1e-4, atol=1e-6)


def test_an_onnx_file_takes_uint8_images_and_equals_the_keras_model(run_item, tmp_path):
    path = measure.export(run_item, "onnx", out_dir=str(tmp_path))
    assert path == str(tmp_path / "resnet8_final.onnx")
    got = onnx_scores(path, run_item.images[:16])
    logits = np.asarray(run_item.model(run_item.images[:16].astype("float32") - run_item.mean), np.float64)
    want = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(got, want / want.sum(1, keepdims=True), atol=1e-5)  # the file adds the softmax
    report = measure.measure(run_item, path, "onnx", repeats=3)
    assert report["images"] == 120 and report["size_bytes"] > 100_000
    assert report["file_top1_error"] == pytest.approx(report["keras_float_top1_error"], abs=0.01)
    assert report["keras_folded_top1_error"] == pytest.approx(report["keras_float_top1_error"], abs=0.01)
    assert report["max_abs_difference_from_float"] < 1e-4
    assert set(report["latency_ms"]) == {"keras_float", "keras_folded", "file"}
    assert all(0 < v < 10_000 for v in report["latency_ms"].values())
    json.dumps(report)  # the report is written as JSON


def test_mistakes_are_value_errors_naming_the_value(offline_run, run_item, tmp_path):
    _, folder = offline_run
    for fmt, quantize, match in (
        ("pb", "none", "format='pb' is not allowed; allowed: saved_model, tflite, onnx"),
        ("tflite", "int4", "quantize='int4' is not allowed"),
        ("onnx", "int8", "quantize='int8' applies to format='tflite', not to format='onnx'"),
    ):
        with pytest.raises(ValueError, match=match):
            measure.export(run_item, fmt, quantize, out_dir=str(tmp_path))
    few = exportable.Exportable("net", run_item.model, run_item.images[:2], None, None, mean=run_item.mean)
    few.described = "2 images at hand"
    with pytest.raises(ValueError, match="needs at least 20 representative images .* 2 images at hand are fewer"):
        measure.export(few, "tflite", "int8", out_dir=str(tmp_path))
    unfinished = tmp_path / "unfinished"
    shutil.copytree(folder, unfinished)
    (unfinished / "final.weights.h5").unlink()
    with pytest.raises(ValueError, match="has no final.weights.h5: the run has not finished"):
        exportable.from_run_folder(str(unfinished))
    with pytest.raises(ValueError, match="no such folder"):
        exportable.from_run_folder(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="holds no run"):
        exportable.from_run_folder(str(tmp_path))
    with pytest.raises(ValueError, match="weights='last' is not allowed for a run folder; allowed: final, best"):
        exportable.from_run_folder(str(folder), "last")


def test_a_release_is_measured_by_agreement_on_the_images_at_hand(tmp_path):
    """A torchvision-layout ResNet-18 file (its preprocessing: torchvision's), scikit-learn's two
    photos centre-cropped to 224 as uint8; the file of a net on photos at hand agrees with the
    float model (measured on a ResNet-8 at 32², where the same code runs in a fraction of the time)."""
    pytest.importorskip("sklearn")
    import keras_resnet_paper as krp
    from keras_resnet_paper.weights.conventions import TORCH
    from keras_resnet_paper.weights.safetensors_io import write_safetensors
    from keras_resnet_paper.weights.torch_checkpoint import to_torchvision_state_dict
    from tests.weights.weights_files import randomize

    source = randomize(krp.ResNet18(weights=None, input_shape=(64, 64, 3)), seed=3)
    path = str(tmp_path / "resnet18.safetensors")
    write_safetensors(path, to_torchvision_state_dict(source, include_num_batches_tracked=False))
    item = exportable.from_release("resnet18", path)
    assert item.name == "resnet18_resnet18" and item.labels is None and item.calibration is None
    assert item.images.shape == (2, 224, 224, 3) and item.images.dtype == np.uint8
    assert item.preprocessing.name == "torch" and "resnet18 with weights" in item.described
    small = exportable.from_model(randomize(krp.cifar_resnet(8), seed=4), TORCH, name="resnet8_photos")
    assert small.images.shape == (2, 32, 32, 3) and small.preprocessing.input_size == (32, 32, 3)
    file = measure.export(small, "tflite", out_dir=str(tmp_path / "export"))
    report = measure.measure(small, file, "tflite", repeats=2)
    assert report["file_top1_agreement"] == report["keras_folded_top1_agreement"] == 1.0, report
    assert report["max_abs_difference_from_float"] < 1e-4, report
    with pytest.raises(ValueError, match="needs at least 20 representative images"):
        measure.export(small, "tflite", "int8", out_dir=str(tmp_path / "export"))


def test_a_layer_a_converter_or_runtime_cannot_take_is_named_in_one_line(tmp_path):
    """A Python function inside the net (tf.py_function): TFLite refuses it, tf2onnx writes a file
    onnxruntime cannot run; the command's message names the layer either way."""
    import keras
    import tensorflow as tf

    class PythonStep(keras.layers.Layer):
        def call(self, x):
            y = tf.py_function(lambda t: t * 2, [x], tf.float32)
            y.set_shape(x.shape)
            return y

    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(PythonStep(name="python_step")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(pooled))
    item = exportable.Exportable("odd", model, np.zeros((2, 8, 8, 3), np.uint8), None, None, mean=np.zeros(3))
    item.out_dir = str(tmp_path)
    refused = r"^the tflite converter cannot take odd: layer 'python_step' \(op EagerPyFunc\)$"
    with pytest.raises(measure.ConversionError, match=refused):
        measure.export(item, "tflite")
    path = measure.export(item, "onnx")
    with pytest.raises(measure.ConversionError, match=r"odd.onnx was written but does not run: layer 'python_step'$"):
        measure.measure(item, path, "onnx", repeats=1)


def test_a_run_that_augmented_on_the_device_loads_through_its_augmentation_layer(offline_run, tmp_path):
    """`--augment_on_device` runs save the net behind the PadCropFlip layer: the export rebuilds
    that wrapper to load the file, and exports the net without it."""
    from keras_resnet_paper import data
    from keras_resnet_paper.training.task import ImageClassificationTask

    _, folder = offline_run
    run = tmp_path / "device_run"
    shutil.copytree(folder, run)
    record = json.loads((run / "run.json").read_text())
    record["recipe"]["augment_on"] = "device"
    (run / "run.json").write_text(json.dumps(record))
    config = exportable._run_config(record)
    digits = data.cifar_datasets("digits", 8, seed=0, augment_on="device")
    trained = ImageClassificationTask(config).build_model(digits)  # as the trainer builds it
    assert type(trained.layers[1]).__name__ == "PadCropFlip"
    trained.save_weights(run / "final.weights.h5")
    item = exportable.from_run_folder(str(run), max_images=4)
    assert not [l for l in item.model.layers if type(l).__name__ == "PadCropFlip"]
    x = item.images.astype("float32") - item.mean
    want = trained.layers[-1](x, training=False)  # the trainer's net: logits, as the export's
    np.testing.assert_allclose(item.model(x, training=False), want, rtol=1e-5, atol=1e-6)
