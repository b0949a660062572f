"""Decoding real-world image files to RGB, with the fused JPEG decode-and-crop.

ImageNet holds CMYK JPEGs, PNGs named .jpg and grayscale images: everything decodes to 3-channel
RGB uint8 by content, not by file name. `decode_window` decodes only the crop window of a JPEG
(`tf.image.extract_jpeg_shape` + `tf.image.decode_and_crop_jpeg`), the fast path of the training
pipeline (PAPER.md, "ImageNet recipe (Sec. 3.4)"). `guarded_map` turns a corrupt file into an error
that names it, or skips and counts it.
"""

from __future__ import annotations

import sys
from typing import Callable

import tensorflow as tf

__all__ = ["decode_rgb", "decode_window", "guarded_map", "CorruptCounter"]

Window = Callable[[tf.Tensor], tf.Tensor]


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """Any JPEG (RGB, CMYK, grayscale), PNG, GIF (first frame) or BMP as uint8 [H, W, 3]."""
    image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def decode_window(encoded: tf.Tensor, window_fn: Window) -> tf.Tensor:
    """Decode the window `window_fn([height, width]) -> [y, x, h, w]` of an image, uint8 [h, w, 3].

    JPEGs decode only the window; other formats decode whole and are sliced. The same window
    function gives the same window for both, so the result does not depend on the file format.
    """

    def jpeg():
        window = window_fn(tf.image.extract_jpeg_shape(encoded)[:2])
        return tf.image.decode_and_crop_jpeg(encoded, window, channels=3)

    def other():
        image = decode_rgb(encoded)
        window = window_fn(tf.shape(image)[:2])
        return tf.slice(image, tf.stack([window[0], window[1], 0]), tf.stack([window[2], window[3], 3]))

    image = tf.cond(tf.io.is_jpeg(encoded), jpeg, other)
    image.set_shape([None, None, 3])
    return image


class CorruptCounter:
    """How many corrupt files a pipeline skipped (with `skip_corrupt=True`); read `.count`."""

    def __init__(self):
        with tf.init_scope(), tf.device("/cpu:0"):
            self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="corrupt_files_skipped")

    @property
    def count(self) -> int:
        return int(self.variable.numpy())


def guarded_map(
    dataset: tf.data.Dataset,
    fn: Callable,
    *,
    skip_corrupt: bool,
    counter: CorruptCounter | None = None,
    deterministic: bool | None = None,
) -> tf.data.Dataset:
    """Map `fn(*rest) -> (image, label)` over elements `(name, *rest)`, in parallel.

    An element whose `fn` fails (corrupt or unreadable file) raises InvalidArgumentError whose message
    names it ("Corrupt or unreadable image: <name>"), or with `skip_corrupt` is dropped, counted in
    `counter` and reported on stderr with its name. Each element runs in its own small dataset so a
    failure is caught per file, not by the whole stream.
    """

    def attempt(name, *rest):
        ok = tf.data.Dataset.from_tensors(rest).map(lambda *r: (*fn(*r), True)).ignore_errors()
        image_spec, label_spec, _ = ok.element_spec
        blank_shape = [d if d is not None else 0 for d in image_spec.shape]
        failed = tf.data.Dataset.from_tensors(
            (tf.zeros(blank_shape, image_spec.dtype), tf.zeros(label_spec.shape, label_spec.dtype), False)
        )
        return ok.concatenate(failed).take(1).map(lambda image, label, good: (name, image, label, good))

    mapped = dataset.interleave(
        attempt, cycle_length=tf.data.AUTOTUNE, block_length=1, num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )

    if skip_corrupt:

        def keep(name, image, label, good):
            if counter is None:
                return good

            def count():
                tf.print("Skipping corrupt or unreadable image:", name, output_stream=sys.stderr)
                counter.variable.assign_add(1)
                return False

            return tf.cond(good, lambda: True, count)

        mapped = mapped.filter(keep)

    def check(name, image, label, good):
        assertion = tf.debugging.Assert(good, ["Corrupt or unreadable image:", name], summarize=1)
        with tf.control_dependencies([assertion]):
            return tf.identity(image), label

    return mapped.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
