"""Test-time geometry (docs/paper.md, 'ImageNet testing (Sec. 3.4)'): exact resizes and crops.

- `resize_shorter_side`: the shorter side becomes exactly `side`, the other round(side * ratio).
- `center_crop`: the window at ((H - h) // 2, (W - w) // 2).
- `ten_crop`: from the image with shorter side 256, the 224 crops at the centre and the four
  corners, then the same five flipped horizontally: [10, 224, 224, 3].
- `multi_scale`: the image at shorter sides {224, 256, 384, 480, 640}, for a fully-convolutional net.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from keras_resnet_paper.validation import check_int

__all__ = [
    "TEST_SCALES",
    "shorter_side_size",
    "resize_shorter_side",
    "center_crop",
    "center_crop_window",
    "ten_crop",
    "multi_scale",
]

TEST_SCALES = (224, 256, 384, 480, 640)  # Sec. 3.4, multi-scale fully-convolutional testing


def _check_size(name: str, value) -> None:
    if tf.is_tensor(value):  # checked by the resize op itself
        return
    check_int(name, value, minimum=1)


def shorter_side_size(shape, side: int) -> tf.Tensor:
    """[new_h, new_w] with min(new_h, new_w) == side exactly and the aspect ratio kept (rounded)."""
    height = tf.cast(shape[0], tf.float64)
    width = tf.cast(shape[1], tf.float64)
    side = tf.cast(side, tf.float64)
    scale = side / tf.minimum(height, width)
    new_h = tf.where(height <= width, side, tf.round(height * scale))
    new_w = tf.where(height <= width, tf.round(width * scale), side)
    return tf.cast(tf.stack([new_h, new_w]), tf.int32)


def resize_shorter_side(image: tf.Tensor, side: int, antialias: bool = True) -> tf.Tensor:
    """Bilinear resize of [H, W, C] (or [N, H, W, C]) so the shorter side is `side`; float32."""
    _check_size("side", side)
    shape = tf.shape(image)[-3:-1]
    return tf.image.resize(image, shorter_side_size(shape, side), method="bilinear", antialias=antialias)


def center_crop_window(shape, crop_size: int, resize_side: int | None = None) -> tf.Tensor:
    """[y, x, h, w] in source pixels of the centre crop_size crop of the image resized to shorter
    side `resize_side` (of the image itself when None)."""
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    scale = 1.0 if resize_side is None else resize_side / tf.minimum(height, width)
    size = tf.cast(tf.round(crop_size / scale), tf.int32)
    win_h = tf.minimum(size, tf.cast(shape[0], tf.int32))
    win_w = tf.minimum(size, tf.cast(shape[1], tf.int32))
    return tf.stack(
        [(tf.cast(shape[0], tf.int32) - win_h) // 2, (tf.cast(shape[1], tf.int32) - win_w) // 2, win_h, win_w]
    )


def center_crop(image: tf.Tensor, crop_size: int) -> tf.Tensor:
    """The crop_size x crop_size centre crop of an [H, W, C] image (H, W >= crop_size)."""
    _check_size("crop_size", crop_size)
    shape = tf.shape(image)
    tf.debugging.assert_greater_equal(tf.reduce_min(shape[:2]), crop_size, message="image smaller than the crop")
    top, left = (shape[0] - crop_size) // 2, (shape[1] - crop_size) // 2
    return image[top : top + crop_size, left : left + crop_size]


def ten_crop(image: tf.Tensor, crop_size: int = 224, resize_side: int | None = 256) -> tf.Tensor:
    """The 10 crops of Sec. 3.4: centre, top-left, top-right, bottom-left, bottom-right, then their
    horizontal flips, of the image resized to shorter side `resize_side` (None: as given).

    Returns [10, crop_size, crop_size, C] float32.
    """
    _check_size("crop_size", crop_size)
    if resize_side is not None:
        _check_size("resize_side", resize_side)
        if resize_side < crop_size:
            raise ValueError(f"resize_side={resize_side} must be >= crop_size={crop_size}.")
        image = resize_shorter_side(image, resize_side)
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    bottom, right = shape[0] - crop_size, shape[1] - crop_size
    corners = [(bottom // 2, right // 2), (0, 0), (0, right), (bottom, 0), (bottom, right)]
    crops = [image[y : y + crop_size, x : x + crop_size] for y, x in corners]
    crops = tf.stack(crops)
    return tf.concat([crops, tf.reverse(crops, axis=[2])], axis=0)


def multi_scale(image: tf.Tensor, scales: Sequence[int] = TEST_SCALES) -> tuple[tf.Tensor, ...]:
    """The image resized to each shorter side in `scales` (Sec. 3.4), float32 [H_s, W_s, C] each."""
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__") or not tuple(scales):
        raise ValueError(f"scales={scales!r} must name at least one shorter side, e.g. {TEST_SCALES}.")
    return tuple(resize_shorter_side(image, check_int(f"scales[{i}]", s, minimum=1)) for i, s in enumerate(scales))
