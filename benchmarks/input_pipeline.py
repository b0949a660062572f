"""Images/s of the ImageNet training pipeline (docs/paper.md, 'ImageNet training (Sec. 3.4)') on real JPEGs.

Makes a folder of ImageNet-sized JPEG photos from scikit-learn's sample photos (random crops of
china.jpg and flower.jpg rescaled to 375-500 px sides) and measures, in the same run:

1. decode-only: read and decode every JPEG, nothing else: the ceiling of any pipeline;
2. naive: decode the whole JPEG, resize all of it to the scale-augmentation size (bilinear, as
   ours), crop 224, flip;
3. ours: `keras_resnet_paper.data.imagenet_datasets(folder).train`, the real training pipeline
   (fused decode-and-crop, scale augmentation, flip, lighting, mean, corrupt-file guard, batching).

    python benchmarks/input_pipeline.py --num_files 300 --images 2000
"""

from __future__ import annotations

import os
import tempfile
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_files", 300, "JPEG files to generate.")
flags.DEFINE_integer("images", 2000, "Images timed per pipeline (after warm-up).")
flags.DEFINE_integer("warmup", 3200, "Images read before timing starts (tf.data AUTOTUNE needs ~1500 to ramp up).")
flags.DEFINE_integer("batch_size", 64, "Batch size of every pipeline.")
flags.DEFINE_integer("repeats", 2, "Timed runs per pipeline; the best is reported.")
flags.DEFINE_string("data_dir", None, "Where to write the photos (default: a temporary folder).")
flags.DEFINE_integer("seed", 0, "Seed of the photos and of the augmentation.")


def make_photos(root: str, num_files: int, seed: int = 0) -> list[str]:
    """num_files JPEGs (quality 90) in root/<photo name>/, each a random crop of a sample photo
    rescaled to height and width uniform in [375, 500] px."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    samples = load_sample_images()
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(num_files):
        k = i % len(samples.images)
        source = samples.images[k]
        height, width = (int(v) for v in rng.integers(375, 501, 2))
        scale = rng.uniform(0.6, 1.0) * min(source.shape[0] / height, source.shape[1] / width)
        crop_h, crop_w = int(height * scale), int(width * scale)
        top = int(rng.integers(0, source.shape[0] - crop_h + 1))
        left = int(rng.integers(0, source.shape[1] - crop_w + 1))
        crop = Image.fromarray(source[top : top + crop_h, left : left + crop_w]).resize((width, height), Image.BILINEAR)
        folder = os.path.join(root, os.path.splitext(samples.filenames[k])[0].split(os.sep)[-1])
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{i:05d}.jpg")
        crop.save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def _decode_only(paths, batch_size):
    import tensorflow as tf

    def decode(path):
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        return image[0, 0]  # depends on the whole decode; a fixed shape so it can be batched

    ds = tf.data.Dataset.from_tensor_slices(paths).shuffle(len(paths), seed=0).repeat()
    return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _naive(paths, batch_size, seed):
    import tensorflow as tf

    from keras_resnet_paper.data.crops import shorter_side_size

    def preprocess(index, path):
        s = tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), index]), 3)
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        side = tf.random.stateless_uniform([], s[0], 256, 481, dtype=tf.int32)
        image = tf.image.resize(image, shorter_side_size(tf.shape(image), side), method="bilinear")
        image = tf.image.stateless_random_crop(image, [224, 224, 3], s[1])
        return tf.image.stateless_random_flip_left_right(image, s[2])

    ds = tf.data.Dataset.from_tensor_slices(paths).shuffle(len(paths), seed=0).repeat().enumerate()
    return ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def measure(dataset, images: int, warmup: int, batch_size: int, repeats: int) -> tuple[float, float]:
    """(best images/s, CPU ms per image at that run) over `repeats` runs of `images` images.

    CPU time is the whole process's (all threads): on a machine shared with other jobs it is a
    steadier measure of a pipeline's cost than wall-clock throughput.
    """
    iterator = iter(dataset)
    for _ in range(max(1, warmup // batch_size)):
        next(iterator)
    best = (0.0, 0.0)
    for _ in range(repeats):
        batches = max(1, images // batch_size)
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(batches):
            next(iterator)
        n = batches * batch_size
        rate, cpu_ms = n / (time.perf_counter() - start), 1e3 * (time.process_time() - cpu) / n
        best = max(best, (rate, cpu_ms))
    return best


def main(argv):
    del argv
    import tensorflow as tf

    from keras_resnet_paper import data

    root = FLAGS.data_dir or tempfile.mkdtemp(prefix="resnet_photos_")
    paths = make_photos(root, FLAGS.num_files, FLAGS.seed)
    print(
        f"{len(paths)} JPEGs (375-500 px sides) in {root}; {os.cpu_count()} CPU cores visible, "
        f"TensorFlow {tf.__version__}"
    )
    ours = data.imagenet_datasets(root, FLAGS.batch_size, seed=FLAGS.seed, mean=data.IMAGENET_CHANNEL_MEAN).train
    pipelines = {
        "decode-only (ceiling)": _decode_only(paths, FLAGS.batch_size),
        "naive decode-then-crop": _naive(paths, FLAGS.batch_size, FLAGS.seed),
        "ours (imagenet_datasets.train)": ours,
    }
    results = {}
    for name, dataset in pipelines.items():
        results[name] = measure(dataset, FLAGS.images, FLAGS.warmup, FLAGS.batch_size, FLAGS.repeats)
        print(f"{name:32s} {results[name][0]:8.1f} images/s  {results[name][1]:6.3f} CPU-ms/image")
    (ceiling, ceiling_cpu), (naive, naive_cpu), (fused, fused_cpu) = results.values()
    print("ratios           images/s   CPU efficiency (decode-only CPU-ms / pipeline CPU-ms)")
    print(f"ours / decode-only  {fused / ceiling:5.2f}      {ceiling_cpu / fused_cpu:5.2f}")
    print(f"naive / decode-only {naive / ceiling:5.2f}      {ceiling_cpu / naive_cpu:5.2f}")
    print(f"ours / naive        {fused / naive:5.2f}      {naive_cpu / fused_cpu:5.2f}")


if __name__ == "__main__":
    app.run(main)
