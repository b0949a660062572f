"""Decoding real-world image files to RGB, with the fused JPEG decode-and-crop.

ImageNet holds CMYK JPEGs, PNGs named .jpg and grayscale images: everything decodes to 3-channel
RGB uint8 by content, not by file name. `decode_window` decodes only the crop window of a JPEG
(`tf.image.extract_jpeg_shape` + `tf.image.decode_and_crop_jpeg`), the fast path of the training
pipeline (docs/paper.md, 'ImageNet training (Sec. 3.4)'). `guarded_map` turns a corrupt file into an error
that names it, or skips and counts it; a whole pass over the data without one readable image is
an error, never an endless search.

Formats: JPEG (RGB, CMYK, grayscale), PNG, GIF (first frame), BMP, and still WebP (lossy or
lossless, its alpha channel dropped as PIL's ``convert("RGB")`` does) with TensorFlow versions
whose decoder reads WebP (``tf.io.decode_webp`` exists; 2.21 does). An animated WebP, or any WebP
where TensorFlow cannot read it, is an unreadable file (named, or skipped and counted).

EXIF orientation is ignored: pixels are used in the order they are stored, as TensorFlow's
decoders (and the ImageNet pipelines of the paper's era) read them. A photo whose camera stored
it sideways with an EXIF "rotate" tag is trained on sideways; rotate such files on disk first
(e.g. PIL's ``ImageOps.exif_transpose``) if that matters.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import tensorflow as tf

__all__ = [
    "decode_rgb",
    "decode_window",
    "guarded_map",
    "CorruptCounter",
    "corrupt_data_message",
    "CorruptDataError",
    "readable_data_errors",
]

#: The first words of the pipeline's assertions, which reach the caller inside TensorFlow's
#: InvalidArgumentError (tf.data cannot raise a Python exception of ours).
CORRUPT_IMAGE = "Corrupt or unreadable image (or a label out of range):"
NO_READABLE_IMAGE = "No readable image in a whole pass over the data:"


def corrupt_data_message(error: BaseException) -> str | None:
    """The readable sentence of a guarded pipeline's failure (`guarded_map`), or None when `error`
    is something else: e.g. "Corrupt or unreadable image (or a label out of range): a.jpg"."""
    text = str(error)
    starts = [i for i in (text.find(CORRUPT_IMAGE), text.find(NO_READABLE_IMAGE)) if i >= 0]
    if not starts:
        return None
    line = text[min(starts) :].split("\n", 1)[0]
    return " ".join(line.replace("] [", " ").strip("[] ").replace("] ", " ").split()).replace(" )", ")")


class CorruptDataError(ValueError):
    """A data file the input pipeline could not read (raised by `readable_data_errors`)."""


@contextlib.contextmanager
def readable_data_errors() -> Iterator[None]:
    """Turn a guarded pipeline's failure, which reaches the caller as TensorFlow's
    InvalidArgumentError from inside tf.data, into a `CorruptDataError` with its readable sentence."""
    try:
        yield
    except tf.errors.InvalidArgumentError as err:
        message = corrupt_data_message(err)
        if message is None:
            raise
        if message.startswith(CORRUPT_IMAGE):
            message += "; fix or remove it, or skip and count such files (skip_corrupt=True, --skip_corrupt)"
        raise CorruptDataError(message) from None


Window = Callable[[tf.Tensor], tf.Tensor]


_WEBP_HEADER = 21  # "RIFF", size, "WEBP", "VP8X", chunk size, flags byte (bit 1: animation)


def _webp_kind(encoded: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(is a WebP file, is an animated WebP) from the first 21 bytes of `encoded`."""
    head = tf.strings.substr(
        tf.strings.join([tf.strings.substr(encoded, 0, _WEBP_HEADER), "\0" * _WEBP_HEADER]), 0, _WEBP_HEADER
    )
    head = tf.io.decode_raw(head, tf.uint8)

    def bytes_are(start: int, text: bytes) -> tf.Tensor:
        return tf.reduce_all(tf.equal(head[start : start + len(text)], tf.constant(list(text), tf.uint8)))

    is_webp = tf.logical_and(bytes_are(0, b"RIFF"), bytes_are(8, b"WEBP"))
    animated = tf.logical_and(bytes_are(12, b"VP8X"), tf.bitwise.bitwise_and(head[20], 2) > 0)
    return is_webp, tf.logical_and(is_webp, animated)


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """Any JPEG (RGB, CMYK, grayscale), PNG, GIF (first frame), BMP or still WebP as uint8 [H, W, 3].

    A still WebP's alpha channel is dropped; an animated WebP is an InvalidArgumentError (as a
    corrupt file). EXIF orientation is not applied (see the module docstring).
    """
    is_webp, animated = _webp_kind(encoded)

    def webp():  # channels=3 refuses WebPs with alpha: decode as stored, keep RGB
        readable = tf.debugging.Assert(tf.logical_not(animated), ["An animated WebP is not read."])
        with tf.control_dependencies([readable]):
            image = tf.io.decode_image(encoded, channels=0, dtype=tf.uint8, expand_animations=False)
        return image[..., :3]

    def other():
        return tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)

    image = tf.cond(is_webp, webp, other)
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
    """Corrupt files a pipeline skipped (with `skip_corrupt=True`): `.count` and `.files`.

    A lookup table (a resource, so it works outside and inside distribution strategies) from file
    name to the number of times it was skipped; one each time the stream meets it.
    """

    UNNAMED = "<unnamed>"

    def __init__(self):
        with tf.init_scope(), tf.device("/cpu:0"):
            self.table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=0)

    def add(self, names: tf.Tensor, unnamed: tf.Tensor) -> tf.Tensor:
        """Count one skip for each of `names` and `unnamed` skips whose names are unknown."""
        keys = tf.concat([names, [self.UNNAMED]], axis=0)
        increments = tf.concat([tf.ones_like(names, tf.int64), tf.reshape(tf.cast(unnamed, tf.int64), [1])], axis=0)
        return self.table.insert(keys, self.table.lookup(keys) + increments)

    @property
    def files(self) -> dict[str, int]:
        keys, values = self.table.export()
        return {k.decode(): int(v) for k, v in zip(keys.numpy(), values.numpy()) if v > 0}

    @property
    def count(self) -> int:
        return sum(self.files.values())


_END = "\x00end-of-stream"


def _report_missing(names: tf.Tensor, missing: tf.Tensor, history: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(known names, how many are known, their report line) of the `missing` elements just before
    an element whose ring of the last `history` names is `names`."""
    known = tf.minimum(missing, history - 1)
    names = names[history - 1 - known : history - 1]
    report = tf.strings.reduce_join(names, separator=", ")
    report = tf.cond(missing > known, lambda: tf.strings.join([report, " and earlier ones"]), lambda: report)
    return names, known, report


def _account(missing, names, known, report, skip_corrupt: bool, counter: CorruptCounter | None) -> tf.Tensor:
    """Report (and count) the `missing` elements, or fail naming them without `skip_corrupt`."""
    if not skip_corrupt:
        return tf.debugging.Assert(missing == 0, [CORRUPT_IMAGE, report], summarize=1)

    def count():
        tf.print("Skipping corrupt or unreadable image(s):", report, output_stream=sys.stderr)
        if counter is not None:
            with tf.control_dependencies([counter.add(names, missing - known)]):
                return tf.constant(0)
        return tf.constant(0)

    return tf.cond(missing > 0, count, lambda: tf.constant(0))


def _checker(history: int, skip_corrupt: bool, counter: CorruptCounter | None) -> Callable:
    """The sequential step after the parallel map: state (next number expected, readable elements
    in this pass); names (and counts, or fails on) the gap before each element and refuses a pass
    that ends (its marker) without one readable element."""

    def check(state, element):
        expected, readable = state
        number, name, ring, outputs = element
        missing = tf.cast(number - expected, tf.int32)
        names, known, report = _report_missing(ring, missing, history)
        done = _account(missing, names, known, report, skip_corrupt, counter)
        is_end = tf.equal(name, _END)
        hopeless = tf.logical_and(is_end, tf.equal(readable, 0))
        with tf.control_dependencies([done]):  # counted first, then refused
            some = tf.debugging.Assert(
                tf.logical_not(hopeless),
                [NO_READABLE_IMAGE + " every file is corrupt or unreadable (the last ones:", report, ")"],
                summarize=1,
            )
        with tf.control_dependencies([some]):
            outputs = tuple(tf.identity(t) for t in outputs)
        readable = tf.where(is_end, tf.constant(0, tf.int64), readable + 1)
        return (number + 1, readable), (name, outputs)

    return check


def guarded_map(
    dataset: tf.data.Dataset,
    fn: Callable,
    *,
    skip_corrupt: bool,
    counter: CorruptCounter | None = None,
    history: int = 16,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Map `fn(number, *rest) -> tuple of tensors` over elements `(name, *rest)` in parallel.

    `number` is the element's position in the stream (0, 1, ...), e.g. for per-example seeds.
    An element whose `fn` fails (corrupt or unreadable file) raises InvalidArgumentError whose message
    names it ("Corrupt or unreadable image (or a label out of range): <name>"), or with `skip_corrupt` is dropped, counted in
    `counter` (each time it is met) and reported on stderr with its name. A whole pass over the
    (finite) `dataset` without one element that `fn` could read is an InvalidArgumentError
    ("No readable image ..."): never an endless search. `repeat`: the result repeats the finite
    `dataset` forever (each pass checked so).

    How: each pass ends with a marker; a sequential step numbers the elements and hands each the
    names of the last `history` ones; the parallel map keeps its order and drops failures
    (`ignore_errors`); a second sequential step sees the gap in the numbers, names what is missing,
    and at each marker checks that the pass yielded something.
    """
    if history < 1:
        raise ValueError(f"history must be >= 1; got {history}.")
    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError("guarded_map needs a finite dataset (one pass); use repeat=True to repeat it.")
    rest_specs = dataset.element_spec[1:]
    out_specs = dataset.map(lambda name, *rest: tuple(fn(tf.constant(0, tf.int64), *rest))).element_spec  # traced only
    blanks = tuple(tf.zeros([d if d is not None else 0 for d in s.shape], s.dtype) for s in out_specs)
    marker = (tf.constant(_END), *(tf.zeros(s.shape, s.dtype) for s in rest_specs))
    dataset = dataset.concatenate(tf.data.Dataset.from_tensors(marker))
    if repeat:
        dataset = dataset.repeat()

    def number_and_remember(state, element):
        number, ring = state
        name, *rest = element
        ring = tf.concat([ring[1:], tf.reshape(name, [1])], axis=0)
        return (number + 1, ring), (number, name, ring, tuple(rest))

    def apply(number, name, ring, rest):
        outputs = tf.cond(tf.equal(name, _END), lambda: blanks, lambda: tuple(fn(number, *rest)))
        return number, name, ring, tuple(outputs)

    start = (tf.constant(0, tf.int64), tf.fill([history], ""))
    mapped = (
        dataset.scan(start, number_and_remember)
        .map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .ignore_errors()
        .scan((tf.constant(0, tf.int64), tf.constant(0, tf.int64)), _checker(history, skip_corrupt, counter))
    )
    return _without_markers(mapped, repeat)


def _without_markers(mapped: tf.data.Dataset, repeat: bool) -> tf.data.Dataset:
    """The outputs of `guarded_map`'s checked stream, its end-of-pass markers dropped."""

    def not_marker(name, outputs):
        return tf.not_equal(name, _END)

    def outputs_only(name, outputs):
        return outputs

    mapped = mapped.filter(not_marker).map(outputs_only)
    if repeat:  # the filter hides it: tell tf.data and Keras that the stream never ends
        mapped = mapped.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))
    return mapped
