"""ONNX files that take images as a user has them (uint8 RGB, the preprocessing inside), run with
ONNX Runtime outside TensorFlow.

`to_onnx(model, path, mean=... or preprocessing=...)` folds the BatchNorms, wraps the model as
`tflite.serving_model` does (uint8 RGB images in, class probabilities out) and writes it with
Keras' own `model.export(format="onnx")`, which converts through tf2onnx on the TensorFlow
backend. `onnx_scores` runs a file with onnxruntime. Both need the `deploy` extra
(`pip install "keras_resnet_paper[deploy]"`: onnx, onnxruntime, tf2onnx).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Iterable

import keras
import numpy as np

from keras_resnet_paper.deploy.batchnorm_folding import fold_batchnorm
from keras_resnet_paper.deploy.tflite import serving_model
from keras_resnet_paper.weights.conventions import Preprocessing, input_convention

__all__ = ["MissingDeployDependencyError", "onnx_scores", "to_onnx"]


class MissingDeployDependencyError(ImportError):
    """A package of the `deploy` extra is not installed."""


def require(*modules: str) -> None:
    """Raise `MissingDeployDependencyError` naming the first of `modules` that is not installed."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingDeployDependencyError(
                f"{module} is not installed: ONNX files need the deploy extra "
                '(pip install "keras_resnet_paper[deploy]", or ".[deploy]" in a checkout).'
            )


def to_onnx(model: keras.Model, path: str, *, mean=None, preprocessing: Preprocessing | None = None) -> str:
    """Write `model` as an ONNX file at `path` taking uint8 RGB images [N, H, W, 3] and giving the
    class probabilities, `mean` (the run's) or `preprocessing` (a release's) inside; BatchNorm
    folded first. Returns `path`."""
    require("tf2onnx", "onnx")
    served = serving_model(fold_batchnorm(model), input_convention(mean, preprocessing))
    served(np.zeros((1, *served.input_shape[1:]), np.uint8))  # Keras exports a model that has been called
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with warnings.catch_warnings():  # tf2onnx's own deprecation notices (numpy 2): not the user's
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        served.export(path, format="onnx", verbose=False)
    return path


def onnx_session(path: str, num_threads: int = 1):
    """An onnxruntime session of the file at `path` on `num_threads` CPU threads."""
    require("onnxruntime")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = int(num_threads)
    options.log_severity_level = 3  # errors only: its graph-optimisation notices are not the user's
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnx_scores(path: str, images: Iterable[np.ndarray], num_threads: int = 1) -> np.ndarray:
    """The class probabilities [N, classes] of the ONNX file at `path` for uint8 RGB images
    [H, W, 3], one image at a time on `num_threads` CPU threads (onnxruntime)."""
    session = onnx_session(path, num_threads)
    name = session.get_inputs()[0].name
    scores = [session.run(None, {name: np.asarray(image, np.uint8)[None]})[0][0] for image in images]
    if not scores:
        raise ValueError("onnx_scores got no images.")
    return np.stack(scores).astype(np.float32)
