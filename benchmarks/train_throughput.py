"""Training throughput (images/s) of the paper's nets, with keras.applications.ResNet50 as the peer.

Measures `model.fit` train steps on synthetic input (one random batch repeated, so the input
pipeline costs nothing), for every combination of precision (float32, mixed_float16,
mixed_bfloat16) and XLA (jit_compile off/on). The first `--warmup` steps (tracing, XLA
compilation, autotuning) run in a first epoch that is not timed; the second epoch of `--steps`
steps is timed. Models: ResNet-50 at the ImageNet shape (Table 1), ResNet-20 and ResNet-56 at the
CIFAR shape (Sec. 4.2), and the peer `keras.applications.ResNet50` at the ImageNet shape; the
our/peer ratio compares ResNet-50 with the peer under the same configuration.

On a GPU (the real measurement):

    python benchmarks/train_throughput.py --batch_imagenet 128 --batch_cifar 128 --steps 50

On a CPU, at tiny scale, only to show that it runs:

    python benchmarks/train_throughput.py --image_size 64 --batch_imagenet 4 --batch_cifar 16 \
        --steps 3 --warmup 2 --precisions float32 --jit both

`--json PATH` also writes the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from keras_resnet_paper.models import ResNet20, ResNet50, ResNet56
from keras_resnet_paper.training.optimizer import PaperSGD
from keras_resnet_paper.training.trainer import precision_scope

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


class _EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, synchronised on the last step's loss."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self._t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        float((logs or {}).get("loss", 0.0))  # the logs are materialised: the epoch's work is done
        self.times.append(time.perf_counter() - self._t0)


def _synthetic(batch: int, shape: Sequence[int], classes: int, seed: int = 0) -> tf.data.Dataset:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *shape), dtype=np.float32)
    y = rng.integers(0, classes, size=(batch,), dtype=np.int32)
    return tf.data.Dataset.from_tensors((x, y)).repeat()


def measure(
    build: Callable[[], keras.Model],
    batch: int,
    shape: Sequence[int],
    classes: int,
    *,
    precision: str,
    jit_compile: bool,
    steps: int,
    warmup: int,
    steps_per_execution: int = 1,
) -> float:
    """Images/s of `model.fit` train steps (PaperSGD, cross-entropy) after `warmup` steps."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; choose one of {PRECISIONS}.")
    if steps <= 0 or warmup <= 0:
        raise ValueError(f"steps={steps} and warmup={warmup} must be > 0.")
    with precision_scope(precision):
        model = build()
        optimizer = PaperSGD(0.1, momentum=0.9, l2=1e-4)
        if precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(),
            jit_compile=jit_compile,
            steps_per_execution=steps_per_execution,
        )
        timer = _EpochTimer()
        data = _synthetic(batch, shape, classes)
        model.fit(data, epochs=1, steps_per_epoch=warmup, verbose=0, shuffle=False)  # tracing / compilation, not timed
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer], shuffle=False)
    keras.backend.clear_session()
    return steps * batch / timer.times[-1]


def _ours_resnet50(shape, classes):
    return lambda: ResNet50(input_shape=shape, classes=classes)


def _peer_resnet50(shape, classes):
    return lambda: keras.applications.ResNet50(weights=None, input_shape=shape, classes=classes)


def run(args: argparse.Namespace) -> list[dict]:
    imagenet_shape = (args.image_size, args.image_size, 3)
    cifar_shape = (32, 32, 3)
    models = {
        "resnet50": (_ours_resnet50(imagenet_shape, 1000), args.batch_imagenet, imagenet_shape, 1000),
        "keras.applications.ResNet50": (
            _peer_resnet50(imagenet_shape, 1000),
            args.batch_imagenet,
            imagenet_shape,
            1000,
        ),
        "resnet20": (lambda: ResNet20(input_shape=cifar_shape, classes=10), args.batch_cifar, cifar_shape, 10),
        "resnet56": (lambda: ResNet56(input_shape=cifar_shape, classes=10), args.batch_cifar, cifar_shape, 10),
    }
    unknown = sorted(set(args.models) - set(models))
    if unknown:
        raise ValueError(f"--models {unknown} unknown; choose from {sorted(models)}.")
    jits = {"off": (False,), "on": (True,), "both": (False, True)}[args.jit]
    rows = []
    for precision in args.precisions:
        for jit in jits:
            for name in args.models:
                build, batch, shape, classes = models[name]
                try:
                    ips = measure(
                        build,
                        batch,
                        shape,
                        classes,
                        precision=precision,
                        jit_compile=jit,
                        steps=args.steps,
                        warmup=args.warmup,
                        steps_per_execution=args.steps_per_execution,
                    )
                    error = None
                except Exception as e:  # a configuration the device cannot run is reported, not fatal
                    ips, error = float("nan"), f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
                row = {
                    "model": name,
                    "precision": precision,
                    "jit_compile": jit,
                    "batch": batch,
                    "input": "x".join(map(str, shape)),
                    "images_per_s": ips,
                    "error": error,
                }
                rows.append(row)
                print(_fmt(row), flush=True)
    return rows


def _fmt(row: dict) -> str:
    ips = "failed: " + row["error"] if row["error"] else f"{row['images_per_s']:9.1f} img/s"
    xla = "xla" if row["jit_compile"] else "   "
    return f"{row['model']:<28} {row['precision']:<15} {xla} batch {row['batch']:>4} {row['input']:<9} {ips}"


def ratios(rows: Sequence[dict]) -> list[dict]:
    """Our ResNet-50 / keras.applications.ResNet50 images/s for each configuration run."""
    out = []
    for ours in rows:
        if ours["model"] != "resnet50":
            continue
        for peer in rows:
            if peer["model"] == "keras.applications.ResNet50" and (peer["precision"], peer["jit_compile"]) == (
                ours["precision"],
                ours["jit_compile"],
            ):
                out.append(
                    {
                        "precision": ours["precision"],
                        "jit_compile": ours["jit_compile"],
                        "ratio": ours["images_per_s"] / peer["images_per_s"],
                    }
                )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", nargs="+", default=["resnet50", "keras.applications.ResNet50", "resnet20", "resnet56"]
    )
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS[:2]), choices=PRECISIONS)
    parser.add_argument("--jit", choices=("off", "on", "both"), default="both")
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_imagenet", type=int, default=64)
    parser.add_argument("--batch_cifar", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps_per_execution", type=int, default=1)
    parser.add_argument("--json", default=None, help="Also write the rows to this JSON file.")
    args = parser.parse_args(argv)
    gpus = tf.config.list_physical_devices("GPU")
    device = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus) or (
        f"CPU only ({os.cpu_count()} logical cores, {platform.processor() or platform.machine()})"
    )
    print(f"Device: {device}; TensorFlow {tf.__version__}, Keras {keras.__version__}", flush=True)
    rows = run(args)
    print("\nour ResNet-50 / keras.applications.ResNet50 (images/s ratio):")
    for r in ratios(rows):
        print(f"  {r['precision']:<15} {'xla' if r['jit_compile'] else 'no xla':<6} {r['ratio']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device, "rows": rows, "ratios": ratios(rows)}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
