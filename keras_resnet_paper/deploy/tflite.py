"""TFLite files that take images as a user has them, with the preprocessing inside (float32,
float16, dynamic-range or full int8), and their scores on a test set.

`to_tflite(model, path, mean=... or preprocessing=...)` wraps the model (BatchNorm folded first,
`batchnorm_folding`) so the file's input is a batch of uint8 RGB images at the model's size and
its output the class probabilities: the run's per-pixel mean (Sec. 4.2) or a release's colour
order, scale, mean and std (`weights.conventions.Preprocessing`) are computed in the file, not
by its user. Full int8 calibrates on `representative` images, drawn from the run's or the
release's own data. TensorFlow 2.21's own converter and interpreter are used (its
`tf.lite.Interpreter` says it moves to LiteRT; `tflite_scores` uses LiteRT's when installed).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable

import keras
import numpy as np

from keras_resnet_paper.deploy.batchnorm_folding import fold_batchnorm
from keras_resnet_paper.weights.conventions import Preprocessing, input_convention

__all__ = ["QUANTIZATIONS", "serving_model", "tflite_interpreter", "tflite_scores", "to_tflite"]

#: What `to_tflite` can do to the weights: keep float32, store float16, quantize the weights
#: ("dynamic": int8 weights, float activations) or the whole net ("int8", calibrated).
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def serving_model(model: keras.Model, preprocessing: Preprocessing | None) -> keras.Model:
    """uint8 RGB images [N, H, W, 3] -> `model`'s outputs after `preprocessing` (as its
    `normalize` computes it); a classifier's logits become probabilities (a softmax is added to a
    Dense head without one), a headless backbone's features stay features."""
    size = tuple(model.input_shape[1:])
    if len(size) != 3 or None in size or size[-1] != 3:
        raise ValueError(f"model input shape {size} must be a known (height, width, 3) for a file of fixed size.")
    images = keras.Input(size, dtype="uint8", name="images")
    x = keras.ops.cast(images, "float32")
    if preprocessing is not None:
        if preprocessing.color_order == "BGR":
            x = keras.ops.flip(x, axis=-1)
        gain, offset = preprocessing.channel_affine()
        x = x * gain + offset
        if preprocessing.mean_image is not None:
            std = np.ones(3) if preprocessing.std is None else np.asarray(preprocessing.std, np.float64)
            x = x - (np.asarray(preprocessing.mean_image, np.float64) / std).astype("float32")
    scores = model(x)
    head = model.layers[-1]
    if isinstance(head, keras.layers.Dense) and head.activation is not keras.activations.softmax:
        scores = keras.layers.Softmax(name="scores")(scores)  # a logits head: probabilities in the file
    return keras.Model(images, scores, name=f"{model.name}_uint8")


def to_tflite(
    model: keras.Model,
    path: str,
    *,
    mean=None,
    preprocessing: Preprocessing | None = None,
    quantize: str = "none",
    representative: Iterable[np.ndarray] | None = None,
) -> str:
    """Write `model` as a TFLite file at `path` taking uint8 RGB images (module docstring);
    `mean` (a per-pixel mean image or a per-channel mean, the run's) or `preprocessing` (a
    release's: `model.preprocessing`) is inside it. `quantize` is one of `QUANTIZATIONS`; "int8"
    needs `representative` uint8 images [H, W, 3] (a hundred or so). Returns `path`."""
    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize={quantize!r} is not allowed; allowed: {', '.join(QUANTIZATIONS)}.")
    images = None if representative is None else [np.asarray(image, np.uint8) for image in representative]
    if quantize == "int8" and not images:
        raise ValueError("quantize='int8' needs representative images (uint8 [H, W, 3]) to calibrate on.")
    served = serving_model(fold_batchnorm(model), input_convention(mean, preprocessing))
    with tempfile.TemporaryDirectory() as saved:  # the SavedModel the converter reads, frozen
        served.export(saved, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            converter.representative_dataset = lambda: ([image[None]] for image in images)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        content = converter.convert()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)
    return path


def tflite_interpreter(path: str, num_threads: int = 1):
    """A TFLite interpreter of the file at `path` on `num_threads` CPU threads (LiteRT's where installed)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():  # TensorFlow's interpreter says it moves to LiteRT
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(model_path=path, num_threads=num_threads)
    return Interpreter(model_path=path, num_threads=num_threads)


def tflite_scores(path: str, images: Iterable[np.ndarray], num_threads: int = 1) -> np.ndarray:
    """The class probabilities [N, classes] of the TFLite file at `path` for uint8 RGB images
    [H, W, 3], one image at a time on `num_threads` CPU threads."""
    interpreter = tflite_interpreter(path, num_threads)
    interpreter.allocate_tensors()
    given, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scores = []
    for image in images:
        interpreter.set_tensor(given["index"], np.asarray(image, np.uint8)[None])
        interpreter.invoke()
        scores.append(np.array(interpreter.get_tensor(output["index"])[0], np.float32))
    if not scores:
        raise ValueError("tflite_scores got no images.")
    return np.stack(scores)
