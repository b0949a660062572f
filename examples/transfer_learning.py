"""Fine-tune a pretrained ResNet on a new image classification task: the two-phase recipe.

    python examples/transfer_learning.py                         # ResNet-50 "imagenet" on tf_flowers
    python examples/transfer_learning.py --dataset=imagenette --model=resnet101
    python examples/transfer_learning.py --offline               # no network, a few minutes on CPU

Phase 1 freezes the whole backbone (`freeze_backbone`: no gradients, BatchNormalization in
inference mode) and trains a new head; phase 2 unfreezes the top stage(s) (`unfreeze`, BN kept
frozen) and trains on at a low learning rate. The ImageNet features of the paper transfer to other
tasks (PAPER.md, Sec. 4.3); this is the classification counterpart of its detection experiments.

`--offline` has no ImageNet weights to start from, so it shows the mechanics, not ImageNet
transfer: a ResNet-18 backbone (include_top=False, 32x32 inputs) is first pretrained from scratch
on scikit-learn's bundled digits 0-4 (the "source" task) and saved as a weights file, then rebuilt
from that file with `weights=PATH` and fine-tuned on digits 5-9, classes it has never seen. With
`--weights=PATH` it skips the pretraining and starts from that file instead.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

import keras_resnet_paper as krp
from keras_resnet_paper import weights as weights_lib
from keras_resnet_paper.weights import preprocessing

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command-line flags (defined only when run as a script, so tests can import it)."""
    flags.DEFINE_string("dataset", "tf_flowers", "tfds image classification data set (online mode).")
    flags.DEFINE_string("data_dir", None, "tfds data directory.")
    flags.DEFINE_bool("offline", False, "Run on scikit-learn's digits (no network, no pretrained weights).")
    flags.DEFINE_string("model", None, "Backbone (default: resnet50 online, resnet18 offline).")
    flags.DEFINE_string("weights", None, 'Backbone weights: "imagenet" (online default), "none", or a '
                        "file path (offline default: pretrain on digits 0-4 first).")
    flags.DEFINE_integer("image_size", None, "Input size (default: the release's 224; 32 offline).")
    flags.DEFINE_integer("batch_size", None, "Batch size (default 32; 64 offline).")
    flags.DEFINE_integer("pretrain_epochs", None, "Offline only: epochs of source-task pretraining (4).")
    flags.DEFINE_integer("head_epochs", None, "Phase 1: epochs training the head on the frozen backbone (5).")
    flags.DEFINE_integer("finetune_epochs", None, "Phase 2: epochs with the top stages unfrozen (5; 4 offline).")
    flags.DEFINE_string("unfreeze_from", "conv5_x", "Phase 2 trains this stage and the later ones.")
    flags.DEFINE_float("head_lr", None, "Phase 1 learning rate, Adam (1e-3; 1e-2 offline).")
    flags.DEFINE_float("finetune_lr", None, "Phase 2 learning rate, Adam (1e-4; 3e-4 offline).")
    flags.DEFINE_float("dropout", 0.2, "Dropout before the new classifier.")
    flags.DEFINE_string("save_pretrained", None, "Offline only: where to keep the pretrained backbone file.")
    flags.DEFINE_integer("seed", 0, "Random seed.")


#: Offline source and target tasks: disjoint digit classes.
SOURCE_DIGITS = (0, 1, 2, 3, 4)
TARGET_DIGITS = (5, 6, 7, 8, 9)


# ---------------------------------------------------------------------------------------------
# Data.
# ---------------------------------------------------------------------------------------------


def digits_arrays(image_size: int, classes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits of `classes`, upsampled to RGB `image_size`, labels 0..len-1.

    Pixels are scaled to [0, 255] and then centred (x / 127.5 - 1): without ImageNet weights
    there is no release convention to follow.
    """
    from sklearn.datasets import load_digits

    if image_size < 32:
        raise ValueError(f"image_size={image_size}: the ImageNet-family nets need at least 32.")
    digits = load_digits()
    keep = np.isin(digits.target, classes)
    images = digits.images[keep, :, :, None].astype("float32") * (255.0 / 16.0)
    images = tf.image.resize(images, (image_size, image_size), method="bilinear").numpy()
    images = np.repeat(images, 3, axis=-1) / 127.5 - 1.0
    labels = np.searchsorted(np.asarray(classes), digits.target[keep]).astype("int32")
    return images, labels


def split(images: np.ndarray, labels: np.ndarray, train_fraction: float, seed: int):
    """A shuffled (train, test) split of arrays."""
    order = np.random.default_rng(seed).permutation(len(labels))
    cut = int(round(train_fraction * len(labels)))
    tr, te = order[:cut], order[cut:]
    return (images[tr], labels[tr]), (images[te], labels[te])


def tfds_datasets(name: str, image_size: int, batch_size: int, mode: str | dict, seed: int,
                  data_dir: str | None = None) -> tuple[tf.data.Dataset, tf.data.Dataset, int]:
    """(train, validation, number of classes) from a tfds image classification set.

    Train: shorter side resized to image_size / 0.875, random crop, random flip. Validation: the
    release's resize-and-centre-crop (Sec. 3.4, single crop). Both preprocessed for the weights
    (`mode`, e.g. "caffe"). A set without a validation or test split is split 85/15.
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    builder.download_and_prepare()
    splits = builder.info.splits
    held_out = next((s for s in ("validation", "test") if s in splits), None)
    train_split, val_split = ("train", held_out) if held_out else ("train[:85%]", "train[85%:]")
    num_classes = builder.info.features["label"].num_classes
    resize_to = int(round(image_size / 0.875))

    def shorter_side(image):
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = resize_to / tf.reduce_min(shape)
        size = tf.cast(tf.round(shape * scale), tf.int32)
        return tf.image.resize(tf.cast(image, tf.float32), tf.maximum(size, resize_to))

    def train_map(image, label):
        image = tf.image.random_crop(shorter_side(image), (image_size, image_size, 3))
        image = tf.image.random_flip_left_right(image)
        return preprocessing.preprocess_input(image, mode=mode), label

    def eval_map(image, label):
        image = shorter_side(image)
        shape = tf.shape(image)
        top, left = (shape[0] - image_size) // 2, (shape[1] - image_size) // 2
        image = image[top:top + image_size, left:left + image_size]
        image.set_shape((image_size, image_size, 3))
        return preprocessing.preprocess_input(image, mode=mode), label

    train = (builder.as_dataset(split=train_split, as_supervised=True, shuffle_files=True)
             .shuffle(2048, seed=seed).map(train_map, num_parallel_calls=tf.data.AUTOTUNE)
             .batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    val = (builder.as_dataset(split=val_split, as_supervised=True)
           .map(eval_map, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE))
    return train, val, num_classes


# ---------------------------------------------------------------------------------------------
# Models and the two phases.
# ---------------------------------------------------------------------------------------------


def classifier(backbone: keras.Model, num_classes: int, dropout: float = 0.2) -> keras.Model:
    """The backbone (include_top=False, pooling="avg") followed by dropout and a new softmax layer."""
    inputs = keras.Input(backbone.input_shape[1:], name="images")
    features = keras.layers.Dropout(dropout, name="head_dropout")(backbone(inputs))
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(features)
    return keras.Model(inputs, outputs, name=f"{backbone.name}_transfer")


def _compile(model: keras.Model, learning_rate: float) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def pretrain_on_source(model_name: str, image_size: int, epochs: int, batch_size: int, path: str,
                       seed: int) -> dict[str, float]:
    """Offline stand-in for ImageNet pretraining: train on digits 0-4, save the no-top backbone."""
    images, labels = digits_arrays(image_size, SOURCE_DIGITS)
    backbone = krp.get_model(model_name, include_top=False, pooling="avg", input_shape=images.shape[1:])
    model = classifier(backbone, len(SOURCE_DIGITS), dropout=0.0)
    _compile(model, 1e-3)
    history = model.fit(images, labels, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
    backbone.save_weights(path)
    return {"source_train_accuracy": float(history.history["accuracy"][-1])}


def two_phase_fine_tuning(model: keras.Model, train, validation, *, head_epochs: int,
                          finetune_epochs: int, unfreeze_from: str, head_lr: float,
                          finetune_lr: float, batch_size: int | None = None) -> dict[str, Any]:
    """Phase 1: frozen backbone, train the head. Phase 2: unfreeze from `unfreeze_from`, low lr.

    `train` / `validation` are datasets or (images, labels) tuples. Returns accuracies and the
    trainable-parameter counts of both phases.
    """

    def fit(epochs):
        if isinstance(train, tuple):
            model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
        else:
            model.fit(train, epochs=epochs, verbose=0)

    def accuracy():
        if isinstance(validation, tuple):
            return float(model.evaluate(*validation, batch_size=batch_size or 32, verbose=0)[1])
        return float(model.evaluate(validation, verbose=0)[1])

    results: dict[str, Any] = {}
    results["phase1_params"] = krp.freeze_backbone(model)
    _compile(model, head_lr)
    results["initial_accuracy"] = accuracy()
    fit(head_epochs)
    results["phase1_accuracy"] = accuracy()
    results["phase2_params"] = krp.unfreeze(model, from_stage=unfreeze_from)
    _compile(model, finetune_lr)
    fit(finetune_epochs)
    results["phase2_accuracy"] = accuracy()
    return results


def run_offline(model_name: str = "resnet18", *, weights: str | None = None, image_size: int = 32,
                batch_size: int = 64, pretrain_epochs: int = 4, head_epochs: int = 5,
                finetune_epochs: int = 4, unfreeze_from: str = "conv5_x", head_lr: float = 1e-2,
                finetune_lr: float = 3e-4, dropout: float = 0.2, train_fraction: float = 0.5,
                save_pretrained: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Pretrain on digits 0-4 (unless `weights` is a file), fine-tune on digits 5-9; the results."""
    keras.utils.set_random_seed(seed)
    results: dict[str, Any] = {"model": model_name, "image_size": image_size}
    with tempfile.TemporaryDirectory() as tmp:
        if weights is None:
            weights = save_pretrained or os.path.join(tmp, f"{model_name}_digits04.weights.h5")
            results.update(pretrain_on_source(model_name, image_size, pretrain_epochs, batch_size,
                                              weights, seed))
        images, labels = digits_arrays(image_size, TARGET_DIGITS)
        train, test = split(images, labels, train_fraction, seed)
        backbone = krp.get_model(model_name, include_top=False, pooling="avg",
                                 input_shape=images.shape[1:],
                                 weights=None if weights == "none" else weights)
    model = classifier(backbone, len(TARGET_DIGITS), dropout)
    results.update(two_phase_fine_tuning(
        model, train, test, head_epochs=head_epochs, finetune_epochs=finetune_epochs,
        unfreeze_from=unfreeze_from, head_lr=head_lr, finetune_lr=finetune_lr, batch_size=batch_size))
    results.update(target_train_size=len(train[1]), target_test_size=len(test[1]))
    return results


def run_tfds(dataset: str = "tf_flowers", model_name: str = "resnet50", *, weights: str = "imagenet",
             image_size: int | None = None, batch_size: int = 32, head_epochs: int = 5,
             finetune_epochs: int = 5, unfreeze_from: str = "conv5_x", head_lr: float = 1e-3,
             finetune_lr: float = 1e-4, dropout: float = 0.2, seed: int = 0,
             data_dir: str | None = None) -> dict[str, Any]:
    """Fine-tune `model_name` with release `weights` on tfds `dataset`, preprocessed as the release."""
    keras.utils.set_random_seed(seed)
    if weights_lib.is_registered_tag(weights):
        prep = preprocessing.preprocessing_for(model_name, weights)
        image_size = image_size or prep["input_size"][0]
        mode: str | dict = weights_lib.get_pretrained_config(model_name, weights)
    else:
        image_size, mode = image_size or 224, "caffe"
    train, val, num_classes = tfds_datasets(dataset, image_size, batch_size, mode, seed, data_dir)
    overrides = weights_lib.builder_overrides(model_name, weights)
    backbone = krp.get_model(model_name, include_top=False, pooling="avg",
                             input_shape=(image_size, image_size, 3),
                             weights=None if weights == "none" else weights, **overrides)
    model = classifier(backbone, num_classes, dropout)
    results = {"dataset": dataset, "model": model_name, "weights": weights, "image_size": image_size}
    results.update(two_phase_fine_tuning(
        model, train, val, head_epochs=head_epochs, finetune_epochs=finetune_epochs,
        unfreeze_from=unfreeze_from, head_lr=head_lr, finetune_lr=finetune_lr))
    return results


def main(argv: list[str]) -> None:
    del argv
    given = {key: getattr(FLAGS, flag) for key, flag in (
        ("batch_size", "batch_size"), ("head_epochs", "head_epochs"), ("finetune_epochs", "finetune_epochs"),
        ("head_lr", "head_lr"), ("finetune_lr", "finetune_lr"), ("image_size", "image_size"))}
    common = {key: value for key, value in given.items() if value is not None}
    common.update(unfreeze_from=FLAGS.unfreeze_from, dropout=FLAGS.dropout, seed=FLAGS.seed)
    if FLAGS.offline:
        if FLAGS.pretrain_epochs is not None:
            common["pretrain_epochs"] = FLAGS.pretrain_epochs
        results = run_offline(FLAGS.model or "resnet18", weights=FLAGS.weights,
                              save_pretrained=FLAGS.save_pretrained, **common)
    else:
        results = run_tfds(FLAGS.dataset, FLAGS.model or "resnet50", weights=FLAGS.weights or "imagenet",
                           data_dir=FLAGS.data_dir, **common)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(main)
