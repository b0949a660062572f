"""Latency of one image on one CPU thread: a net's int8 TFLite file against its float32 one, in the
same run (`python -m keras_resnet_paper.export` writes both; this times them side by side).

    python benchmarks/quantized_latency.py --model resnet50
    python benchmarks/quantized_latency.py --model resnet50 --weights imagenet --images photos/

Both files take uint8 RGB images with the preprocessing inside (the weights' own, or Caffe's for
`--weights none`). int8 calibrates on `--calibration` random crops and flips of the images (the
images at hand: `--images`, else scikit-learn's two sample photos). The figures are the median of
`--repeats` single-image calls after warm-up, interleaved file by file; with `--weights none` the
nets are random, so the top-1 agreement printed is not an accuracy (RESULTS.md says which it is).
"""

from __future__ import annotations

import os
import tempfile

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "resnet50", "A net of the package (its registry name).")
flags.DEFINE_string("weights", "none", "A release tag or weights file; none: random weights.")
flags.DEFINE_string("images", None, "A folder of images (default: scikit-learn's two sample photos).")
flags.DEFINE_integer("calibration", 32, "Calibration images for int8 (random crops and flips).", lower_bound=1)
flags.DEFINE_integer("repeats", 20, "Timed single-image calls per file.", lower_bound=1)


def _item(model_name: str, weights: str, images_dir: str | None, calibration: int):
    """An `Exportable` of the net with its images and `calibration` random crops of them."""
    import numpy as np

    from keras_resnet_paper.deploy import exportable
    from keras_resnet_paper.models import get_model
    from keras_resnet_paper.weights.conventions import CAFFE

    if weights != "none":
        item = exportable.from_release(model_name, weights, images_dir)
    else:
        item = exportable.from_model(get_model(model_name), CAFFE, images_dir, name=model_name)
    rng = np.random.default_rng(0)
    size = item.images.shape[1]
    padded = np.pad(item.images, ((0, 0), (size // 8, size // 8), (size // 8, size // 8), (0, 0)), mode="reflect")
    picks = []
    for _ in range(calibration):
        image = padded[rng.integers(len(padded))]
        top, left = rng.integers(0, 2 * (size // 8) + 1, 2)
        crop = image[top : top + size, left : left + size]
        picks.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    item.calibration = np.stack(picks)
    return item


def main(argv) -> None:
    del argv
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import numpy as np

    from keras_resnet_paper import startup
    from keras_resnet_paper.deploy import measure

    item = _item(FLAGS.model, FLAGS.weights, FLAGS.images, FLAGS.calibration)
    with tempfile.TemporaryDirectory() as folder, startup.framework_output_hidden():
        paths = {q: measure.export(item, "tflite", q, out_dir=folder) for q in ("none", "int8")}
        runners = {q: measure.file_runner(p, "tflite") for q, p in paths.items()}
        sizes = {q: os.path.getsize(p) for q, p in paths.items()}
        scores = {q: run(item.images) for q, run in runners.items()}
        times = {q: [] for q in runners}
        for _ in range(3):  # interleaved rounds: both files see the same machine load
            for q, run in runners.items():
                times[q].append(measure.latency_ms(run, item.images[:1], FLAGS.repeats))
    float_ms, int8_ms = (float(np.median(times[q])) for q in ("none", "int8"))
    agreement = float(np.mean(scores["none"].argmax(1) == scores["int8"].argmax(1)))
    kind = "random weights: not an accuracy" if FLAGS.weights == "none" else f"weights {FLAGS.weights}"
    print(
        f"{FLAGS.model} TFLite, one image on 1 CPU thread: float32 {float_ms:.2f} ms ({sizes['none']:,} B), "
        f"int8 {int8_ms:.2f} ms ({sizes['int8']:,} B): int8 {float_ms / int8_ms:.2f}x faster; "
        f"top-1 agreement {100 * agreement:.0f}% on {len(item.images)} images ({kind})"
    )


if __name__ == "__main__":
    app.run(main)
