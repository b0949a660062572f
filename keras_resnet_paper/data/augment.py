"""Data augmentation of the paper, as stateless random ops with per-example seeds.

Every random choice takes an explicit `seed` (a shape-[2] int tensor). Pipelines derive each
example's seed from the user's seed and the example's index in the stream (`example_seed`), so the
augmentation of example i is the same whatever the parallelism or the order the workers finish in.

- CIFAR (docs/paper.md, 'CIFAR-10 training'): pad 4 pixels each side, random 32x32 crop, random
  horizontal flip: `pad_crop_flip` on the host, `PadCropFlip` (a Keras layer on any backend, in
  `augment_layers`, re-exported here) on the accelerator.
- ImageNet (docs/paper.md, 'ImageNet training (Sec. 3.4)'): scale augmentation (shorter side uniform in
  [256, 480], random 224x224 crop) as a crop window in source pixels (`scale_augmentation_window`),
  so a JPEG is decoded only inside the window; the Inception-style random-resized crop
  (`inception_crop_window`); `random_flip`; AlexNet PCA `lighting` noise.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_resnet_paper.data.augment_layers import PadCropFlip

__all__ = [
    "LIGHTING_EIGVAL",
    "LIGHTING_EIGVEC",
    "LIGHTING_ALPHA_STD",
    "PadCropFlip",
    "example_seed",
    "split_seed",
    "pad_crop_flip",
    "random_flip",
    "lighting",
    "lighting_offset",
    "scale_augmentation_window",
    "inception_crop_window",
]

# docs/paper.md, 'Data augmentation details': fb.resnet.torch constants, RGB on the 0..255 scale.
LIGHTING_ALPHA_STD = 0.1
LIGHTING_EIGVAL = np.array([0.2175, 0.0188, 0.0045], np.float32) * 255.0
LIGHTING_EIGVEC = np.array(
    [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]], np.float32
)


def example_seed(base_seed, index) -> tf.Tensor:
    """The seed of the example at `index` of a stream seeded with `base_seed` (shape [2])."""
    base = tf.cast(tf.convert_to_tensor(base_seed), tf.int64)
    return tf.random.experimental.stateless_fold_in(base, tf.cast(index, tf.int64))


def split_seed(seed, num: int) -> list[tf.Tensor]:
    """`num` independent seeds from one (one per random decision of an example)."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=num)
    return [seeds[i] for i in range(num)]


def random_flip(image: tf.Tensor, seed) -> tf.Tensor:
    """Horizontal flip with probability 1/2 of an [H, W, C] image."""
    flip = tf.random.stateless_uniform([], seed) < 0.5
    return tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: image)


def pad_crop_flip(image: tf.Tensor, seed, padding: int = 4) -> tf.Tensor:
    """CIFAR augmentation (Sec. 4.2) of one [H, W, C] image: zero-pad, random HxW crop, random flip.

    Apply it to mean-subtracted images, so the padding is the mean colour, as `PadCropFlip` does.
    """
    crop_seed, flip_seed = split_seed(seed, 2)
    shape = tf.shape(image)
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    offsets = tf.random.stateless_uniform([2], crop_seed, 0, 2 * padding + 1, dtype=tf.int32)
    cropped = tf.slice(padded, tf.stack([offsets[0], offsets[1], 0]), shape)
    return random_flip(cropped, flip_seed)


def lighting_offset(seed, alpha_std: float = LIGHTING_ALPHA_STD) -> tf.Tensor:
    """The RGB offset [3] of AlexNet PCA lighting: eigvec . (alpha * eigval), alpha ~ N(0, alpha_std)."""
    alpha = tf.random.stateless_normal([3], seed, stddev=alpha_std)
    return tf.linalg.matvec(tf.constant(LIGHTING_EIGVEC), alpha * tf.constant(LIGHTING_EIGVAL))


def lighting(image: tf.Tensor, seed, alpha_std: float = LIGHTING_ALPHA_STD) -> tf.Tensor:
    """AlexNet PCA lighting noise (Sec. 3.4 "standard color augmentation") on RGB 0..255 images.

    One `lighting_offset` added to every pixel; returns float32.
    """
    return tf.cast(image, tf.float32) + lighting_offset(seed, alpha_std)


def scale_augmentation_window(
    shape, seed, min_side: int = 256, max_side: int = 480, crop_size: int = 224
) -> tuple[tf.Tensor, tf.Tensor]:
    """Scale augmentation (Sec. 3.4) as a crop window in the source image.

    Samples the resized shorter side S uniformly in [min_side, max_side] and a crop_size x crop_size
    crop position in the image resized to shorter side S, and returns (window, S) where window is
    [y, x, h, w] in source pixels. Resizing that window to crop_size x crop_size equals resizing the
    whole image and then cropping, up to rounding the window to whole source pixels.
    """
    if not 0 < crop_size <= min_side <= max_side:
        raise ValueError(
            f"scale augmentation needs 0 < crop_size <= min_side <= max_side; got crop_size={crop_size}, "
            f"min_side={min_side}, max_side={max_side}."
        )
    side_seed, crop_seed = split_seed(seed, 2)
    height = tf.cast(shape[0], tf.float32)
    width = tf.cast(shape[1], tf.float32)
    side = tf.random.stateless_uniform([], side_seed, min_side, max_side + 1, dtype=tf.int32)
    scale = tf.cast(side, tf.float32) / tf.minimum(height, width)
    new_h, new_w = tf.round(height * scale), tf.round(width * scale)
    u = tf.random.stateless_uniform([2], crop_seed)
    top = tf.floor(u[0] * (new_h - crop_size + 1))
    left = tf.floor(u[1] * (new_w - crop_size + 1))
    win = tf.cast(tf.round(crop_size / scale), tf.int32)
    win_h = tf.clip_by_value(win, 1, tf.cast(shape[0], tf.int32))
    win_w = tf.clip_by_value(win, 1, tf.cast(shape[1], tf.int32))
    y = tf.minimum(tf.cast(tf.round(top / scale), tf.int32), tf.cast(shape[0], tf.int32) - win_h)
    x = tf.minimum(tf.cast(tf.round(left / scale), tf.int32), tf.cast(shape[1], tf.int32) - win_w)
    return tf.stack([y, x, win_h, win_w]), side


def inception_crop_window(
    shape, seed, area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3), max_attempts: int = 10
) -> tf.Tensor:
    """The Inception-style random-resized crop of later recipes: window [y, x, h, w] in source pixels.

    A random area fraction in `area_range` and aspect ratio in `aspect_ratio_range`; the whole
    image if no window fits after `max_attempts`. The window is then resized to a square.
    """
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.cast(tf.stack([shape[0], shape[1], 3]), tf.int32),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=tf.cast(seed, tf.int64),
        min_object_covered=area_range[0],
        aspect_ratio_range=aspect_ratio_range,
        area_range=area_range,
        max_attempts=max_attempts,
        use_image_if_no_bounding_boxes=True,
    )
    return tf.stack([begin[0], begin[1], size[0], size[1]])
