"""The offline stand-in for CIFAR: scikit-learn's 8x8 digits as 32x32 RGB images.

No download is needed, so the CIFAR recipes (Sec. 4.2; docs/paper.md, 'Recipes in the code') can run
anywhere. `load_digits()` gives 1797 8x8 images with values 0..16; they are scaled to 0..255 uint8,
upsampled 4x to 32x32 with bilinear interpolation (half-pixel centres, as `tf.image.resize`),
and replicated to 3 channels. The train/test split is a fixed, stratified 80/20 split.
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits_32", "DIGITS_TEST_FRACTION", "DIGITS_SPLIT_SEED"]

DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


def _bilinear_upsample(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of [N, h, w] float images to [N, size, size] with half-pixel centres."""
    n, h, w = images.shape

    def axis_weights(src: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(size) + 0.5) * src / size - 0.5
        pos = np.clip(pos, 0, src - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, src - 1)
        return lo, hi, pos - lo

    y0, y1, wy = axis_weights(h)
    x0, x1, wx = axis_weights(w)
    rows = images[:, y0, :] * (1 - wy)[None, :, None] + images[:, y1, :] * wy[None, :, None]
    return rows[:, :, x0] * (1 - wx)[None, None, :] + rows[:, :, x1] * wx[None, None, :]


def load_digits_32() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): uint8 [N, 32, 32, 3] images and int32 labels 0..9.

    1437 training and 360 test images; the same split on every call (stratified, seed 0).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float64) * (255.0 / 16.0)
    images = _bilinear_upsample(images, 32)
    images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    images = np.repeat(images[..., None], 3, axis=-1)
    labels = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SPLIT_SEED, stratify=labels
    )
    return x_train, y_train, x_test, y_test
