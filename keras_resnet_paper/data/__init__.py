"""Input pipelines of the paper as tf.data (Sec. 3.4 ImageNet and Sec. 4.2 CIFAR).

    from keras_resnet_paper import data
    cifar = data.cifar_datasets("cifar10", batch_size=128, seed=0)     # or source="digits" offline
    cifar = data.cifar_datasets("/data/cifar-10-binary.tar.gz", batch_size=128)  # the binary archive
    imagenet = data.imagenet_datasets("imagenet2012", batch_size=256, data_dir="~/tfds")

Modules: `cifar` (CIFAR pipelines), `cifar_binary` (CIFAR-10/100 binary archives), `digits`
(offline stand-in), `imagenet` (ImageNet-style pipelines, mean image), `augment` (stateless
augmentation), `augment_layers` (`PadCropFlip`, a Keras layer for any backend), `crops`
(test-time geometry: 10-crop, multi-scale), `decode` (RGB decoding, fused decode-and-crop,
corrupt-file guard), `sources` (tfds, TFRecord, folder), `pipeline` (seeds, sharding, options).

Names are imported on first use: `data.PadCropFlip` is pure Keras and needs no TensorFlow (any
Keras backend); the pipelines are tf.data, which feeds every backend.
"""

from __future__ import annotations

from keras_resnet_paper.lazy_imports import lazy_names

#: public name -> the module of this package that defines it
_NAMES = {
    "PadCropFlip": "augment_layers",
    **{
        name: "augment"
        for name in ("inception_crop_window", "lighting", "pad_crop_flip", "random_flip", "scale_augmentation_window")
    },
    **{name: "cifar" for name in ("CifarData", "cifar_datasets", "holdout_split", "load_cifar_arrays", "pixel_mean")},
    **{
        name: "cifar_binary"
        for name in ("CIFAR_BINARY_FORMATS", "find_cifar_binary", "is_cifar_binary_path", "load_cifar_binary")
    },
    **{name: "crops" for name in ("TEST_SCALES", "center_crop", "multi_scale", "resize_shorter_side", "ten_crop")},
    "decode_rgb": "decode",
    "decode_window": "decode",
    "load_digits_32": "digits",
    **{name: "imagenet" for name in ("IMAGENET_CHANNEL_MEAN", "ImageData", "imagenet_datasets", "mean_image")},
    **{name: "sources" for name in ("FolderSource", "TfdsSource", "TFRecordSource")},
}

__all__ = [
    "CIFAR_BINARY_FORMATS",
    "IMAGENET_CHANNEL_MEAN",
    "TEST_SCALES",
    "CifarData",
    "FolderSource",
    "ImageData",
    "PadCropFlip",
    "TFRecordSource",
    "TfdsSource",
    "center_crop",
    "decode_rgb",
    "decode_window",
    "find_cifar_binary",
    "imagenet_datasets",
    "is_cifar_binary_path",
    "mean_image",
    "multi_scale",
    "resize_shorter_side",
    "ten_crop",
    "cifar_datasets",
    "holdout_split",
    "inception_crop_window",
    "lighting",
    "load_cifar_arrays",
    "load_cifar_binary",
    "load_digits_32",
    "pad_crop_flip",
    "pixel_mean",
    "random_flip",
    "scale_augmentation_window",
]


__getattr__, __dir__ = lazy_names(__name__, _NAMES, globals())
