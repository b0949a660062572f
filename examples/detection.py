"""Object detection on the paper's ResNet-50 features: a keras-cv RetinaNet (PAPER.md, Sec. 4.3).

    pip install ".[cv]"
    python examples/detection.py                              # ResNet-50 "imagenet", PASCAL VOC 2007
    python examples/detection.py --synthetic --model=resnet18 --weights=none   # no network

The paper replaces VGG-16 by ResNet-101 in Faster R-CNN (Sec. 4.3, Tables 7-8: VOC07 mAP
73.2 -> 76.4). In the same spirit (not the same detector), this puts a keras-cv RetinaNet
(feature pyramid + focal loss) on the stage outputs of our ResNet: P3, P4, P5 are conv3_x,
conv4_x, conv5_x (strides 8, 16, 32). As in the paper's detector (its Appendix A),
BatchNormalization stays in inference mode with the ImageNet statistics, and the stem and conv2_x are frozen
(`--freeze_up_to`). `--synthetic` trains on generated images of coloured rectangles instead of
VOC, to check the wiring offline; it says nothing about detection accuracy.
"""

from __future__ import annotations

import json
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

import keras_resnet_paper as krp
from keras_resnet_paper import weights as weights_lib
from keras_resnet_paper.models.graph import graph_inputs
from keras_resnet_paper.weights import preprocessing

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command-line flags (defined only when run as a script, so tests can import it)."""
    flags.DEFINE_string("dataset", "voc/2007", "tfds detection data set with objects/bbox and objects/label.")
    flags.DEFINE_string("data_dir", None, "tfds data directory.")
    flags.DEFINE_bool("synthetic", False, "Train on generated boxes (no network).")
    flags.DEFINE_string("model", "resnet50", "Backbone: an ImageNet-family model of the paper.")
    flags.DEFINE_string("weights", "imagenet", 'Backbone weights: "imagenet", "none" or a file path.')
    flags.DEFINE_integer("image_size", 512, "Square input size (a multiple of 128).")
    flags.DEFINE_integer("batch_size", 8, "Batch size.")
    flags.DEFINE_integer("epochs", 10, "Epochs.")
    flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch (default: one pass over the data).")
    flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate.")
    flags.DEFINE_string("freeze_up_to", "conv2_x", 'Frozen stages (stem up to this one), or "none".')
    flags.DEFINE_integer("max_boxes", 32, "Boxes per image after padding with -1.")
    flags.DEFINE_integer("seed", 0, "Random seed.")


#: Pyramid levels RetinaNet reads, and the Table 1 stages that feed them.
PYRAMID_STAGES = {"P3": "conv3_x", "P4": "conv4_x", "P5": "conv5_x"}
BOX_FORMAT = "xyxy"


def _keras_cv():
    try:
        import keras_cv
    except ImportError as err:  # pragma: no cover - depends on the installed extras
        raise ImportError('examples/detection.py needs keras-cv: pip install ".[cv]"') from err
    return keras_cv


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
            raise ValueError(f"model {model.name!r} has no stage {stage!r} for pyramid level {level}; "
                             f"it has {list(stage_tensors)} (use an ImageNet-family model).")
        tensor = stage_tensors[stage]
        levels[level] = f"{stage}_pyramid"
        outputs.append(keras.layers.Identity(name=levels[level])(tensor))
    backbone = keras_cv.models.Backbone(inputs=graph_inputs(model), outputs=outputs, name=f"{model.name}_backbone")
    backbone.pyramid_level_inputs = levels
    return backbone


def retinanet(model_name: str = "resnet50", num_classes: int = 20, *, weights: str | None = "imagenet",
              image_size: int = 512, freeze_up_to: str | None = "conv2_x", bn_calibration=None,
              **model_kwargs: Any):
    """A keras-cv RetinaNet on our `model_name` backbone, its BatchNormalization frozen.

    The stem and stages up to `freeze_up_to` are frozen entirely (None: none are); every BN layer
    runs in inference mode (`unfreeze(..., keep_bn_frozen=True)`). A backbone without pretrained
    statistics (weights "none") should get `bn_calibration` batches to recompute them from first.
    """
    if image_size % 128:
        raise ValueError(f"image_size={image_size}: must be a multiple of 128 (pyramid levels P3-P7).")
    keras_cv = _keras_cv()
    overrides = weights_lib.builder_overrides(model_name, weights)
    model = krp.get_model(model_name, include_top=False, input_shape=(image_size, image_size, 3),
                          weights=None if weights == "none" else weights, **{**overrides, **model_kwargs})
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
    detector = keras_cv.models.RetinaNet(backbone=pyramid_backbone(model), num_classes=num_classes,
                                         bounding_box_format=BOX_FORMAT)
    return detector


def compile_detector(detector, learning_rate: float = 1e-4) -> None:
    """Adam with global gradient clipping, focal loss and smooth L1 (the RetinaNet losses)."""
    detector.compile(optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=10.0),
                     classification_loss="focal", box_loss="smoothl1")


def _pad_boxes(boxes, classes, max_boxes: int):
    """The first `max_boxes` boxes and classes, each padded with -1 to exactly `max_boxes`."""

    def pad(values, width):
        values = values[:max_boxes]
        padding = [[0, max_boxes - tf.shape(values)[0]]] + [[0, 0]] * (len(width) - 1)
        return tf.reshape(tf.pad(values, padding, constant_values=-1.0), (max_boxes, *width[1:]))

    return pad(tf.cast(boxes, tf.float32), (None, 4)), pad(tf.cast(classes, tf.float32), (None,))


def tfds_detection(name: str, split: str, image_size: int, batch_size: int, mode: str | dict,
                   max_boxes: int = 32, train: bool = True, seed: int = 0,
                   data_dir: str | None = None) -> tuple[tf.data.Dataset, int]:
    """(dataset of (images, {"boxes", "classes"}), number of classes) from a tfds detection set.

    Images are resized to image_size x image_size (aspect not kept; boxes follow exactly), flipped
    at random when training, and preprocessed for the weights (`mode`). Boxes are absolute
    ``xyxy``, padded to `max_boxes` with -1 (keras-cv's convention for "no box").
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    builder.download_and_prepare()
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


def synthetic_boxes(n: int, image_size: int, num_classes: int = 3, max_boxes: int = 4,
                    seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """n noisy images with 1..max_boxes-1 filled rectangles; class k is colour channel k.

    Pixels in [0, 255]; boxes absolute ``xyxy`` padded with -1.
    """
    if not 1 <= num_classes <= 3:
        raise ValueError(f"num_classes={num_classes}: synthetic classes are colour channels, 1 to 3.")
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 60, (n, image_size, image_size, 3)).astype("float32")
    boxes = -np.ones((n, max_boxes, 4), "float32")
    classes = -np.ones((n, max_boxes), "float32")
    for i in range(n):
        for j in range(rng.integers(1, max_boxes)):
            w, h = rng.integers(image_size // 6, image_size // 2, 2)
            x0, y0 = rng.integers(0, image_size - w), rng.integers(0, image_size - h)
            k = rng.integers(num_classes)
            images[i, y0:y0 + h, x0:x0 + w, k] = 255.0
            boxes[i, j] = (x0, y0, x0 + w, y0 + h)
            classes[i, j] = k
    return images, {"boxes": boxes, "classes": classes}


def run(dataset: str = "voc/2007", model_name: str = "resnet50", *, weights: str = "imagenet",
        synthetic: bool = False, image_size: int = 512, batch_size: int = 8, epochs: int = 10,
        steps_per_epoch: int | None = None, learning_rate: float = 1e-4,
        freeze_up_to: str | None = "conv2_x", max_boxes: int = 32, synthetic_images: int = 64,
        seed: int = 0, data_dir: str | None = None) -> dict[str, Any]:
    """Train a RetinaNet on tfds `dataset` (or generated boxes); the loss history and final losses."""
    keras.utils.set_random_seed(seed)
    mode: str | dict = (weights_lib.get_pretrained_config(model_name, weights)
                        if weights_lib.is_registered_tag(weights) else "caffe")
    if synthetic:
        images, targets = synthetic_boxes(synthetic_images, image_size, max_boxes=max_boxes, seed=seed)
        images = preprocessing.preprocess_input(images, mode=mode)
        train = tf.data.Dataset.from_tensor_slices((images, targets)).batch(batch_size, drop_remainder=True)
        validation, num_classes = train, 3
        train = train.repeat()
        steps_per_epoch = steps_per_epoch or synthetic_images // batch_size
    else:
        train, num_classes = tfds_detection(dataset, "train", image_size, batch_size, mode, max_boxes,
                                            True, seed, data_dir)
        validation, _ = tfds_detection(dataset, "validation", image_size, batch_size, mode, max_boxes,
                                       False, seed, data_dir)
        steps_per_epoch = steps_per_epoch or 5011 // batch_size  # VOC07 trainval / 2
    calibration = train.take(4) if weights == "none" else None
    detector = retinanet(model_name, num_classes, weights=weights, image_size=image_size,
                         freeze_up_to=freeze_up_to, bn_calibration=calibration)
    compile_detector(detector, learning_rate)
    before = detector.evaluate(validation, verbose=0, return_dict=True)
    history = detector.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0)
    after = detector.evaluate(validation, verbose=0, return_dict=True)
    return {"model": model_name, "weights": weights, "dataset": "synthetic" if synthetic else dataset,
            "validation_loss_before": float(before["loss"]), "validation_loss_after": float(after["loss"]),
            "train_loss": [float(v) for v in history.history["loss"]],
            "params": krp.parameter_counts(detector)}


def main(argv: list[str]) -> None:
    del argv
    freeze = None if FLAGS.freeze_up_to == "none" else FLAGS.freeze_up_to
    results = run(FLAGS.dataset, FLAGS.model, weights=FLAGS.weights, synthetic=FLAGS.synthetic,
                  image_size=FLAGS.image_size, batch_size=FLAGS.batch_size, epochs=FLAGS.epochs,
                  steps_per_epoch=FLAGS.steps_per_epoch, learning_rate=FLAGS.learning_rate,
                  freeze_up_to=freeze, max_boxes=FLAGS.max_boxes, seed=FLAGS.seed,
                  data_dir=FLAGS.data_dir)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(main)
