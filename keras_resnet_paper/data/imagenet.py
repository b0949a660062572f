"""ImageNet-style input pipelines (docs/paper.md, 'ImageNet training (Sec. 3.4)').

Training ("paper"): scale augmentation (shorter side uniform in [256, 480]) and a random 224x224
crop, decoded straight from the crop window of the JPEG; random horizontal flip; AlexNet PCA
lighting; mean subtraction (per-channel, or the per-pixel mean image of `mean_image`).
"inception" replaces the first step with the random-resized crop of later recipes.
Validation: shorter side 256, centre 224 crop. `ImageData.validation_images` gives the decoded
full images for `evaluation.evaluate_ten_crop` / `evaluate_multi_scale`.

`preprocessing=` (a `keras_resnet_paper.weights.Preprocessing`, "caffe"/"torch", or a model built
with pretrained weights) feeds pretrained weights their own convention instead of the mean: its
colour order, mean and std in both pipelines, and its resize side and crop size at validation.

Resizing is bilinear; at test time with antialiasing (as PIL), in training without it (the
crop window is at most about twice the output, and it is the costliest step after decoding).
Each training example's crop, flip and lighting come from stateless ops seeded by (seed, worker,
position in the stream): with deterministic=True the stream is the same on every run.

    data = imagenet_datasets("imagenet2012", batch_size=256, data_dir="~/tfds", seed=0)
    data = imagenet_datasets("/data/imagenet/tfrecords", label_offset=-1, num_classes=1000)
    data = imagenet_datasets("/data/my_photos")          # class subfolders
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from keras_resnet_paper.data.augment import (
    example_seed,
    inception_crop_window,
    lighting_offset,
    random_flip,
    scale_augmentation_window,
    split_seed,
)
from keras_resnet_paper.data.augmentations import AUGMENTATIONS, SCALE_RANGE
from keras_resnet_paper.data.crops import center_crop, center_crop_window, resize_shorter_side
from keras_resnet_paper.data.decode import CorruptCounter, decode_rgb, decode_window, guarded_map
from keras_resnet_paper.data.pipeline import base_seed, resolve_seed, with_options
from keras_resnet_paper.data.sources import loader, make_source
from keras_resnet_paper.validation import ArgumentTypeError, check_bool, check_choice, check_finite_array, check_int
from keras_resnet_paper.weights.conventions import Preprocessing, as_preprocessing

__all__ = ["ImageData", "imagenet_datasets", "mean_image", "IMAGENET_CHANNEL_MEAN", "TRAIN_AUGMENTATIONS"]

TRAIN_AUGMENTATIONS = AUGMENTATIONS
MEAN_MODES = ("channel", "pixel")
# RGB mean of the ImageNet training set on the 0..255 scale (the usual constants).
IMAGENET_CHANNEL_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
EVAL_SIDE = 256  # Sec. 3.4: test crops come from the image with shorter side 256


@dataclasses.dataclass
class ImageData:
    """What `imagenet_datasets` returns; see docs/CONTRACTS.md ("Data, ImageNet side")."""

    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    num_classes: int
    train_size: int
    mean: np.ndarray
    validation_images: tf.data.Dataset | None = None
    corrupt: CorruptCounter | None = None
    preprocessing: Preprocessing | None = None
    excluded_files: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def test(self) -> tf.data.Dataset | None:
        """The set final errors are reported on: the validation set (the paper reports ImageNet
        results on it, Sec. 3.4; the test labels are not public)."""
        return self.validation

    @property
    def augmentation(self):
        """No on-device augmentation layer: ImageNet-style augmentation runs in the input pipeline."""
        return None

    @property
    def skipped(self) -> int:
        """Files skipped so far (always 0 unless skip_corrupt=True): the entries the source left out
        when listing (`excluded_files`, once each) plus the corrupt files met (each time met)."""
        return len(self.excluded_files) + (0 if self.corrupt is None else self.corrupt.count)

    @property
    def skipped_files(self) -> dict[str, int]:
        """{file name: times skipped}: `excluded_files` once each, corrupt files each time met."""
        corrupt = {} if self.corrupt is None else self.corrupt.files
        return {**dict.fromkeys(self.excluded_files, 1), **corrupt}


def add_per_channel(image: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    """`image + values` for an [h, w, 3] image and 3 per-channel values.

    Added as a [h, w*3] matrix plus the values tiled along a row: a broadcast whose innermost
    dimension is w*3 rather than 3, about 6x faster on a CPU than `tf.nn.bias_add` or `+`.
    """
    shape = tf.shape(image)
    rows = tf.reshape(image, [shape[0], shape[1] * 3]) + tf.tile(values, [shape[1]])
    return tf.reshape(rows, shape)


def _eval_crop(encoded, image_size: int, eval_side: int) -> tf.Tensor:
    """Sec. 3.4 single-crop test view: shorter side `eval_side`, centre image_size crop; float32."""
    return center_crop(resize_shorter_side(decode_rgb(encoded), eval_side), image_size)


def mean_image(
    source,
    *,
    image_size: int = 224,
    eval_side: int = EVAL_SIDE,
    max_images: int | None = 10000,
    data_dir: str | None = None,
    label_offset: int = 0,
    skip_corrupt: bool = False,
) -> np.ndarray:
    """The per-pixel mean image (Sec. 3.4) of a source's training images, image_size^2 x 3 float32.

    Each image is seen as at test time (shorter side `eval_side`, centre crop); the first
    `max_images` in file order (None: all of them); corrupt files fail or, with `skip_corrupt`,
    are left out.
    """
    check_int("image_size", image_size, minimum=1)
    check_int("eval_side", eval_side, minimum=image_size)
    check_int("max_images", max_images, minimum=1, allow_none=True)
    check_bool("skip_corrupt", skip_corrupt)
    source = make_source(source, data_dir=data_dir, label_offset=label_offset, skip_corrupt=skip_corrupt)
    records = source.records("train", shuffle=False)
    if max_images is not None:
        records = records.take(max_images)
    load = loader(source)

    def crop(number, payload, label):
        encoded, label = load(payload, label)
        return _eval_crop(encoded, image_size, eval_side), label

    images = guarded_map(records, crop, skip_corrupt=skip_corrupt)
    total, count = tf.zeros([image_size, image_size, 3], tf.float64), 0
    for batch, _ in images.batch(64):
        total += tf.reduce_sum(tf.cast(batch, tf.float64), axis=0)
        count += int(batch.shape[0])
    if count == 0:
        raise ValueError("mean_image: the source has no training images.")
    return (total / count).numpy().astype(np.float32)


def _resolve_mean(mean, source, source_arg, image_size, eval_side, skip_corrupt) -> np.ndarray:
    if isinstance(mean, str):
        if mean not in MEAN_MODES:
            raise ValueError(f"mean={mean!r} is not allowed; use 'channel', 'pixel' or an array.")
        if mean == "channel" and source_arg == "imagenet2012":
            return IMAGENET_CHANNEL_MEAN.copy()
        pixel = mean_image(source, image_size=image_size, eval_side=eval_side, skip_corrupt=skip_corrupt)
        return pixel if mean == "pixel" else pixel.mean(axis=(0, 1)).astype(np.float32)
    array = check_finite_array("mean", mean)
    if array.shape not in ((3,), (image_size, image_size, 3)):
        raise ValueError(f"mean array must have shape (3,) or ({image_size}, {image_size}, 3); got {array.shape}.")
    return array


def _check_options(batch_size, augment, lighting, deterministic, skip_corrupt, shuffle_buffer, eval_batch_size) -> None:
    """`imagenet_datasets`' plain options, checked where they enter (see `validation`)."""
    check_int("batch_size", batch_size, minimum=1)
    check_choice("augment", augment, TRAIN_AUGMENTATIONS)
    for flag, value in (("lighting", lighting), ("deterministic", deterministic), ("skip_corrupt", skip_corrupt)):
        check_bool(flag, value)
    check_int("shuffle_buffer", shuffle_buffer, minimum=1)
    check_int("eval_batch_size", eval_batch_size, minimum=1, allow_none=True)


def _check_scale_range(scale_range) -> tuple[int, int]:
    """(min_side, max_side) of the scale augmentation: two positive ints, the smaller first."""
    try:
        low, high = scale_range
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"scale_range={scale_range!r} must be two ints (shorter side min, max), e.g. {SCALE_RANGE}."
        ) from None
    low, high = check_int("scale_range[0]", low, minimum=1), check_int("scale_range[1]", high, minimum=1)
    if low > high:
        raise ValueError(f"scale_range={scale_range!r} must be ordered (min, max), e.g. {SCALE_RANGE}.")
    return low, high


def _release_convention(preprocessing, mean, image_size, eval_side):
    """(Preprocessing, image_size, eval_side) with the sizes taken from it where not given."""
    prep = as_preprocessing(preprocessing)
    if mean is not None:
        raise ValueError(
            f"mean={mean!r} and preprocessing={prep.name!r}: give one; the preprocessing "
            "holds the mean the weights were trained with."
        )
    if prep.interpolation != "bilinear":
        raise ValueError(
            f"preprocessing {prep.name!r} resizes with {prep.interpolation!r}; the pipelines resize bilinearly."
        )
    return prep, image_size or prep.crop_size, eval_side or prep.resize_side


def _convention_ops(prep: Preprocessing | None):
    """The gain and channel flip that follow the mean subtraction (identity without `prep`)."""
    if prep is None:
        return lambda image: image
    gain = tf.constant(prep.rgb_gain())
    unit = bool(np.all(prep.rgb_gain() == 1))
    flip = prep.color_order == "BGR"

    def finish(image):
        image = image if unit else image * gain
        return tf.reverse(image, axis=[-1]) if flip else image

    return finish


def _validation_sets(
    src, input_context, normalise, image_size: int, eval_side: int, batch_size: int, guard: dict
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """(validation batches of the Sec. 3.4 single-crop view, `normalise`d; the decoded full images
    for 10-crop and multi-scale testing), both guarded as `guard` says (`decode.guarded_map`);
    (None, None) for a source without a validation split."""
    if not src.has_validation:
        return None, None
    load = loader(src)

    def eval_example(number, payload, label):
        encoded, label = load(payload, label)
        crop = normalise(_eval_crop(encoded, image_size, eval_side))
        return tf.ensure_shape(crop, [image_size, image_size, 3]), label

    def full_image(number, payload, label):
        encoded, label = load(payload, label)
        return decode_rgb(encoded), label

    src.size("validation")  # counted once: TFRecord shards are read through, a damaged one is named here
    records = src.records("validation", shuffle=False, input_context=input_context)
    validation = guarded_map(records, eval_example, **guard).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    images = guarded_map(records, full_image, **guard)
    return with_options(validation, deterministic=True), with_options(images, deterministic=True)


def _train_set(src, example, seed, input_context, shuffle_buffer: int, per_replica: int, guard: dict):
    """The endless training stream of Sec. 3.4: this worker's records, shuffled, each made into
    its `example` view (guarded as `guard` says), batched per replica."""
    train = src.records("train", shuffle=True, seed=seed, input_context=input_context)
    train = train.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    train = guarded_map(train, example, repeat=True, **guard)
    train = train.batch(per_replica, drop_remainder=True, num_parallel_calls=tf.data.AUTOTUNE)
    return train.prefetch(tf.data.AUTOTUNE)


def _minus_mean(image, mean_t, per_channel_mean: bool, offset=None):
    """`image` minus the mean (per channel or a mean image) plus a lighting `offset`, in one pass."""
    offset = tf.zeros([3]) if offset is None else offset
    if per_channel_mean:
        return add_per_channel(image, offset - mean_t)
    return image - add_per_channel(mean_t, -offset)


def _train_example(load, stream_seed, augment, lighting, image_size, eval_side, scale_range, normalise):
    """The training view of one record (Sec. 3.4): its own seeds from its index, a crop window
    (scale augmentation, Inception-style, or the centre), flip, lighting, resize, `normalise`."""
    min_side, max_side = scale_range

    def window_for(crop_seed):
        if augment == "paper":
            return lambda shape: scale_augmentation_window(shape, crop_seed, min_side, max_side, image_size)[0]
        if augment == "inception":
            return lambda shape: inception_crop_window(shape, crop_seed)
        return lambda shape: center_crop_window(shape, image_size, eval_side)

    def example(index, payload, label):
        encoded, label = load(payload, label)
        crop_seed, flip_seed, light_seed = split_seed(example_seed(stream_seed, index), 3)
        image = decode_window(encoded, window_for(crop_seed))
        offset = tf.zeros([3])
        if augment != "none":
            image = random_flip(image, flip_seed)  # on the uint8 window: the cheapest place
            if lighting:
                offset = lighting_offset(light_seed)
        image = tf.image.resize(image, [image_size, image_size], method="bilinear")
        return tf.ensure_shape(normalise(image, offset), [image_size, image_size, 3]), label

    return example


def _geometry(preprocessing, mean, image_size, eval_side, scale_range):
    """(the weights' convention or None, crop size, evaluation side, scale range), checked: the
    crop fits both the smallest training side and the evaluation side."""
    scale_range = _check_scale_range(scale_range)
    prep = None
    if preprocessing is not None:
        prep, image_size, eval_side = _release_convention(preprocessing, mean, image_size, eval_side)
    image_size = check_int("image_size", image_size, minimum=1, allow_none=True) or 224
    eval_side = check_int("eval_side", eval_side, minimum=1, allow_none=True) or EVAL_SIDE
    if image_size > min(scale_range[0], eval_side):
        raise ValueError(
            f"image_size={image_size!r} must be a positive int no larger than scale_range[0]={scale_range[0]} "
            f"and eval_side={eval_side}."
        )
    return prep, image_size, eval_side, scale_range


def _normaliser(mean_array: np.ndarray, prep):
    """image (, offset of its crop in a per-pixel mean) -> the mean subtracted, then the weights'
    convention `prep`: the same normalisation for training and validation images."""
    mean_t, per_channel, finish = tf.constant(mean_array), mean_array.shape == (3,), _convention_ops(prep)

    def normalise(image, offset=None):
        return finish(_minus_mean(image, mean_t, per_channel, offset))

    return normalise


def imagenet_datasets(
    source="imagenet2012",
    batch_size: int = 256,
    *,
    image_size: int | None = None,
    augment: str = "paper",
    mean=None,
    preprocessing=None,
    lighting: bool = True,
    seed: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    deterministic: bool = False,
    data_dir: str | None = None,
    skip_corrupt: bool = False,
    label_offset: int = 0,
    num_classes: int | None = None,
    manual_dir: str | None = None,
    scale_range: tuple[int, int] = SCALE_RANGE,
    eval_side: int | None = None,
    shuffle_buffer: int = 8192,
    eval_batch_size: int | None = None,
) -> ImageData:
    """ImageNet-style pipelines of Sec. 3.4 for a tfds name, TFRecord pattern or image folder.

    `batch_size` is the global batch; with an `input_context` each worker reads its shard and
    batches `input_context.get_per_replica_batch_size(batch_size)`. `mean`: "channel" (the
    default: the usual ImageNet RGB means for imagenet2012, else computed from the source),
    "pixel" (`mean_image`) or an array. `preprocessing` instead: the convention of pretrained
    weights (see the module docstring); `image_size` and `eval_side` default to its crop size and
    resize side (else 224 and 256). A corrupt file stops iteration with an error naming it, or
    with `skip_corrupt` is skipped and counted in `ImageData.skipped`; so is a folder entry that
    is not an image of a class folder (`sources.FolderSource`). A pass over the data without one
    readable image is an error. EXIF orientation is ignored (`decode`). `label_offset` applies to
    TFRecord shards only; `num_classes` must agree with a folder's or tfds set's own.
    """
    _check_options(batch_size, augment, lighting, deterministic, skip_corrupt, shuffle_buffer, eval_batch_size)
    prep, image_size, eval_side, scale_range = _geometry(preprocessing, mean, image_size, eval_side, scale_range)
    seed = resolve_seed(seed)
    src = make_source(
        source, data_dir=data_dir, manual_dir=manual_dir, label_offset=label_offset, num_classes=num_classes,
        skip_corrupt=skip_corrupt,
    )  # fmt: skip
    wanted = prep.rgb_mean() if prep is not None else ("channel" if mean is None else mean)
    mean_array = _resolve_mean(wanted, src, source, image_size, eval_side, skip_corrupt)
    normalise = _normaliser(mean_array, prep)
    per_replica = input_context.get_per_replica_batch_size(batch_size) if input_context else batch_size
    guard = dict(skip_corrupt=skip_corrupt, counter=CorruptCounter() if skip_corrupt else None)
    example = _train_example(
        loader(src), base_seed(seed, input_context), augment, lighting, image_size, eval_side, scale_range, normalise
    )
    train = _train_set(src, example, seed, input_context, shuffle_buffer, per_replica, guard)
    validation, validation_images = _validation_sets(
        src, input_context, normalise, image_size, eval_side, eval_batch_size or per_replica, guard
    )

    return ImageData(
        train=with_options(train, deterministic), validation=validation, num_classes=int(src.num_classes),
        train_size=src.size("train"), mean=mean_array, validation_images=validation_images,
        corrupt=guard["counter"], preprocessing=prep, excluded_files=dict(getattr(src, "excluded", {})),
    )  # fmt: skip
