"""Export a net to a file and measure what the file keeps: its top-1 error next to the float
model's (or, without labels, how often their top-1 agree), its size, and the latency of one image
for the float Keras model, the folded one (`batchnorm_folding`) and the file.

Every model is fed the same uint8 RGB images through the same preprocessing (`tflite.serving_model`),
so the numbers compare the files, not their inputs. Latency is the median over repeated single-image
calls after a warm-up, on as many CPU threads as the process runs (the export command runs on one).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

import keras
import numpy as np

from keras_resnet_paper.deploy.batchnorm_folding import fold_batchnorm
from keras_resnet_paper.deploy.exportable import MIN_CALIBRATION, Exportable
from keras_resnet_paper.deploy.onnx import MissingDeployDependencyError, onnx_session, to_onnx
from keras_resnet_paper.deploy.tflite import QUANTIZATIONS, serving_model, tflite_interpreter, to_tflite
from keras_resnet_paper.graph import iter_layers
from keras_resnet_paper.weights.conventions import input_convention

__all__ = ["FORMATS", "SUFFIXES", "ConversionError", "export", "file_runner", "latency_ms", "measure"]

#: The file formats an export writes, and their file names' endings.
FORMATS = ("saved_model", "tflite", "onnx")
SUFFIXES = {"saved_model": "", "tflite": ".tflite", "onnx": ".onnx"}


class ConversionError(ValueError):
    """A converter cannot take the net, or its runtime cannot run the file: the message names the
    layers (and ops) its error names."""


def culprit(err: BaseException, model: keras.Model) -> str:
    """The layers of `model` and the ops a converter's or runtime's error names, else its first words."""
    text = " ".join(str(err).split())
    layers = [layer.name for layer in iter_layers(model) if re.search(rf"/{re.escape(layer.name)}(_\d+)?/", text)]
    ops = sorted({op for op in re.findall(r'fused\["(\w+):', text) if op != "StatefulPartitionedCall"})
    if layers:
        return f"layer {', '.join(map(repr, layers))}" + (f" (op {', '.join(ops)})" if ops else "")
    return text[:300]


def _check(fmt: str, quantize: str, item: Exportable) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not allowed; allowed: {', '.join(FORMATS)}.")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize={quantize!r} is not allowed; allowed: {', '.join(QUANTIZATIONS)}.")
    if quantize != "none" and fmt != "tflite":
        raise ValueError(f"quantize={quantize!r} applies to format='tflite', not to format={fmt!r}.")
    if quantize == "int8" and item.calibration is None:
        raise ValueError(
            f"quantize='int8' needs at least {MIN_CALIBRATION} representative images to calibrate on and "
            f"{item.described} are fewer: give a folder of them (--images DIR)."
        )


def export(item: Exportable, fmt: str = "tflite", quantize: str = "none", out_dir: str | None = None) -> str:
    """Write `item`'s net as a `fmt` file (one of `FORMATS`; `quantize` for TFLite) under
    `out_dir` (default `item.out_dir`), taking uint8 RGB images with the preprocessing inside;
    returns its path."""
    _check(fmt, quantize, item)
    suffix = "" if quantize == "none" else f"_{quantize}"
    path = os.path.join(out_dir or item.out_dir, f"{item.name}{suffix}{SUFFIXES[fmt]}")
    try:
        return _write(item, fmt, quantize, path)
    except (MissingDeployDependencyError, OSError):  # a package missing, a folder that cannot be written
        raise
    except Exception as err:  # the converters raise their own kinds (ConverterError, tf2onnx's, ValueError, ...)
        raise ConversionError(f"the {fmt} converter cannot take {item.name}: {culprit(err, item.model)}") from None


def _write(item: Exportable, fmt: str, quantize: str, path: str) -> str:
    if fmt == "tflite":
        return to_tflite(item.model, path, quantize=quantize, representative=item.calibration, **item.convention)
    if fmt == "onnx":
        return to_onnx(item.model, path, **item.convention)
    served = serving_model(fold_batchnorm(item.model), input_convention(**item.convention))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    served.export(path, format="tf_saved_model", verbose=False)
    return path


def file_runner(path: str, fmt: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function of the file at `path`: uint8 images [N, H, W, 3] -> its scores [N, classes] (one thread)."""
    if fmt == "onnx":
        session = onnx_session(path, num_threads=1)
        name = session.get_inputs()[0].name
        return lambda images: session.run(None, {name: images})[0]
    if fmt == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(path)  # held by the function: its variables live as long as it
        return lambda images: loaded.serve(tf.constant(images)).numpy()
    interpreter = tflite_interpreter(path, num_threads=1)
    interpreter.allocate_tensors()
    given, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def run(images):
        scores = []
        for image in images:  # the file's input is one image: a batch is a loop
            interpreter.set_tensor(given["index"], image[None])
            interpreter.invoke()
            scores.append(np.array(interpreter.get_tensor(output["index"])[0], np.float32))
        return np.stack(scores)

    return run


def _keras_runner(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    import tensorflow as tf

    call = tf.function(lambda images: model(images, training=False), reduce_retracing=True)
    return lambda images: call(tf.constant(images)).numpy()


def latency_ms(run: Callable[[np.ndarray], np.ndarray], image: np.ndarray, repeats: int = 20) -> float:
    """The median time of `run` on one image [1, H, W, 3], in milliseconds, after 3 warm-up calls."""
    for _ in range(3):
        run(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(image)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def _scores(run: Callable[[np.ndarray], np.ndarray], images: np.ndarray, batch: int = 50) -> np.ndarray:
    return np.concatenate([np.asarray(run(images[i : i + batch]), np.float32) for i in range(0, len(images), batch)])


def _top1(scores: np.ndarray, item: Exportable, reference: np.ndarray) -> dict:
    """Top-1 error against the labels, or agreement with the float model's top-1 without them."""
    if item.labels is None:
        return {"top1_agreement": float(np.mean(scores.argmax(1) == reference.argmax(1)))}
    return {"top1_error": float(np.mean(scores.argmax(1) != item.labels))}


def measure(item: Exportable, path: str, fmt: str, repeats: int = 20) -> dict:
    """The report of the file at `path` (module docstring): errors or agreement, size, latencies;
    a file its runtime cannot run is a `ConversionError` naming the layer."""
    convention = input_convention(**item.convention)
    runners = {
        "keras_float": _keras_runner(serving_model(item.model, convention)),
        "keras_folded": _keras_runner(serving_model(fold_batchnorm(item.model), convention)),
    }
    try:
        runners["file"] = file_runner(path, fmt)
        scores = {name: _scores(run, item.images) for name, run in runners.items()}
    except MissingDeployDependencyError:
        raise
    except Exception as err:  # e.g. an op onnxruntime lacks
        raise ConversionError(f"{path} was written but does not run: {culprit(err, item.model)}") from None
    reference = scores["keras_float"]
    size = (
        sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
        if os.path.isdir(path)
        else os.path.getsize(path)
    )
    return {
        "file": path,
        "format": fmt,
        "size_bytes": size,
        "images": len(item.images),
        "measured_on": item.described,
        **{f"{name}_{k}": v for name in scores for k, v in _top1(scores[name], item, reference).items()},
        "max_abs_difference_from_float": float(np.max(np.abs(scores["file"] - reference))),
        "latency_ms": {name: latency_ms(run, item.images[:1], repeats) for name, run in runners.items()},
    }
