"""Fine-tune a pretrained ResNet on a new image classification task: the two-phase recipe.

    python examples/transfer_learning.py                         # ResNet-50 "imagenet" on tf_flowers
    python examples/transfer_learning.py --dataset=imagenette --model=resnet101
    python examples/transfer_learning.py --model=resnet18 --weights=imagenet1k_v1    # torchvision's
    python examples/transfer_learning.py --offline               # no network, a minute or two on a CPU

Phase 1 freezes the whole backbone (`freeze_backbone`: no gradients, BatchNormalization in
inference mode) and trains a new head; phase 2 unfreezes the top stage(s) (`unfreeze`, BN kept
frozen) and trains on at a low learning rate. The ImageNet features of the paper transfer to other
tasks (Sec. 4.3, docs/paper.md); this is the classification counterpart of its detection
experiments.

`--offline` has no ImageNet weights to start from, so it shows the mechanics, not ImageNet
transfer: a ResNet-18 backbone (include_top=False, 32x32 inputs) is first pretrained from scratch
on scikit-learn's bundled digits 0-4 (the "source" task) and saved as a weights file, then rebuilt
from that file with `weights=PATH` and fine-tuned on digits 5-9, classes it has never seen. With
`--weights=PATH` (or `none`) it skips the pretraining and starts from that file (or from scratch).
"""

from __future__ import annotations

# A command: the package starts it as its own commands (no framework notices, interruptible from its
# first second; keras_resnet_paper/startup.py). Set before anything imports TensorFlow.
KERAS_RESNET_PAPER_COMMAND = True

import keras_resnet_paper  # noqa: F401  (first, so that it starts the command before TensorFlow loads)

# isort: split
import os
import sys
import tempfile
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from absl import flags

import keras_resnet_paper as krp
from keras_resnet_paper import cli
from keras_resnet_paper import weights as weights_lib
from keras_resnet_paper.errors import WeightsUnavailableError
from keras_resnet_paper.weights import conventions, preprocessing

FLAGS = flags.FLAGS

#: The ImageNet family of Table 1: the nets with a conv5_x stage to unfreeze.
BACKBONES = tuple(f"{kind}{depth}" for kind in ("resnet", "plain") for depth in (18, 34, 50, 101, 152))
#: Offline source and target tasks: disjoint digit classes.
SOURCE_DIGITS = (0, 1, 2, 3, 4)
TARGET_DIGITS = (5, 6, 7, 8, 9)
#: Defaults of the two modes (flags override them); image_size None online: the release's own.
DEFAULTS = {
    "online": dict(
        model="resnet50",
        weights="imagenet",
        image_size=None,
        batch_size=32,
        head_epochs=5,
        finetune_epochs=5,
        head_lr=1e-3,
        finetune_lr=1e-4,
    ),
    "offline": dict(
        model="resnet18",
        weights=None,
        image_size=32,
        batch_size=64,
        head_epochs=5,
        finetune_epochs=4,
        head_lr=1e-2,
        finetune_lr=3e-4,
        pretrain_epochs=4,
    ),
}
ONLINE_ONLY, OFFLINE_ONLY = ("dataset", "data_dir"), ("pretrain_epochs", "save_pretrained")


def say(line: str) -> None:
    """Print one line of what the example is doing, at once (stdout may be a pipe or a log)."""
    print(line, flush=True)


def define_flags() -> None:
    """The command-line flags (defined only when run as a script, so tests can import it)."""
    online, offline = DEFAULTS["online"], DEFAULTS["offline"]

    def default(key: str, online_value: object = None) -> str:
        return f"if not given: {online_value or online[key]}, or {offline[key]} with --offline"

    flags.DEFINE_string("dataset", "tf_flowers", "tfds image classification data set (not with --offline).")
    flags.DEFINE_string("data_dir", None, "tfds data directory (a folder where the data set is prepared).")
    flags.DEFINE_bool("offline", False, "Run on scikit-learn's digits: no network, no pretrained weights.")
    flags.DEFINE_enum("model", None, BACKBONES, f"Backbone ({default('model')}).")
    flags.DEFINE_string(
        "weights",
        None,
        'Backbone weights: a release tag ("imagenet", "imagenet1k_v2", "timm", ...), "none" or a weights '
        "file (if not given: imagenet, or with --offline a backbone pretrained here on digits 0-4).",
    )
    release_size = "the release's 224"
    flags.DEFINE_integer("image_size", None, f"Input size ({default('image_size', release_size)}).")
    flags.DEFINE_integer("batch_size", None, f"Batch size ({default('batch_size')}).", lower_bound=1)
    flags.DEFINE_integer(
        "pretrain_epochs",
        None,
        f"--offline only: epochs of pretraining on digits 0-4 ({offline['pretrain_epochs']}).",
        lower_bound=1,
    )
    flags.DEFINE_integer(
        "head_epochs",
        None,
        f"Phase 1: epochs training the head on the frozen backbone ({default('head_epochs')}).",
        lower_bound=1,
    )
    flags.DEFINE_integer(
        "finetune_epochs",
        None,
        f"Phase 2: epochs with the top stages unfrozen ({default('finetune_epochs')}).",
        lower_bound=1,
    )
    flags.DEFINE_enum(
        "unfreeze_from",
        "conv5_x",
        ["conv2_x", "conv3_x", "conv4_x", "conv5_x"],
        "Phase 2 trains this stage and the later ones.",
    )
    flags.DEFINE_float("head_lr", None, f"Phase 1 learning rate, Adam ({default('head_lr')}).")
    flags.DEFINE_float("finetune_lr", None, f"Phase 2 learning rate, Adam ({default('finetune_lr')}).")
    flags.DEFINE_float("dropout", 0.2, "Dropout before the new classifier, in [0, 1).")
    flags.DEFINE_string("save_pretrained", None, "--offline only: where to keep the pretrained backbone file.")
    flags.DEFINE_integer("seed", 0, "Random seed.")
    flags.register_validator("image_size", lambda v: v is None or v >= 32, "must be at least 32")
    for name in ("head_lr", "finetune_lr"):
        flags.register_validator(name, lambda v: v is None or v > 0, "must be positive")
    flags.register_validator("dropout", lambda v: 0 <= v < 1, "must be in [0, 1)")
    flags.register_validator("weights", _weights_exist, 'must be "imagenet", "none" or an existing file')
    flags.register_multi_flags_validator(
        ["model", "weights", "offline"], _release_exists, "no such release of weights for this model"
    )


def _weights_exist(value: str | None) -> bool:
    return value in (None, "none") or weights_lib.is_registered_tag(value) or os.path.isfile(value)


def _release_exists(values: dict[str, Any]) -> bool:
    """A registry tag must exist for the model, and needs a network (not --offline)."""
    weights = values["weights"]
    if not weights_lib.is_registered_tag(weights):
        return True
    if values["offline"]:
        raise flags.ValidationError(
            f"--weights={weights} needs a network; with --offline use --weights none, "
            "a weights file, or leave it out (pretraining on digits 0-4)"
        )
    model = values["model"] or DEFAULTS["online"]["model"]
    tags = sorted(weights_lib.available_weights(model)[model])
    if model in weights_lib.released_models(weights, "imagenet-1k"):
        return True
    raise flags.ValidationError(
        f"--weights={weights} does not exist for --model={model} (its ImageNet weights: {tags}); "
        "any model takes --weights none or a weights file"
    )


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


def prepared_classification_set(name: str, data_dir: str | None = None):
    """The prepared tfds builder of image classification set `name` (downloaded on first use).

    Raises `DatasetUnavailableError` (one line: what, and to use --data_dir or --offline) when it
    cannot be fetched, and `cli.UsageError` for a name tfds does not know or a set without labels.
    """
    from keras_resnet_paper.data.tfds_prepare import prepared_builder

    hint = (
        f"pass --data_dir DIR where {name} is prepared (`tfds build {name} --data_dir DIR` on a machine "
        "with a network), or run with --offline"
    )
    try:
        builder = prepared_builder(name, data_dir, hint=hint)
    except ValueError as err:
        raise cli.UsageError(f"--dataset={name}: {err}") from None
    if not {"image", "label"} <= set(builder.info.features.keys()):
        raise cli.UsageError(f"--dataset={name} is not an image classification set: it has no image and label.")
    return builder


def tfds_datasets(
    name: str, image_size: int, batch_size: int, mode: str | dict, seed: int, data_dir: str | None = None
) -> tuple[tf.data.Dataset, tf.data.Dataset, int]:
    """(train, validation, number of classes) from a tfds image classification set.

    Train: shorter side resized as the release resizes for its crop (256 for 224 by default; 232
    for torchvision's V2, ...), random crop, random flip. Validation: the release's
    resize-and-centre-crop (Sec. 3.4, single crop). Both preprocessed for the weights
    (`mode`, e.g. "caffe"). A set without a validation or test split is split 85/15.
    """
    builder = prepared_classification_set(name, data_dir)
    splits = builder.info.splits
    held_out = next((s for s in ("validation", "test") if s in splits), None)
    train_split, val_split = ("train", held_out) if held_out else ("train[:85%]", "train[85%:]")
    num_classes = builder.info.features["label"].num_classes
    convention = conventions.as_preprocessing(mode)
    resize_to = int(round(image_size * convention.resize_side / convention.crop_size))

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
        image = image[top : top + image_size, left : left + image_size]
        image.set_shape((image_size, image_size, 3))
        return preprocessing.preprocess_input(image, mode=mode), label

    train = (
        builder.as_dataset(split=train_split, as_supervised=True, shuffle_files=True)
        .shuffle(2048, seed=seed)
        .map(train_map, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    val = (
        builder.as_dataset(split=val_split, as_supervised=True)
        .map(eval_map, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    say(
        f"data: tensorflow-datasets {name}, {num_classes} classes; train split {train_split!r}, "
        f"held out {val_split!r}; {image_size}x{image_size}"
    )
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
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )


def epoch_lines(label: str, epochs: int) -> dict[str, Any]:
    """fit() keywords: Keras' progress bar on a terminal, else one line of metrics per epoch."""
    if sys.stdout.isatty():
        return {"verbose": 1}
    start = time.time()

    def line(epoch: int, logs: dict) -> None:
        metrics = "  ".join(
            f"{key} {float(value):.4f}" for key, value in sorted((logs or {}).items(), key=lambda kv: kv[0] != "loss")
        )
        say(f"  {label} epoch {epoch + 1}/{epochs}  {metrics}  {time.time() - start:.0f} s")

    return {"verbose": 0, "callbacks": [keras.callbacks.LambdaCallback(on_epoch_end=line)]}


def build_backbone(model_name: str, image_size: int, weights: str | None) -> keras.Model:
    """`model_name` with include_top=False and average pooling, loaded from `weights`; says which."""
    source = {"none": "none (random initialisation)", None: "none (random initialisation)"}.get(
        weights, f"from the file {weights}"
    )
    if weights_lib.is_registered_tag(weights):
        release = weights_lib.get_release(model_name, weights)
        source = f"{weights} ({release.source}; fetched once into ~/.keras/models)"
    say(f"backbone: {model_name}, include_top=False, pooling avg, {image_size}x{image_size}; weights: {source}")
    return krp.get_model(
        model_name,
        include_top=False,
        pooling="avg",
        input_shape=(image_size, image_size, 3),
        weights=None if weights == "none" else weights,
        **weights_lib.builder_overrides(model_name, weights),
    )


def pretrain_on_source(
    model_name: str, image_size: int, epochs: int, batch_size: int, path: str, seed: int
) -> dict[str, float]:
    """Offline stand-in for ImageNet pretraining: train on digits 0-4, save the no-top backbone."""
    images, labels = digits_arrays(image_size, SOURCE_DIGITS)
    say(
        f"pretraining (the offline stand-in for ImageNet): {model_name} from scratch on digits 0-4, "
        f"{len(labels)} images, {epochs} epochs, Adam lr 0.001"
    )
    backbone = krp.get_model(model_name, include_top=False, pooling="avg", input_shape=images.shape[1:])
    model = classifier(backbone, len(SOURCE_DIGITS), dropout=0.0)
    _compile(model, 1e-3)
    history = model.fit(
        images, labels, batch_size=batch_size, epochs=epochs, shuffle=True, **epoch_lines("pretraining", epochs)
    )
    backbone.save_weights(path)
    accuracy = float(history.history["accuracy"][-1])
    say(f"pretraining: train accuracy {100 * accuracy:.1f}%; backbone saved to {path}")
    return {"source_train_accuracy": accuracy}


def two_phase_fine_tuning(
    model: keras.Model,
    train,
    validation,
    *,
    head_epochs: int,
    finetune_epochs: int,
    unfreeze_from: str,
    head_lr: float,
    finetune_lr: float,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Phase 1: frozen backbone, train the head. Phase 2: unfreeze from `unfreeze_from`, low lr.

    `train` / `validation` are datasets or (images, labels) tuples. Returns accuracies and the
    trainable-parameter counts of both phases; prints a line per phase and per epoch.
    """

    def fit(label, epochs):
        if isinstance(train, tuple):
            model.fit(*train, batch_size=batch_size, epochs=epochs, shuffle=True, **epoch_lines(label, epochs))
        else:
            model.fit(train, epochs=epochs, shuffle=False, **epoch_lines(label, epochs))  # shuffled by tf.data

    def accuracy():
        if isinstance(validation, tuple):
            return float(model.evaluate(*validation, batch_size=batch_size or 32, verbose=0)[1])
        return float(model.evaluate(validation, verbose=0)[1])

    results: dict[str, Any] = {"phase1_params": krp.freeze_backbone(model)}
    _compile(model, head_lr)
    results["initial_accuracy"] = accuracy()
    say(
        f"phase 1: backbone frozen (BatchNormalization in inference mode), training the new head: "
        f"{results['phase1_params']['trainable']:,} trainable parameters, {head_epochs} epochs, Adam lr {head_lr:g}"
    )
    fit("phase 1", head_epochs)
    results["phase1_accuracy"] = accuracy()
    say(
        f"phase 1: held-out accuracy {100 * results['phase1_accuracy']:.1f}% "
        f"(before training the head: {100 * results['initial_accuracy']:.1f}%)"
    )
    results["phase2_params"] = krp.unfreeze(model, from_stage=unfreeze_from)
    _compile(model, finetune_lr)
    say(
        f"phase 2: {unfreeze_from} onwards unfrozen, BatchNormalization kept frozen: "
        f"{results['phase2_params']['trainable']:,} trainable parameters, {finetune_epochs} epochs, "
        f"Adam lr {finetune_lr:g}"
    )
    fit("phase 2", finetune_epochs)
    results["phase2_accuracy"] = accuracy()
    say(f"phase 2: held-out accuracy {100 * results['phase2_accuracy']:.1f}%")
    return results


def run_offline(
    model_name: str = "resnet18",
    *,
    weights: str | None = None,
    image_size: int = 32,
    batch_size: int = 64,
    pretrain_epochs: int = 4,
    head_epochs: int = 5,
    finetune_epochs: int = 4,
    unfreeze_from: str = "conv5_x",
    head_lr: float = 1e-2,
    finetune_lr: float = 3e-4,
    dropout: float = 0.2,
    train_fraction: float = 0.5,
    save_pretrained: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Pretrain on digits 0-4 (unless `weights` is a file or "none"), fine-tune on digits 5-9."""
    keras.utils.set_random_seed(seed)
    say(
        f"offline: scikit-learn's digits, no network; source task digits 0-4, target task digits 5-9, "
        f"{image_size}x{image_size}"
    )
    results: dict[str, Any] = {"model": model_name, "dataset": "digits 5-9", "image_size": image_size}
    with tempfile.TemporaryDirectory() as tmp:
        if weights is None:
            weights = save_pretrained or os.path.join(tmp, f"{model_name}_digits04.weights.h5")
            results.update(pretrain_on_source(model_name, image_size, pretrain_epochs, batch_size, weights, seed))
        backbone = build_backbone(model_name, image_size, weights)
    images, labels = digits_arrays(image_size, TARGET_DIGITS)
    train, test = split(images, labels, train_fraction, seed)
    say(f"data: digits 5-9, {len(train[1])} training and {len(test[1])} held-out images")
    model = classifier(backbone, len(TARGET_DIGITS), dropout)
    results.update(
        two_phase_fine_tuning(
            model,
            train,
            test,
            head_epochs=head_epochs,
            finetune_epochs=finetune_epochs,
            unfreeze_from=unfreeze_from,
            head_lr=head_lr,
            finetune_lr=finetune_lr,
            batch_size=batch_size,
        )
    )
    results.update(target_train_size=len(train[1]), target_test_size=len(test[1]))
    return results


def run_tfds(
    dataset: str = "tf_flowers",
    model_name: str = "resnet50",
    *,
    weights: str = "imagenet",
    image_size: int | None = None,
    batch_size: int = 32,
    head_epochs: int = 5,
    finetune_epochs: int = 5,
    unfreeze_from: str = "conv5_x",
    head_lr: float = 1e-3,
    finetune_lr: float = 1e-4,
    dropout: float = 0.2,
    seed: int = 0,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """Fine-tune `model_name` with release `weights` on tfds `dataset`, preprocessed as the release."""
    keras.utils.set_random_seed(seed)
    if weights_lib.is_registered_tag(weights):
        prep = preprocessing.preprocessing_for(model_name, weights)
        image_size = image_size or prep["input_size"][0]
        mode: str | dict = weights_lib.get_pretrained_config(model_name, weights)
    else:
        image_size, mode = image_size or 224, "caffe"
    backbone = build_backbone(model_name, image_size, weights)
    train, val, num_classes = tfds_datasets(dataset, image_size, batch_size, mode, seed, data_dir)
    model = classifier(backbone, num_classes, dropout)
    results = {"dataset": dataset, "model": model_name, "weights": weights, "image_size": image_size}
    results.update(
        two_phase_fine_tuning(
            model,
            train,
            val,
            head_epochs=head_epochs,
            finetune_epochs=finetune_epochs,
            unfreeze_from=unfreeze_from,
            head_lr=head_lr,
            finetune_lr=finetune_lr,
        )
    )
    return results


def settings_from_flags() -> dict[str, Any]:
    """The run's arguments: the flags given, else the defaults of the mode (online or --offline)."""
    mode = "offline" if FLAGS.offline else "online"
    wrong = [name for name in (ONLINE_ONLY if FLAGS.offline else OFFLINE_ONLY) if FLAGS[name].present]
    if wrong:
        raise cli.UsageError(f"--{wrong[0]} is {'not used with' if FLAGS.offline else 'only for'} --offline")
    if FLAGS.offline and FLAGS.weights is not None and FLAGS.pretrain_epochs is not None:
        raise cli.UsageError(f"--pretrain_epochs: --weights={FLAGS.weights} is given, so nothing is pretrained")
    settings = {
        key: value if getattr(FLAGS, key) is None else getattr(FLAGS, key) for key, value in DEFAULTS[mode].items()
    }
    settings.update(
        model_name=settings.pop("model"), unfreeze_from=FLAGS.unfreeze_from, dropout=FLAGS.dropout, seed=FLAGS.seed
    )
    if FLAGS.offline:
        settings["save_pretrained"] = FLAGS.save_pretrained
    else:
        settings.update(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir)
    return settings


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected argument {argv[1]!r} (flags are written --name=value)")
    settings = settings_from_flags()
    start = time.time()
    try:
        results = (run_offline if FLAGS.offline else run_tfds)(**settings)
    except WeightsUnavailableError as err:
        raise WeightsUnavailableError(f"{err} Here: --weights PATH, --weights none, or --offline.") from None
    except weights_lib.WeightsMismatchError as err:
        raise cli.UsageError(f"--weights={FLAGS.weights}: {err}") from None
    say(
        f"result: {results['model']} fine-tuned on {results['dataset']}: held-out accuracy "
        f"{100 * results['initial_accuracy']:.1f}% (new head) -> {100 * results['phase1_accuracy']:.1f}% "
        f"(phase 1) -> {100 * results['phase2_accuracy']:.1f}% (phase 2); {time.time() - start:.0f} s"
    )


if __name__ == "__main__":
    define_flags()
    cli.run(main, doc=__doc__)
