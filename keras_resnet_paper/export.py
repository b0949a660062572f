"""Command line: export a trained run's net or a pretrained release as a file that takes uint8 RGB
images with the preprocessing inside, and measure what the file keeps.

    python -m keras_resnet_paper.export --model_dir runs/cifar10_offline/resnet20 --format tflite --quantize int8
    python -m keras_resnet_paper.export --model_dir runs/cifar10_offline/resnet20 --format onnx
    python -m keras_resnet_paper.export --model resnet50 --weights imagenet --format tflite

A run folder's net (its final weights, or --checkpoint best) is measured on its test set: the file's
top-1 error next to the float model's; a release on the images at hand (--images, else
scikit-learn's sample photos): how often its top-1 agrees with the float model's. The file goes to
<model_dir>/export/ (a release: ./export/, or --out_dir), with a JSON report beside it
(<file>.json): the errors, the size in bytes, and the latency of one image on one CPU thread for
the float Keras model, the folded one (BatchNorm in the convolutions) and the file. ONNX needs the
deploy extra (pip install "keras_resnet_paper[deploy]").

Exit status: 0 written; 2 a command-line mistake, a folder without a finished run, a dependency
missing, or a net the converter cannot take; 4 the file or its report could not be written.
"""

from __future__ import annotations

import json
import os
import sys

from absl import flags

from keras_resnet_paper import cli, startup, terminal
from keras_resnet_paper.errors import ResourceUnavailableError

PROG = "python -m keras_resnet_paper.export"
#: Exit status when the file or its report could not be written (as the training command's).
WRITE_FAILED_EXIT = 4
FLAGS = flags.FLAGS

flags.DEFINE_string("model_dir", None, "A training run's folder: export its net (its recipe's preprocessing).")
flags.DEFINE_enum("checkpoint", "final", ["final", "best"], "Which weights of the run: final.weights.h5 or the best.")
flags.DEFINE_string("model", None, "A net of the package to export with --weights (instead of --model_dir).")
flags.DEFINE_string(
    "weights", None, "With --model: a release tag (e.g. imagenet) or a weights file with its preprocessing."
)
flags.DEFINE_enum("format", "tflite", ["saved_model", "tflite", "onnx"], "The file's format.")
flags.DEFINE_enum(
    "quantize",
    "none",
    ["none", "float16", "dynamic", "int8"],
    "TFLite only: float16 weights, int8 weights (dynamic), or the whole net in int8 calibrated on the run's "
    "first 100 training images (a release: on the images at hand, at least 20).",
)
flags.DEFINE_string("images", None, "A release: a folder of images to measure (and calibrate) on.")
flags.DEFINE_integer("max_images", 1000, "Measure on at most this many images (0: all).", lower_bound=0)
flags.DEFINE_string("out_dir", None, "Where the file and its report go (default <model_dir>/export, or ./export).")
flags.DEFINE_bool(
    "framework_logs",
    False,
    "Show TensorFlow's own start-up and C++ log lines (hidden by default; also shown with TF_CPP_MIN_LOG_LEVEL=0).",
)


def _one_thread() -> int | None:
    """Run TensorFlow on one CPU thread (the latency figures are single-thread); None if it had started."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime had already started: the figures are then on its threads
        return None
    return 1


def _exportable(f):
    from keras_resnet_paper.deploy import exportable

    if (f.model_dir is None) == (f.model is None):
        raise cli.UsageError("give --model_dir DIR (a training run) or --model NAME --weights TAG (a release).")
    if f.model_dir is not None:
        for name in ("weights", "images"):
            if f[name].value is not None:
                raise cli.UsageError(f"--{name} applies to --model, not to --model_dir.")
        return exportable.from_run_folder(f.model_dir, f.checkpoint, f.max_images)
    if f.weights is None:
        raise cli.UsageError("--model needs --weights: a release tag (e.g. imagenet) or a weights file.")
    return exportable.from_release(f.model, f.weights, f.images, f.max_images)


def _converted(item, f) -> str:
    """The file written (a converter's refusal is a `measure.ConversionError` naming the layer)."""
    from keras_resnet_paper.deploy import measure

    quantized = "" if f.quantize == "none" else f" ({f.quantize})"
    with terminal.Phase(f"Writing {item.name} as {f.format}{quantized}"), startup.framework_output_hidden():
        return measure.export(item, f.format, f.quantize, f.out_dir)


def _summary(report: dict, threads: int | None) -> str:
    latency = report["latency_ms"]
    if "file_top1_error" in report:
        quality = f"test top-1 error {100 * report['file_top1_error']:.2f}% (float Keras {100 * report['keras_float_top1_error']:.2f}%)"
    else:
        quality = (
            f"top-1 agrees with float Keras on {100 * report['file_top1_agreement']:.1f}% of {report['images']} images"
        )
    where = "1 CPU thread" if threads == 1 else "the CPU threads TensorFlow uses"
    return (
        f"{report['file']}: {quality}, {report['size_bytes']:,} bytes, {latency['file']:.2f} ms per image on {where} "
        f"(Keras {latency['keras_float']:.2f} ms, folded {latency['keras_folded']:.2f} ms)"
    )


def _measured(item, path: str, f, threads: int | None) -> dict:
    from keras_resnet_paper.deploy import measure

    with terminal.Phase(f"Measuring the file, the float and the folded model on {len(item.images)} images"):
        with startup.framework_output_hidden():
            return {"quantize": f.quantize, "threads": threads, **measure.measure(item, path, f.format)}


def main(argv) -> int:
    del argv
    from keras_resnet_paper.deploy.onnx import MissingDeployDependencyError

    threads = _one_thread()
    f = FLAGS
    try:
        with terminal.Phase("Loading the net and its images"):
            item = _exportable(f)
        path = _converted(item, f)
        report = _measured(item, path, f, threads)
        from keras_resnet_paper.atomic_files import atomic_write_text

        atomic_write_text(path.rstrip(os.sep) + ".json", json.dumps(report, indent=1))
    except (ValueError, MissingDeployDependencyError) as err:
        raise cli.UsageError(str(err)) from None
    except ResourceUnavailableError:  # weights that cannot be fetched: cli says it in one line, exit 2
        raise
    except OSError as err:  # a full disk, a read-only or missing folder: what could not be written
        cli.fail(PROG, f"could not write the export ({' '.join(str(err).split())})", status=WRITE_FAILED_EXIT)
    print(_summary(report, threads), flush=True)
    return 0


def run() -> None:
    """Entry point of `python -m keras_resnet_paper.export`: a quiet start, one-line mistakes."""
    try:
        startup.quiet_start()
        cli.run(main, doc=__doc__, modules=(__name__,), prog=PROG)
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", 2)
        terminal.say(startup.stopped_at_start_up(signum).replace("nothing was trained", "nothing was written"))
        sys.exit(128 + signum)


if __name__ == "__main__":
    run()
