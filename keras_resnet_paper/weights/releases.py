"""The release registry: which published weights exist, and everything needed to use them.

The metadata of each release (files and pinned hashes, input size, colour order, mean, crop ratio,
expected accuracy, the BN epsilon and stride placement it was trained with) is kept as data.
"""

from __future__ import annotations

import re
from typing import Any

import keras

#: Where keras.applications publishes its ResNet ImageNet weights (keras/src/applications/resnet.py).
KERAS_APPLICATIONS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"

#: ImageNet class index used by `decode_predictions` (the file keras.applications uses).
IMAGENET_CLASS_INDEX = {
    "file_name": "imagenet_class_index.json",
    "url": "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
    "file_hash": "c2c37ea517e94d9795004a39431a14cb",
}

#: Preprocessing conventions. "caffe": the authors' Caffe models (and keras.applications' copy):
#: RGB in [0, 255] -> BGR, minus the per-channel ImageNet mean, no scaling.
#: "torch": torchvision's: RGB / 255, minus mean, divided by std.
PREPROCESSING = {
    "caffe": {
        "color_order": "BGR",
        "scale": 1.0,
        "mean": (103.939, 116.779, 123.68),  # B, G, R
        "std": None,
    },
    "torch": {
        "color_order": "RGB",
        "scale": 1.0 / 255.0,
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
    },
}

_COMMON_IMAGENET = {
    "layout": "keras_applications_h5",
    "preprocessing": "caffe",
    "input_size": (224, 224, 3),
    "crop_pct": 0.875,  # resize the shorter side to 256, centre crop 224
    "interpolation": "bilinear",
    "num_classes": 1000,
    "label_set": "imagenet-1k",
    "bn_epsilon": 1.001e-5,  # keras.applications' BN epsilon; parity is exact with it
    "stride_in_1x1": True,  # the authors' Caffe geometry
    "shortcut": "B",
    "source": "keras.applications ResNet, converted from the authors' released Caffe models",
    "license": "MIT (authors' models, github.com/KaimingHe/deep-residual-networks)",
}

#: model name -> weights tag -> metadata. Hashes are keras.applications' (md5, as `get_file` checks).
PRETRAINED_CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "resnet50": {
        "imagenet": {
            **_COMMON_IMAGENET,
            "files": {
                "top": ("resnet50_weights_tf_dim_ordering_tf_kernels.h5",
                        "2cb95161c43110f7111970584f804107"),
                "notop": ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "4d473c1dd8becc155b73f8504c6f6626"),
            },
            "top1": 74.9,  # single 224 crop, accuracy %, as keras.applications reports
            "top5": 92.1,
            "paper_top1_err_10crop": 22.85,
            "paper_top5_err_10crop": 6.71,
        }
    },
    "resnet101": {
        "imagenet": {
            **_COMMON_IMAGENET,
            "files": {
                "top": ("resnet101_weights_tf_dim_ordering_tf_kernels.h5",
                        "f1aeb4b969a6efcfb50fad2f0c20cfc5"),
                "notop": ("resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "88cf7a10940856eca736dc7b7e228a21"),
            },
            "top1": 76.4,
            "top5": 92.8,
            "paper_top1_err_10crop": 21.75,
            "paper_top5_err_10crop": 6.05,
        }
    },
    "resnet152": {
        "imagenet": {
            **_COMMON_IMAGENET,
            "files": {
                "top": ("resnet152_weights_tf_dim_ordering_tf_kernels.h5",
                        "100835be76be38e30d865e96f2aaae62"),
                "notop": ("resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "ee4c566cf9a93f14d82f913c2dc6dd0c"),
            },
            "top1": 76.6,
            "top5": 93.1,
            "paper_top1_err_10crop": 21.43,
            "paper_top5_err_10crop": 5.71,
        }
    },
}


def normalize_model_name(model_name: str | None) -> str | None:
    """'ResNet50', 'resnet-50', 'resnet_50' -> 'resnet50'."""
    if model_name is None:
        return None
    return re.sub(r"[^a-z0-9]", "", str(model_name).lower())


def available_weights(model_name: str | None = None) -> dict[str, tuple[str, ...]]:
    """{model name: weights tags} of the registry (one model if `model_name` is given)."""
    table = {name: tuple(tags) for name, tags in PRETRAINED_CONFIGS.items()}
    if model_name is None:
        return table
    return {normalize_model_name(model_name): table.get(normalize_model_name(model_name), ())}


def is_registered_tag(weights: Any) -> bool:
    """True for a registry tag such as "imagenet" (as opposed to a path or None)."""
    return isinstance(weights, str) and any(weights in tags for tags in PRETRAINED_CONFIGS.values())


def get_pretrained_config(model_name: str, weights: str = "imagenet") -> dict[str, Any]:
    """The metadata of release `weights` for `model_name` (a copy); ValueError if unknown."""
    name = normalize_model_name(model_name)
    tags = PRETRAINED_CONFIGS.get(name, {})
    if weights not in tags:
        offered = ", ".join(f"{m}: {sorted(t)}" for m, t in PRETRAINED_CONFIGS.items())
        raise ValueError(
            f"No weights {weights!r} for model {model_name!r}. Available: {offered}. Any other "
            "model takes weights=None or a path to a weights file."
        )
    cfg = dict(tags[weights])
    cfg["model_name"] = name
    cfg["tag"] = weights
    cfg["url"] = KERAS_APPLICATIONS_BASE_URL
    return cfg


def builder_overrides(model_name: str | None, weights: Any) -> dict[str, Any]:
    """Builder keyword arguments a registry release needs (e.g. its BN epsilon); {} otherwise.

    Builders apply these to the arguments the user left at their defaults, so that
    `ResNet50(weights="imagenet")` is numerically the converted Caffe model.
    """
    if not is_registered_tag(weights):
        return {}
    cfg = get_pretrained_config(model_name, weights)
    return {"bn_epsilon": cfg["bn_epsilon"], "stride_in_1x1": cfg["stride_in_1x1"], "shortcut": cfg["shortcut"]}


def get_weights_file(model_name: str, weights: str = "imagenet", include_top: bool = True,
                     cache_dir: str | None = None) -> str:
    """Download (once, hash-checked) the registry file and return its local path.

    The file names and cache folder are keras.applications' own, so a file keras.applications
    already downloaded (``~/.keras/models``) is reused without network access.
    """
    cfg = get_pretrained_config(model_name, weights)
    file_name, file_hash = cfg["files"]["top" if include_top else "notop"]
    return keras.utils.get_file(
        file_name,
        cfg["url"] + file_name,
        cache_subdir="models",
        file_hash=file_hash,
        cache_dir=cache_dir,
    )
