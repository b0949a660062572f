"""What an export starts from: a net, the preprocessing its file carries, and images to measure
(and to calibrate int8 on) as a user has them, uint8 RGB at the net's size.

- A training run's folder (`from_run_folder`): the net rebuilt from its run.json as the trainer
  built it, its final (or best) weights, the per-pixel mean of its training images (Sec. 4.2), its
  test set (the first `max_images`, with labels) and its first training images to calibrate on.
  CIFAR-style runs (digits, CIFAR-10/100 and other fixed-size sets); an ImageNet-style run's
  folder is refused (export its net as a release: `from_release`).
- A release (`from_release`): the named net with its pretrained weights and their preprocessing
  (colour order, mean, std: `weights.conventions`); the images at hand (a folder, or
  scikit-learn's two sample photos) resized and centre-cropped as at test time (Sec. 3.4), no
  labels: an export is measured by how often its top-1 agrees with the float model's.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np

__all__ = [
    "MIN_CALIBRATION",
    "RUN_WEIGHTS",
    "Exportable",
    "from_model",
    "from_release",
    "from_run_folder",
    "images_at_hand",
]

#: The weights of a run folder an export can take.
RUN_WEIGHTS = {"final": "final.weights.h5", "best": os.path.join("checkpoints", "best.weights.h5")}
#: The fewest images int8 calibrates on (fewer: int8 is refused rather than calibrated badly).
MIN_CALIBRATION = 20
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


@dataclasses.dataclass
class Exportable:
    """A net ready to export: `model` (logits or probabilities: a file gives probabilities), the preprocessing its file
    carries (`mean` of a run or `preprocessing` of a release), `images` uint8 [N, H, W, 3] with
    `labels` (None: agreement with the float model is measured instead), `calibration` images."""

    name: str
    model: keras.Model
    images: np.ndarray
    labels: np.ndarray | None
    calibration: np.ndarray | None
    mean: np.ndarray | None = None
    preprocessing: object | None = None
    out_dir: str = "export"
    described: str = ""

    @property
    def convention(self) -> dict:
        return {"mean": self.mean} if self.mean is not None else {"preprocessing": self.preprocessing}


def _run_config(record: dict):
    """The `RunConfig` a run.json describes (the trainer's own record of the run)."""
    from keras_resnet_paper.training.recipes import get_recipe
    from keras_resnet_paper.training.run_config import RunConfig

    fields = dict(record["recipe"])
    recipe = get_recipe(fields.pop("name")).replace(**{k: v for k, v in fields.items() if k != "description"})
    return RunConfig(
        recipe=recipe,
        model=record["model"],
        global_batch=int(record["global_batch"]),
        seed=int(record.get("seed", 0)),
        data_dir=record.get("data_dir"),
        shortcut=record.get("shortcut"),
    )


def _weights_file(model_dir: str, weights: str) -> str:
    if weights not in RUN_WEIGHTS:
        raise ValueError(f"weights={weights!r} is not allowed for a run folder; allowed: {', '.join(RUN_WEIGHTS)}.")
    path = os.path.join(model_dir, RUN_WEIGHTS[weights])
    if not os.path.isfile(path):
        raise ValueError(
            f"{model_dir} has no {RUN_WEIGHTS[weights]}: the run has not finished"
            + (" (or never evaluated)" if weights == "best" else " (--checkpoint best takes its best weights)")
            + "; run its training command again to finish it."
        )
    return path


def _trained_net(config, input_shape, classes: int, weights_file: str) -> keras.Model:
    """The run's net with its weights, built by the trainer's own `ImageClassificationTask`
    (logits), behind the augmentation layer when the run augmented on the accelerator (as the
    file was saved); returns the net without that layer."""
    import types

    from keras_resnet_paper.data.augment_layers import PadCropFlip
    from keras_resnet_paper.training.task import ImageClassificationTask

    on_device = config.recipe.augment == "paper" and config.recipe.augment_on == "device"
    augmentation = PadCropFlip(4, seed=config.seed) if on_device else None
    data = types.SimpleNamespace(num_classes=classes, augmentation=augmentation)
    saved = ImageClassificationTask(config, input_shape=input_shape).build_model(data)
    saved.load_weights(weights_file)
    return saved.layers[-1] if on_device else saved


def from_run_folder(model_dir: str, weights: str = "final", max_images: int = 1000) -> Exportable:
    """The net of the training run in `model_dir` with its `weights` ("final" or "best"), its
    mean, its test images and its first 100 training images (module docstring)."""
    from keras_resnet_paper.data.cifar import load_cifar_arrays, pixel_mean
    from keras_resnet_paper.training import run_identity

    if not os.path.isdir(model_dir):
        raise ValueError(f"model_dir={model_dir!r} is not a folder (no such folder).")
    record = run_identity.read_run_record(model_dir)
    if record is None:
        raise ValueError(f"model_dir={model_dir!r} holds no run (no run.json): give the folder a training run wrote.")
    path = _weights_file(model_dir, weights)
    config = _run_config(record)
    if config.recipe.dataset == "imagenet" or config.recipe.image_size is not None:
        raise ValueError(
            f"{model_dir} is an ImageNet-style run: exporting its folder is not supported yet; "
            "export its weights with --model and --weights PATH."
        )
    x_train, y_train, x_test, y_test = load_cifar_arrays(config.recipe.dataset, config.data_dir)
    classes = int(max(y_train.max(), y_test.max())) + 1  # as `data.cifar_datasets` counts them
    model = _trained_net(config, x_test.shape[1:], classes, path)
    n = len(x_test) if not max_images else min(max_images, len(x_test))
    return Exportable(
        name=f"{config.model}_{weights}",
        model=model,
        images=x_test[:n],
        labels=np.asarray(y_test[:n]),
        calibration=x_train[:100],
        mean=pixel_mean(x_train),
        out_dir=os.path.join(model_dir, "export"),
        described=f"{config.model} of the run in {model_dir} ({RUN_WEIGHTS[weights]}), on {n} test images of {config.recipe.dataset}",
    )


def _photos(images_dir: str | None) -> list[np.ndarray]:
    """RGB uint8 photos of any size: the image files of `images_dir`, else scikit-learn's samples."""
    if images_dir is None:
        try:
            from sklearn.datasets import load_sample_images
        except ImportError:
            raise ValueError("no images to measure on: give --images DIR (or install scikit-learn).") from None
        return list(load_sample_images().images)
    import tensorflow as tf

    if not os.path.isdir(images_dir):
        raise ValueError(f"images={images_dir!r} is not a folder (no such folder).")
    names = sorted(n for n in os.listdir(images_dir) if n.lower().endswith(_IMAGE_SUFFIXES))
    if not names:
        raise ValueError(f"images={images_dir!r} holds no image file ({', '.join(_IMAGE_SUFFIXES)}).")
    photos = []
    for name in names:
        try:
            encoded = tf.io.read_file(os.path.join(images_dir, name))
            photos.append(tf.io.decode_image(encoded, channels=3, expand_animations=False).numpy())
        except (tf.errors.OpError, ValueError):
            raise ValueError(f"{os.path.join(images_dir, name)} is not a readable image.") from None
    return photos


def images_at_hand(preprocessing, images_dir: str | None = None, max_images: int = 1000) -> np.ndarray:
    """The photos of `images_dir` (else scikit-learn's samples) resized and centre-cropped as at
    test time by `preprocessing` (Sec. 3.4), as uint8 RGB [N, size, size, 3]."""
    photos = _photos(images_dir)[: max_images or None]
    crops = [np.clip(np.round(np.asarray(preprocessing.center_crop(p))), 0, 255).astype(np.uint8) for p in photos]
    return np.stack(crops)


def from_model(
    model: keras.Model, preprocessing, images_dir: str | None = None, max_images: int = 1000, name: str | None = None
) -> Exportable:
    """`model` with the input convention of its weights (`weights.conventions.Preprocessing`,
    sized to the model's input), measured on the images at hand by agreement (module docstring)."""
    size = int(model.input_shape[1] or preprocessing.input_size[0])
    preprocessing = dataclasses.replace(preprocessing, input_size=(size, size, 3))
    images = images_at_hand(preprocessing, images_dir, max_images)
    return Exportable(
        name=name or model.name,
        model=model,
        images=images,
        labels=None,
        calibration=images if len(images) >= MIN_CALIBRATION else None,
        preprocessing=preprocessing,
        out_dir="export",
        described=f"{model.name}, on {len(images)} images at hand "
        + ("(scikit-learn's sample photos)" if images_dir is None else f"({images_dir})"),
    )


def from_release(model_name: str, weights: str, images_dir: str | None = None, max_images: int = 1000) -> Exportable:
    """The net `model_name` with its pretrained `weights` (a tag or a file) and their
    preprocessing, on the images at hand (`from_model`)."""
    from keras_resnet_paper.models import get_model

    model = get_model(model_name, weights=weights)
    preprocessing = getattr(model, "preprocessing", None)
    if preprocessing is None:
        raise ValueError(
            f"weights={weights!r} carry no preprocessing (a weights file of this package): export the "
            "training run it came from with --model_dir, which knows its mean."
        )
    item = from_model(model, preprocessing, images_dir, max_images, f"{model_name}_{_stem(weights)}")
    item.described = f"{model_name} with weights {weights}" + item.described[len(model.name) :]
    return item


def _stem(weights: str) -> str:
    name = os.path.basename(str(weights))
    return name.split(".")[0] or name
