"""Transfer learning: freezing the backbone up to a stage of Table 1, and unfreezing it again.

The ImageNet features of the paper transfer to other tasks (docs/paper.md, 'Detection (Sec. 4.3)': detection and
localization with ResNet-101 features). The standard two-phase fine-tuning recipe:

1. Build the backbone with ``include_top=False`` and ``pooling="avg"`` (or take
   `feature_extractor(model)` for a dense head), put a new head on it, call
   ``freeze_backbone(model)`` and train the head alone at a normal learning rate (e.g. 1e-3).
2. Call ``unfreeze(model, from_stage="conv5_x")`` (or ``"conv4_x"``), re-compile (Keras reads
   `trainable` at compile time) and train on at a low learning rate (e.g. 1e-4 or 1e-5).

Frozen means both "no gradient" and "BatchNormalization in inference mode". In Keras 3 these are
the same switch: a BatchNormalization layer with ``trainable=False`` normalises with its moving
statistics and leaves them untouched even when the model is called with ``training=True``
(``tests/models/test_transfer.py`` checks this on flat and nested models). By default `unfreeze`
keeps the BatchNormalization layers frozen, so a small target data set fine-tunes the
convolutions without overwriting the ImageNet statistics with noisy batch estimates (the
paper fixes BN for its detection fine-tuning too: Appendix A, in docs/paper.md, 'Detection (Sec. 4.3)').

Stages are named as in Table 1: ``conv1`` (stem: 7x7 conv, BN, ReLU and max pool on ImageNet;
3x3 conv on CIFAR), then ``conv2_x`` ... ``conv5_x`` (``conv4_x`` is the last CIFAR stage).
Layers outside the stages (the classifier, pooling, a user's head) are the head. Everything here
walks leaf layers, so it works on flat models, nested ones (stage and block sub-models, as used
for ResNet-1202) and models that wrap a backbone as one layer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator

import keras

from keras_resnet_paper.graph import iter_layers
from keras_resnet_paper.validation import check_bool

#: Stem layer names (ImageNet: conv1_pad, conv1_conv, conv1_bn, conv1_relu, pool1_pad, pool1_pool).
_STEM = re.compile(r"^(conv1|pool1)_")
#: Stage layers, block sub-models and stage sub-models: conv{s}_block{b}_*, conv{s}_block{b}, conv{s}_x.
_STAGE = re.compile(r"^conv(\d+)_(?:block\d+(?:_|$)|x$)")


def layer_stage(name: str) -> str | None:
    """The Table 1 stage of a layer name: "conv1", "conv2_x", ...; None for head layers."""
    if _STEM.match(name):
        return "conv1"
    match = _STAGE.match(name)
    if match and int(match.group(1)) >= 2:
        return f"conv{match.group(1)}_x"
    return None


def _stage_index(stage: str) -> int:
    return 1 if stage == "conv1" else int(stage[4:-2])


def backbone_stages(model: keras.Model) -> tuple[str, ...]:
    """The stages present in `model`, in order ("conv1", "conv2_x", ...)."""
    found = {layer_stage(layer.name) for layer in iter_layers(model)} - {None}
    if not found:
        raise ValueError(f"model {model.name!r} has no ResNet stages (layers named conv1_* or conv{{s}}_block*).")
    return tuple(sorted(found, key=_stage_index))


def _check_stage(model: keras.Model, stage: str | None, argument: str) -> tuple[str, ...]:
    stages = backbone_stages(model)
    if stage is not None and stage not in stages:
        raise ValueError(f"{argument}={stage!r} is not a stage of model {model.name!r}; allowed: {list(stages)}.")
    return stages


def _containers(model: keras.Model) -> Iterator[keras.Model]:
    """Every nested sub-model of `model` (stage, block and wrapped backbone models), outermost first."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield layer
            yield from _containers(layer)


def _apply(model: keras.Model, leaf_trainable) -> None:
    """Set each leaf layer's `trainable` to `leaf_trainable(layer)`; containers follow their leaves.

    Keras propagates `trainable` downwards and hides every weight of a non-trainable container, so
    a container (the model itself, a nested stage such as ``conv4_x``, a block) is made trainable
    exactly when one of its weight-carrying leaves is, before the leaves are set.
    """
    wanted: dict[int, bool] = {}

    def visit(container: keras.Model) -> bool:
        any_trainable = False
        for layer in container.layers:
            if isinstance(layer, keras.Model):
                any_trainable |= visit(layer)
            elif not isinstance(layer, keras.layers.InputLayer):
                wanted[id(layer)] = bool(leaf_trainable(layer))
                any_trainable |= wanted[id(layer)] and bool(layer.weights)
        wanted[id(container)] = any_trainable
        return any_trainable

    visit(model)
    for container in [model, *_containers(model)]:
        container.trainable = wanted[id(container)]
    for layer in iter_layers(model):
        layer.trainable = wanted[id(layer)]


def parameter_counts(model: keras.Model) -> dict[str, int]:
    """{"trainable": n, "non_trainable": n} scalar parameter counts, as `model.summary()` reports."""
    count = lambda weights: sum(math.prod(w.shape) for w in weights)  # noqa: E731
    return {"trainable": count(model.trainable_weights), "non_trainable": count(model.non_trainable_weights)}


def freeze_backbone(model: keras.Model, up_to: str | None = None) -> dict[str, int]:
    """Freeze the stem and every stage up to and including `up_to` (default: the last stage).

    Frozen layers get ``trainable=False``: no gradient, and BatchNormalization in inference mode
    (moving statistics used and kept) even under ``training=True``. Later stages and the head are
    made trainable. Returns `parameter_counts(model)`; re-compile the model afterwards.

    Example: ``freeze_backbone(model, up_to="conv4_x")`` trains only conv5_x and the head.
    """
    stages = _check_stage(model, up_to, "up_to")
    last = _stage_index(up_to or stages[-1])

    def trainable(layer):
        stage = layer_stage(layer.name)
        return stage is None or _stage_index(stage) > last

    _apply(model, trainable)
    return parameter_counts(model)


def unfreeze(model: keras.Model, from_stage: str | None = None, *, keep_bn_frozen: bool = True) -> dict[str, int]:
    """Make `from_stage` and every later stage trainable (all of the backbone if None).

    Earlier stages are frozen and the head is trainable. With `keep_bn_frozen` (the default,
    recommended for small data sets) BatchNormalization layers everywhere stay frozen, i.e. keep
    running in inference mode with the pretrained statistics; pass False to train them too.
    Returns `parameter_counts(model)`; re-compile with a low learning rate afterwards.
    """
    check_bool("keep_bn_frozen", keep_bn_frozen)
    _check_stage(model, from_stage, "from_stage")
    first = _stage_index(from_stage) if from_stage is not None else 0

    def trainable(layer):
        if keep_bn_frozen and isinstance(layer, keras.layers.BatchNormalization):
            return False
        stage = layer_stage(layer.name)
        return stage is None or _stage_index(stage) >= first

    _apply(model, trainable)
    return parameter_counts(model)


def frozen_stages(model: keras.Model) -> tuple[str, ...]:
    """The stages whose weight-carrying layers are all frozen (BatchNormalization aside)."""
    trainable: dict[str, list[bool]] = {}
    trainable_ids = {id(w) for w in model.trainable_weights}
    for layer in iter_layers(model):
        stage = layer_stage(layer.name)
        if stage is None or not layer.weights or isinstance(layer, keras.layers.BatchNormalization):
            continue
        trainable.setdefault(stage, []).append(any(id(w) in trainable_ids for w in layer.weights))
    return tuple(s for s in backbone_stages(model) if s in trainable and not any(trainable[s]))


def recompute_bn_statistics(model: keras.Model, batches: Iterable) -> int:
    """Set every BatchNormalization's moving mean and variance to the plain average of its batch
    statistics over `batches` (arrays, tensors or (images, labels) pairs); returns the batch count.

    As the authors' release did after training (docs/paper.md, 'Batch normalization'). Also useful before
    freezing a backbone whose statistics do not fit the new inputs (e.g. one built with
    ``weights=None``), since a frozen BN normalises with them. Weights are not changed; each layer's
    `trainable` and `momentum` are restored afterwards. The variance averaged is the per-batch one.
    """
    layers = bn_layers(model)
    if not layers:
        raise ValueError(f"model {model.name!r} has no BatchNormalization layers.")
    saved = [(layer, layer.trainable, layer.momentum) for layer in layers]
    count = 0
    try:
        for layer in layers:
            layer.trainable = True  # a non-trainable BN would not update its statistics
        for batch in batches:
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            for layer in layers:
                layer.momentum = count / (count + 1.0)  # running average: batch k gets weight 1/(k+1)
            model(images, training=True)
            count += 1
    finally:
        for layer, trainable, momentum in saved:
            layer.trainable, layer.momentum = trainable, momentum
    if count == 0:
        raise ValueError("batches is empty; pass at least one batch of images.")
    return count


def bn_layers(model: keras.Model, stages: Iterable[str] | None = None) -> list[keras.layers.BatchNormalization]:
    """The BatchNormalization layers of `model` (of the given stages only, if `stages` is set)."""
    wanted = None if stages is None else set(stages)
    return [
        layer
        for layer in iter_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization) and (wanted is None or layer_stage(layer.name) in wanted)
    ]
