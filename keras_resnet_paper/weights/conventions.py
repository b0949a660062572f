"""The input convention a set of weights was trained with, as one record that applies itself.

A `Preprocessing` holds the colour order the weights expect, the scale, mean (per channel or a
per-pixel mean image) and std, and the test geometry of Sec. 3.4: the shorter side is resized to
``input_size / crop_pct`` (256; or ``resize_size`` where the source fixes it) and the centre
``input_size`` (224) is cropped. Pixels come in
as RGB on the 0..255 scale; the transform is ``(reorder(x) * scale - mean) / std`` with mean and
std given in the weights' own channel order.

- `CAFFE`: the authors' released Caffe models and keras.applications' copy of them: BGR, minus the
  per-channel ImageNet mean, no scaling (equal to `keras.applications.resnet.preprocess_input`).
- `TORCH`: torchvision's and timm's ResNets: RGB / 255, minus mean, divided by std.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

__all__ = [
    "Preprocessing",
    "CAFFE",
    "TORCH",
    "CONVENTIONS",
    "as_preprocessing",
    "mean_subtraction",
    "input_convention",
    "resize_and_center_crop",
]

COLOR_ORDERS = ("RGB", "BGR")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What a set of weights expects of its input images; call it on RGB images in [0, 255].

    `preprocessing(images)` resizes and centre-crops one image [H, W, 3] (or a batch of equal
    size) as at test time and normalises it; `normalize(x)` only normalises.
    """

    name: str
    color_order: str = "RGB"
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] | None = None
    input_size: tuple[int, int, int] = (224, 224, 3)
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    resize_size: int | None = None
    mean_image: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.color_order not in COLOR_ORDERS:
            raise ValueError(f"color_order={self.color_order!r}; allowed: {COLOR_ORDERS}.")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation={self.interpolation!r}; allowed: {INTERPOLATIONS}.")
        if self.resize_size is not None and self.resize_size < self.input_size[0]:
            raise ValueError(f"resize_size={self.resize_size!r} is smaller than the crop {self.input_size[0]}.")
        if not 0 < self.crop_pct <= 1:
            raise ValueError(f"crop_pct={self.crop_pct!r} must be in (0, 1].")
        if len(self.mean) != 3 or (self.std is not None and len(self.std) != 3):
            raise ValueError(f"mean={self.mean!r} and std={self.std!r} need 3 values (one per channel).")
        if self.mean_image is not None and np.shape(self.mean_image) != (*self.input_size[:2], 3):
            raise ValueError(
                f"mean_image has shape {np.shape(self.mean_image)}; expected "
                f"{(*self.input_size[:2], 3)} (the crop, in {self.color_order} order)."
            )

    @property
    def crop_size(self) -> int:
        """The side of the square test crop (224)."""
        return int(self.input_size[0])

    @property
    def resize_side(self) -> int:
        """The shorter side the image is resized to before the centre crop: `resize_size` where the
        weights' source fixes it (torchvision V2: 232, timm: floor(224 / crop_pct)), else
        round(crop_size / crop_pct) (256 for 224 / 0.875)."""
        return self.resize_size or int(round(self.crop_size / self.crop_pct))

    def channel_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(gain, offset), float32 [3] in the weights' channel order: normalised = reorder(x) * gain
        + offset. The mean image, if any, is not in it (see `normalize`)."""
        std = np.ones(3) if self.std is None else np.asarray(self.std, np.float64)
        mean = np.zeros(3) if self.mean_image is not None else np.asarray(self.mean, np.float64)
        return (self.scale / std).astype(np.float32), (-mean / std).astype(np.float32)

    def rgb_mean(self) -> np.ndarray:
        """The mean (3,) or mean image (h, w, 3) in RGB order on the 0..255 scale."""
        mean = np.asarray(self.mean if self.mean_image is None else self.mean_image, np.float64)
        mean = mean / self.scale
        return (mean[..., ::-1] if self.color_order == "BGR" else mean).astype(np.float32)

    def rgb_gain(self) -> np.ndarray:
        """scale / std in RGB order: normalised = reorder((x - rgb_mean()) * rgb_gain())."""
        std = np.ones(3) if self.std is None else np.asarray(self.std, np.float64)
        gain = self.scale / std
        return (gain[::-1] if self.color_order == "BGR" else gain).astype(np.float32)

    def normalize(self, images, data_format: str | None = None):
        """Normalise RGB pixels in [0, 255] (one image or a batch, NumPy or tensor), size unchanged.

        NumPy in, a new float32 NumPy array out (the input is not modified); a tensor in, a tensor
        out (TensorFlow tensors with TensorFlow ops, so it runs inside tf.data on any backend).
        """
        data_format = data_format or keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"data_format={data_format!r}; allowed: 'channels_last', 'channels_first'.")
        x, flip = _as_float32(images)
        ndim = len(x.shape)
        axis = ndim - 1 if data_format == "channels_last" else (0 if ndim == 3 else 1)
        if self.color_order == "BGR":
            x = flip(x, axis)
        shape = [1] * ndim
        shape[axis] = 3
        gain, offset = self.channel_affine()
        x = x * gain.reshape(shape) + offset.reshape(shape)
        if self.mean_image is not None:
            std = np.ones(3) if self.std is None else np.asarray(self.std, np.float64)
            image = (np.asarray(self.mean_image, np.float64) / std).astype(np.float32)
            x = x - (image if data_format == "channels_last" else np.moveaxis(image, -1, 0))
        return x

    def per_channel(self) -> Preprocessing:
        """The same convention with a mean image reduced to its per-channel mean (any input size)."""
        if self.mean_image is None:
            return self
        mean = np.asarray(self.mean_image, np.float64).mean(axis=(0, 1))
        return dataclasses.replace(self, mean=tuple(float(v) for v in mean), mean_image=None)

    def center_crop(self, images):
        """The test view of Sec. 3.4: shorter side to `resize_side`, centre `crop_size` crop."""
        return resize_and_center_crop(images, self.crop_size, self.crop_size / self.resize_side, self.interpolation)

    def __call__(self, images):
        """Resize, centre-crop and normalise RGB images in [0, 255]: model-ready float32."""
        return self.normalize(self.center_crop(images), "channels_last")


def _as_float32(x):
    """(float32 array or tensor, flip function) for NumPy, TensorFlow or other Keras tensors."""
    if isinstance(x, (np.ndarray, list, tuple)) or np.isscalar(x):
        return np.asarray(x, np.float32), np.flip
    tf = sys.modules.get("tensorflow")
    if tf is not None and tf.is_tensor(x):
        return tf.cast(x, tf.float32), lambda t, axis: tf.reverse(t, [axis])
    return keras.ops.cast(x, "float32"), lambda t, axis: keras.ops.flip(t, axis=axis)


def resize_and_center_crop(images, size: int = 224, crop_pct: float = 0.875, interpolation: str = "bilinear"):
    """Shorter side to size / crop_pct (256), centre size x size crop; float32, eager.

    Works on concrete arrays with keras.ops (any backend), with the geometry and the antialiased
    resize of the validation pipeline (`keras_resnet_paper.data`, Sec. 3.4 single crop).
    """
    images = keras.ops.convert_to_tensor(images)
    squeeze = len(images.shape) == 3
    if squeeze:
        images = images[None]
    h, w = int(images.shape[1]), int(images.shape[2])
    scale = (size / crop_pct) / min(h, w)
    new_h, new_w = max(size, int(round(h * scale))), max(size, int(round(w * scale)))
    images = keras.ops.image.resize(
        keras.ops.cast(images, "float32"), (new_h, new_w), interpolation=interpolation, antialias=True
    )
    top, left = (new_h - size) // 2, (new_w - size) // 2
    images = images[:, top : top + size, left : left + size, :]
    return images[0] if squeeze else images


#: The authors' Caffe models (and keras.applications' conversion of them).
CAFFE = Preprocessing(name="caffe", color_order="BGR", scale=1.0, mean=(103.939, 116.779, 123.68))
#: torchvision's and timm's ImageNet ResNets.
TORCH = Preprocessing(
    name="torch", color_order="RGB", scale=1.0 / 255.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
)
CONVENTIONS = {"caffe": CAFFE, "torch": TORCH}


def as_preprocessing(value: Any) -> Preprocessing:
    """A `Preprocessing` from itself, a convention name ("caffe", "torch"), anything with a
    `.preprocessing` (a release, a model built with weights), or a mapping holding one."""
    if isinstance(value, Preprocessing):
        return value
    if isinstance(value, str):
        if value not in CONVENTIONS:
            raise ValueError(f"preprocessing={value!r}; allowed: {sorted(CONVENTIONS)} or a Preprocessing.")
        return CONVENTIONS[value]
    if isinstance(value, Mapping) and "preprocessing" in value:
        return as_preprocessing(value["preprocessing"])
    if isinstance(value, Mapping):
        fields = {f.name for f in dataclasses.fields(Preprocessing)}
        return Preprocessing(**{"name": "custom", **{k: v for k, v in value.items() if k in fields}})
    found = getattr(value, "preprocessing", None)
    if found is None:
        raise ValueError(
            f"{value!r} carries no preprocessing: pass a Preprocessing, 'caffe' or 'torch', a release, "
            "or a model built with weights whose convention is known."
        )
    return as_preprocessing(found)


def mean_subtraction(mean) -> Preprocessing:
    """The convention of a pipeline that only subtracts an RGB mean: (3,) or a mean image (h, w, 3)."""
    array = np.asarray(mean, np.float32)
    if array.shape == (3,):
        return Preprocessing(name="mean", mean=tuple(float(v) for v in array))
    if array.ndim == 3 and array.shape[-1] == 3:
        return Preprocessing(name="mean image", input_size=array.shape, mean_image=array)
    raise ValueError(f"mean must have shape (3,) or (h, w, 3); got {array.shape}.")


def input_convention(mean=None, preprocessing=None) -> Preprocessing | None:
    """The one convention of an evaluation: `preprocessing` (see `as_preprocessing`), or minus
    `mean`, or None (images used as given). Both given is a ValueError."""
    if mean is not None and preprocessing is not None:
        raise ValueError(
            "mean and preprocessing were both given: pass one (the preprocessing of "
            "pretrained weights already holds their mean)."
        )
    if preprocessing is not None:
        return as_preprocessing(preprocessing)
    return None if mean is None else mean_subtraction(mean)
