"""Object detection on the paper's ResNet features: a keras-cv RetinaNet (Sec. 4.3, docs/paper.md).

    pip install ".[cv]"
    python examples/detection.py               # ResNet-50 "imagenet" on PASCAL VOC 2007 (downloads both)
    python examples/detection.py --synthetic   # no network: generated boxes, about a minute on a CPU

The paper replaces VGG-16 by ResNet-101 in Faster R-CNN (Sec. 4.3, Tables 7-8: VOC07 mAP
73.2 -> 76.4). In the same spirit (not the same detector), this puts a keras-cv RetinaNet
(feature pyramid + focal loss) on the stage outputs of our ResNet: P3, P4, P5 are conv3_x,
conv4_x, conv5_x (strides 8, 16, 32). As in the paper's detector (its Appendix A),
BatchNormalization stays in inference mode with the ImageNet statistics, and the stem and conv2_x
are frozen (`--freeze_up_to`). It prints the validation loss before and after training; no mAP.

`--synthetic` trains on generated images of coloured rectangles instead of VOC, to check the wiring
offline; it says nothing about detection accuracy. Its defaults are small (ResNet-18, 128x128,
`--weights none` with the BatchNormalization statistics recomputed from the data, 4 epochs of 6
steps); every flag still overrides them.
"""

from __future__ import annotations

# A command: the package starts it as its own commands (no framework notices, interruptible from its
# first second; keras_resnet_paper/startup.py). Set before anything imports TensorFlow.
KERAS_RESNET_PAPER_COMMAND = True

import keras_resnet_paper  # noqa: F401  (first, so that it starts the command before TensorFlow loads)

# isort: split
import os
import sys
import time
import warnings
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from absl import flags

import keras_resnet_paper as krp
from keras_resnet_paper import cli, startup
from keras_resnet_paper import weights as weights_lib
from keras_resnet_paper.errors import WeightsUnavailableError
from keras_resnet_paper.graph import graph_inputs
from keras_resnet_paper.weights import preprocessing

FLAGS = flags.FLAGS

#: The ImageNet family of Table 1: the nets with the conv3_x-conv5_x stages RetinaNet reads.
BACKBONES = tuple(f"{kind}{depth}" for kind in ("resnet", "plain") for depth in (18, 34, 50, 101, 152))
#: Pyramid levels RetinaNet reads, and the Table 1 stages that feed them.
PYRAMID_STAGES = {"P3": "conv3_x", "P4": "conv4_x", "P5": "conv5_x"}
BOX_FORMAT = "xyxy"
#: VOC 2007 trainval has 5011 images; an epoch is half a pass at the default batch size.
VOC07_TRAINVAL = 5011
#: What runs without a network, and what each run's defaults are (flags override them).
DEFAULTS = {
    "online": dict(model="resnet50", weights="imagenet", image_size=512, epochs=10, learning_rate=1e-4),
    "synthetic": dict(model="resnet18", weights="none", image_size=128, epochs=4, learning_rate=3e-4),
}
SYNTHETIC_IMAGES = 48
#: Batches the BatchNormalization statistics of a backbone without pretrained weights come from.
CALIBRATION_BATCHES = 4


def say(line: str) -> None:
    """Print one line of what the example is doing, at once (stdout may be a pipe or a log)."""
    print(line, flush=True)


def define_flags() -> None:
    """The command-line flags (defined only when run as a script, so tests can import it)."""
    online, synthetic = DEFAULTS["online"], DEFAULTS["synthetic"]

    def default(key: str) -> str:
        return f"if not given: {online[key]}, or {synthetic[key]} with --synthetic"

    flags.DEFINE_string("dataset", "voc/2007", "tfds detection data set with objects/bbox and objects/label.")
    flags.DEFINE_string("data_dir", None, "tfds data directory (a folder where the data set is prepared).")
    flags.DEFINE_bool("synthetic", False, "Train on generated boxes: no network, no download.")
    flags.DEFINE_enum("model", None, BACKBONES, f"Backbone ({default('model')}).")
    flags.DEFINE_string(
        "weights", None, f'Backbone weights: "imagenet", "none" or a weights file ({default("weights")}).'
    )
    flags.DEFINE_integer("image_size", None, f"Square input size, a multiple of 128 ({default('image_size')}).")
    flags.DEFINE_integer("batch_size", 8, "Batch size.", lower_bound=1)
    flags.DEFINE_integer("epochs", None, f"Epochs ({default('epochs')}).", lower_bound=1)
    flags.DEFINE_integer(
        "steps_per_epoch",
        None,
        "Steps per epoch (default: half a pass over VOC07 trainval; "
        f"one pass over the {SYNTHETIC_IMAGES} generated images).",
        lower_bound=1,
    )
    flags.DEFINE_float("learning_rate", None, f"Adam learning rate ({default('learning_rate')}).")
    flags.DEFINE_enum(
        "freeze_up_to",
        "conv2_x",
        ["none", "conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x"],
        'Frozen stages: the stem up to this one, or "none".',
    )
    flags.DEFINE_integer("max_boxes", 32, "Boxes per image after padding with -1.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Random seed.")
    flags.register_validator(
        "image_size",
        lambda v: v is None or (v > 0 and v % 128 == 0),
        "must be a positive multiple of 128 (pyramid levels P3-P7)",
    )
    flags.register_validator("learning_rate", lambda v: v is None or v > 0, "must be positive")
    flags.register_validator("weights", _weights_exist, 'must be "imagenet", "none" or an existing file')
    flags.register_multi_flags_validator(
        ["model", "weights", "synthetic"], _release_exists, "no such release of weights for this model"
    )


def _weights_exist(value: str | None) -> bool:
    return value in (None, "none") or weights_lib.is_registered_tag(value) or os.path.isfile(value)


def _release_exists(values: dict[str, Any]) -> bool:
    """A registry tag (--weights imagenet) must exist for the chosen model."""
    if not weights_lib.is_registered_tag(values["weights"]):
        return True
    model = values["model"] or DEFAULTS["synthetic" if values["synthetic"] else "online"]["model"]
    tags = sorted(weights_lib.available_weights(model)[model])
    if model in weights_lib.released_models(values["weights"], "imagenet-1k"):
        return True
    raise flags.ValidationError(
        f"--weights={values['weights']} does not exist for --model={model} (its ImageNet weights: {tags}); "
        "any model takes --weights none or a weights file"
    )


def _keras_cv():
    try:
        import keras_cv
    except ImportError as err:  # pragma: no cover - depends on the installed extras
        raise ImportError('examples/detection.py needs keras-cv: pip install ".[cv]"') from err
    return keras_cv


# ---------------------------------------------------------------------------------------------
# The detector.
# ---------------------------------------------------------------------------------------------


def pyramid_backbone(model: keras.Model):
    """Wrap a ResNet (include_top=False) as a keras-cv Backbone with `pyramid_level_inputs`.

    keras-cv looks each level up by layer name and takes that layer's `output`. A stage sub-model
    of a nested ResNet reports its inner graph's tensor there (Keras' Functional.output), so each
    stage output (`krp.stage_outputs`, outer-graph tensors) gets an Identity layer
    ``conv{s}_x_pyramid`` and the levels name those.
    """
    keras_cv = _keras_cv()
    stage_tensors = krp.stage_outputs(model)
    levels, outputs = {}, []
    for level, stage in PYRAMID_STAGES.items():
        if stage not in stage_tensors:
            raise ValueError(
                f"model {model.name!r} has no stage {stage!r} for pyramid level {level}; "
                f"it has {list(stage_tensors)} (use an ImageNet-family model)."
            )
        tensor = stage_tensors[stage]
        levels[level] = f"{stage}_pyramid"
        outputs.append(keras.layers.Identity(name=levels[level])(tensor))
    backbone = keras_cv.models.Backbone(inputs=graph_inputs(model), outputs=outputs, name=f"{model.name}_backbone")
    backbone.pyramid_level_inputs = levels
    return backbone


def retinanet(
    model_name: str = "resnet50",
    num_classes: int = 20,
    *,
    weights: str | None = "imagenet",
    image_size: int = 512,
    freeze_up_to: str | None = "conv2_x",
    bn_calibration=None,
    **model_kwargs: Any,
):
    """A keras-cv RetinaNet on our `model_name` backbone, its BatchNormalization frozen.

    The stem and stages up to `freeze_up_to` are frozen entirely (None: none are); every BN layer
    runs in inference mode (`unfreeze(..., keep_bn_frozen=True)`). A backbone without pretrained
    statistics (weights "none") should get `bn_calibration` batches to recompute them from first.
    """
    if image_size % 128:
        raise ValueError(f"image_size={image_size}: must be a multiple of 128 (pyramid levels P3-P7).")
    keras_cv = _keras_cv()
    overrides = weights_lib.builder_overrides(model_name, weights)
    model = krp.get_model(
        model_name,
        include_top=False,
        input_shape=(image_size, image_size, 3),
        weights=None if weights == "none" else weights,
        **{**overrides, **model_kwargs},
    )
    if bn_calibration is not None:
        krp.recompute_bn_statistics(model, bn_calibration)
    stages = krp.backbone_stages(model)
    if freeze_up_to is not None and freeze_up_to not in stages:
        raise ValueError(f"freeze_up_to={freeze_up_to!r}; allowed: None or one of {list(stages)}.")
    if freeze_up_to == stages[-1]:
        krp.freeze_backbone(model)
    else:
        following = None if freeze_up_to is None else stages[stages.index(freeze_up_to) + 1]
        krp.unfreeze(model, from_stage=following, keep_bn_frozen=True)
    detector = keras_cv.models.RetinaNet(
        backbone=pyramid_backbone(model), num_classes=num_classes, bounding_box_format=BOX_FORMAT
    )
    return detector


def compile_detector(detector, learning_rate: float = 1e-4) -> None:
    """Adam with global gradient clipping, focal loss and smooth L1 (the RetinaNet losses)."""
    detector.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=10.0),
        classification_loss="focal",
        box_loss="smoothl1",
    )


# ---------------------------------------------------------------------------------------------
# Data: a tfds detection set (VOC), or generated boxes.
# ---------------------------------------------------------------------------------------------


def _pad_boxes(boxes, classes, max_boxes: int):
    """The first `max_boxes` boxes and classes, each padded with -1 to exactly `max_boxes`."""

    def pad(values, width):
        values = values[:max_boxes]
        padding = [[0, max_boxes - tf.shape(values)[0]]] + [[0, 0]] * (len(width) - 1)
        return tf.reshape(tf.pad(values, padding, constant_values=-1.0), (max_boxes, *width[1:]))

    return pad(tf.cast(boxes, tf.float32), (None, 4)), pad(tf.cast(classes, tf.float32), (None,))


def prepared_detection_set(name: str, data_dir: str | None = None):
    """The prepared tfds builder of detection set `name`: downloaded and prepared on first use.

    Raises `DatasetUnavailableError` (one line: what, and to use --data_dir or --synthetic) when it
    cannot be fetched, and `cli.UsageError` for a name tfds does not know or a set without boxes.
    """
    from keras_resnet_paper.data.tfds_prepare import prepared_builder

    hint = (
        f"pass --data_dir DIR where {name} is prepared (`tfds build {name} --data_dir DIR` on a machine "
        "with a network), or run with --synthetic"
    )
    try:
        builder = prepared_builder(name, data_dir, hint=hint)
    except ValueError as err:
        raise cli.UsageError(f"--dataset={name}: {err}") from None
    features = builder.info.features
    if "objects" not in features or not {"bbox", "label"} <= set(features["objects"].keys()):
        raise cli.UsageError(f"--dataset={name} is not a detection set: it has no objects/bbox and objects/label.")
    return builder


def tfds_detection(
    name: str,
    split: str,
    image_size: int,
    batch_size: int,
    mode: str | dict,
    max_boxes: int = 32,
    train: bool = True,
    seed: int = 0,
    data_dir: str | None = None,
) -> tuple[tf.data.Dataset, int]:
    """(dataset of (images, {"boxes", "classes"}), number of classes) from a tfds detection set.

    Images are resized to image_size x image_size (aspect not kept; boxes follow exactly), flipped
    at random when training, and preprocessed for the weights (`mode`). Boxes are absolute
    ``xyxy``, padded to `max_boxes` with -1 (keras-cv's convention for "no box").
    """
    builder = prepared_detection_set(name, data_dir)
    num_classes = builder.info.features["objects"]["label"].num_classes

    def to_xyxy(example):
        image = tf.image.resize(tf.cast(example["image"], tf.float32), (image_size, image_size))
        ymin, xmin, ymax, xmax = tf.unstack(example["objects"]["bbox"], axis=-1)  # relative yxyx
        boxes = tf.stack([xmin, ymin, xmax, ymax], axis=-1) * image_size
        if train:
            flip = tf.random.uniform(()) < 0.5
            image = tf.where(flip, image[:, ::-1], image)
            flipped = tf.stack([image_size - boxes[:, 2], boxes[:, 1], image_size - boxes[:, 0], boxes[:, 3]], -1)
            boxes = tf.where(flip, flipped, boxes)
        boxes, classes = _pad_boxes(boxes, example["objects"]["label"], max_boxes)
        return preprocessing.preprocess_input(image, mode=mode), {"boxes": boxes, "classes": classes}

    ds = builder.as_dataset(split=split, shuffle_files=train)
    if train:
        ds = ds.shuffle(1024, seed=seed).repeat()
    ds = ds.map(to_xyxy, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=train)
    return ds.prefetch(tf.data.AUTOTUNE), num_classes


def synthetic_boxes(
    n: int, image_size: int, num_classes: int = 3, max_boxes: int = 4, seed: int = 0, max_objects: int = 3
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """n noisy images with 1..max_objects filled rectangles; class k is colour channel k.

    Pixels in [0, 255]; boxes absolute ``xyxy`` padded with -1 to `max_boxes`.
    """
    if not 1 <= num_classes <= 3:
        raise ValueError(f"num_classes={num_classes}: synthetic classes are colour channels, 1 to 3.")
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 60, (n, image_size, image_size, 3)).astype("float32")
    boxes = -np.ones((n, max_boxes, 4), "float32")
    classes = -np.ones((n, max_boxes), "float32")
    for i in range(n):
        for j in range(rng.integers(1, min(max_objects, max_boxes) + 1)):
            w, h = rng.integers(image_size // 6, image_size // 2, 2)
            x0, y0 = rng.integers(0, image_size - w), rng.integers(0, image_size - h)
            k = rng.integers(num_classes)
            images[i, y0 : y0 + h, x0 : x0 + w, k] = 255.0
            boxes[i, j] = (x0, y0, x0 + w, y0 + h)
            classes[i, j] = k
    return images, {"boxes": boxes, "classes": classes}


def synthetic_data(n: int, image_size: int, batch_size: int, mode: str | dict, max_boxes: int, seed: int):
    """(repeated train, validation = one pass over the same images, 3 classes) of generated boxes."""
    images, targets = synthetic_boxes(n, image_size, max_boxes=max_boxes, seed=seed)
    images = preprocessing.preprocess_input(images, mode=mode)
    train = tf.data.Dataset.from_tensor_slices((images, targets)).batch(batch_size, drop_remainder=True)
    return train.repeat(), train, 3


# ---------------------------------------------------------------------------------------------
# Training, and what it prints.
# ---------------------------------------------------------------------------------------------


def epoch_lines(epochs: int) -> tuple[int, list[keras.callbacks.Callback]]:
    """(Keras verbosity, callbacks): Keras' progress bar on a terminal, else one line per epoch."""
    if sys.stdout.isatty():
        return 1, []
    start = time.time()

    def line(epoch: int, logs: dict) -> None:
        metrics = "  ".join(
            f"{key} {float(value):.4f}"
            for key, value in sorted((logs or {}).items(), key=lambda kv: kv[0] != "loss")
            if "loss" in key
        )
        say(f"  epoch {epoch + 1}/{epochs}  {metrics}  {time.time() - start:.0f} s")

    return 0, [keras.callbacks.LambdaCallback(on_epoch_end=line)]


def _describe_weights(model_name: str, weights: str) -> str:
    if weights == "none":
        return f"none (random; BatchNormalization statistics recomputed from {CALIBRATION_BATCHES} training batches)"
    if weights_lib.is_registered_tag(weights):
        release = weights_lib.get_release(model_name, weights)
        return f"{weights} ({release.source}; fetched once into ~/.keras/models)"
    return f"from the file {weights}"


def load_data(
    dataset: str,
    synthetic: int,
    image_size: int,
    batch_size: int,
    mode: str | dict,
    max_boxes: int,
    seed: int,
    data_dir: str | None,
    steps_per_epoch: int | None,
):
    """(train, validation, number of classes, steps per epoch), with a line saying what they are.

    `synthetic`: the number of images to generate instead of loading `dataset` (0: load it).
    """
    if synthetic:
        n = max(synthetic, batch_size)
        train, validation, num_classes = synthetic_data(n, image_size, batch_size, mode, max_boxes, seed)
        steps_per_epoch = steps_per_epoch or n // batch_size
        say(
            f"data: {n} generated {image_size}x{image_size} images of 1-3 coloured rectangles "
            f"({num_classes} classes); validation on the same images"
        )
        return train, validation, num_classes, steps_per_epoch
    say(f"data: tensorflow-datasets {dataset} (downloaded and prepared on first use)")
    train, num_classes = tfds_detection(dataset, "train", image_size, batch_size, mode, max_boxes, True, seed, data_dir)
    validation, _ = tfds_detection(
        dataset, "validation", image_size, batch_size, mode, max_boxes, False, seed, data_dir
    )
    return train, validation, num_classes, steps_per_epoch or VOC07_TRAINVAL // 2 // batch_size


def run(
    dataset: str = "voc/2007",
    model_name: str = "resnet50",
    *,
    weights: str = "imagenet",
    synthetic: bool = False,
    image_size: int = 512,
    batch_size: int = 8,
    epochs: int = 10,
    steps_per_epoch: int | None = None,
    learning_rate: float = 1e-4,
    freeze_up_to: str | None = "conv2_x",
    max_boxes: int = 32,
    synthetic_images: int = SYNTHETIC_IMAGES,
    seed: int = 0,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """Train a RetinaNet on tfds `dataset` (or generated boxes), printing each step; the results."""
    keras.utils.set_random_seed(seed)
    mode: str | dict = (
        weights_lib.get_pretrained_config(model_name, weights) if weights_lib.is_registered_tag(weights) else "caffe"
    )
    train, validation, num_classes, steps_per_epoch = load_data(
        dataset,
        synthetic and synthetic_images,
        image_size,
        batch_size,
        mode,
        max_boxes,
        seed,
        data_dir,
        steps_per_epoch,
    )
    say(
        f"backbone: {model_name}, include_top=False, {image_size}x{image_size}; weights: {_describe_weights(model_name, weights)}"
    )
    detector = retinanet(
        model_name,
        num_classes,
        weights=weights,
        image_size=image_size,
        freeze_up_to=freeze_up_to,
        bn_calibration=train.take(CALIBRATION_BATCHES) if weights == "none" else None,
    )
    params = krp.parameter_counts(detector)
    frozen = "nothing" if freeze_up_to is None else f"conv1 to {freeze_up_to}"
    say(
        f"detector: keras-cv RetinaNet, P3-P5 from {', '.join(PYRAMID_STAGES.values())}, {num_classes} classes; "
        f"{params['trainable']:,} trainable parameters of {sum(params.values()):,} (frozen: {frozen}; "
        "every BatchNormalization in inference mode)"
    )
    compile_detector(detector, learning_rate)
    with startup.framework_notices_dropped():  # its lines go to stdout; TensorFlow's oneDNN notice is dropped
        before = float(detector.evaluate(validation, verbose=0, return_dict=True)["loss"])
        say(f"validation loss before training: {before:.4f}")
        say(f"training: {epochs} epochs of {steps_per_epoch} steps, batch {batch_size}, Adam lr {learning_rate:g}")
        verbose, callbacks = epoch_lines(epochs)
        history = detector.fit(
            train, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=verbose, callbacks=callbacks, shuffle=False
        )  # the data set shuffles itself
        after = float(detector.evaluate(validation, verbose=0, return_dict=True)["loss"])
    return {
        "model": model_name,
        "weights": weights,
        "dataset": "synthetic" if synthetic else dataset,
        "validation_loss_before": before,
        "validation_loss_after": after,
        "train_loss": [float(v) for v in history.history["loss"]],
        "params": params,
    }


def settings_from_flags() -> dict[str, Any]:
    """run()'s arguments: the flags given, else the defaults of the mode (online or --synthetic)."""
    given = [name for name in ("dataset", "data_dir") if FLAGS[name].present]
    if FLAGS.synthetic and given:
        raise cli.UsageError(f"--{given[0]} is not used with --synthetic (it generates its images)")
    defaults = DEFAULTS["synthetic" if FLAGS.synthetic else "online"]
    chosen = {key: defaults[key] if getattr(FLAGS, key) is None else getattr(FLAGS, key) for key in defaults}
    if FLAGS.synthetic and FLAGS.weights is None:
        say("--synthetic without --weights: using --weights none (nothing to download)")
    return dict(
        dataset=FLAGS.dataset,
        model_name=chosen["model"],
        weights=chosen["weights"],
        synthetic=FLAGS.synthetic,
        image_size=chosen["image_size"],
        batch_size=FLAGS.batch_size,
        epochs=chosen["epochs"],
        steps_per_epoch=FLAGS.steps_per_epoch,
        learning_rate=chosen["learning_rate"],
        freeze_up_to=None if FLAGS.freeze_up_to == "none" else FLAGS.freeze_up_to,
        max_boxes=FLAGS.max_boxes,
        seed=FLAGS.seed,
        data_dir=FLAGS.data_dir,
    )


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected argument {argv[1]!r} (flags are written --name=value)")
    # keras-cv's RetinaNet takes {"images": ...} as its input structure and is called with the tensor.
    warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match", category=UserWarning)
    start = time.time()
    try:
        results = run(**settings_from_flags())
    except WeightsUnavailableError as err:
        raise WeightsUnavailableError(f"{err} Here: --weights PATH, --weights none, or --synthetic.") from None
    except weights_lib.WeightsMismatchError as err:
        raise cli.UsageError(f"--weights={FLAGS.weights}: {err}") from None
    losses = results["train_loss"]
    say(
        f"result: {results['model']} RetinaNet on {results['dataset']}: validation loss "
        f"{results['validation_loss_before']:.4f} -> {results['validation_loss_after']:.4f}, train loss "
        f"{losses[0]:.4f} (epoch 1) -> {losses[-1]:.4f} (epoch {len(losses)}); {time.time() - start:.0f} s"
    )


if __name__ == "__main__":
    define_flags()
    cli.run(main, doc=__doc__)
