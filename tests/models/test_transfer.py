"""Freezing and unfreezing backbones: BatchNormalization semantics, stage bookkeeping, counts."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet_paper as krp
from keras_resnet_paper.models import transfer

SIZE = 32


def _randomize_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in transfer.bn_layers(model):
        n = layer.moving_mean.shape
        layer.moving_mean.assign(rng.normal(0, 0.3, n).astype("float32"))
        layer.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype("float32"))
    return model


def _classifier(nested, depth=18):
    model = krp.imagenet_resnet(depth, input_shape=(SIZE, SIZE, 3), classes=5, nested=nested)
    return _randomize_bn(model)


def _images(n=4, seed=1):
    return np.random.default_rng(seed).normal(0, 1, (n, SIZE, SIZE, 3)).astype("float32")


def _train_step(model, x, y):
    """One SGD step with training=True; returns the training-mode outputs before the step."""
    opt = keras.optimizers.SGD(0.1)
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = keras.losses.sparse_categorical_crossentropy(y, out)
    grads = tape.gradient(loss, model.trainable_weights)
    opt.apply_gradients(zip(grads, model.trainable_weights))
    return out.numpy()


def _moving_stats(model, stages=None):
    return [
        np.array(v.numpy())
        for layer in transfer.bn_layers(model, stages)
        for v in (layer.moving_mean, layer.moving_variance)
    ]


def _stage_kernels(model, stage):
    return [
        np.array(layer.kernel.numpy())
        for layer in krp.iter_layers(model)
        if transfer.layer_stage(layer.name) == stage and hasattr(layer, "kernel")
    ]


@pytest.mark.parametrize("nested", [False, True])
def test_frozen_bn_runs_in_inference_mode_under_training_true(nested):
    model = _classifier(nested)
    x, y = _images(), np.arange(4) % 5
    transfer.freeze_backbone(model)
    stats = _moving_stats(model)
    inference = model(x, training=False).numpy()
    training_out = _train_step(model, x, y)
    # Frozen BN normalises with its moving statistics: the training-mode forward pass equals
    # the inference one, and the statistics are not updated by the step.
    np.testing.assert_allclose(training_out, inference, rtol=1e-5, atol=1e-6)
    for before, after in zip(stats, _moving_stats(model)):
        np.testing.assert_array_equal(before, after)
    # Only the head moved.
    assert len(model.trainable_weights) == 2


@pytest.mark.parametrize("nested", [False, True])
def test_unfrozen_bn_uses_batch_statistics(nested):
    """The control: without freezing, training=True differs and updates the moving statistics."""
    model = _classifier(nested)
    x, y = _images(), np.arange(4) % 5
    stats = _moving_stats(model)
    inference = model(x, training=False).numpy()
    training_out = _train_step(model, x, y)
    assert np.max(np.abs(training_out - inference)) > 1e-3
    assert any(np.max(np.abs(a - b)) > 0 for a, b in zip(stats, _moving_stats(model)))


@pytest.mark.parametrize("nested", [False, True])
def test_freeze_up_to_named_stage(nested):
    model = _classifier(nested)
    counts = transfer.freeze_backbone(model, up_to="conv4_x")
    assert transfer.frozen_stages(model) == ("conv1", "conv2_x", "conv3_x", "conv4_x")
    trainable_layers = [layer for layer in krp.iter_layers(model) if layer.trainable_weights]
    assert {transfer.layer_stage(layer.name) for layer in trainable_layers} == {"conv5_x", None}
    expected = sum(int(np.prod(w.shape)) for layer in trainable_layers for w in layer.trainable_weights)
    assert counts["trainable"] == expected == krp.count_params(model)
    assert counts["trainable"] + counts["non_trainable"] == model.count_params()
    if nested:
        assert krp.find_layer(model, "conv4_x").trainable is False
        assert krp.find_layer(model, "conv5_x").trainable is True
    # One training step moves conv5_x only.
    before = {s: _stage_kernels(model, s) for s in ("conv4_x", "conv5_x")}
    conv4_stats = _moving_stats(model, ["conv4_x"])
    _train_step(model, _images(), np.arange(4) % 5)
    for a, b in zip(before["conv4_x"], _stage_kernels(model, "conv4_x")):
        np.testing.assert_array_equal(a, b)
    assert any(np.max(np.abs(a - b)) > 0 for a, b in zip(before["conv5_x"], _stage_kernels(model, "conv5_x")))
    for a, b in zip(conv4_stats, _moving_stats(model, ["conv4_x"])):
        np.testing.assert_array_equal(a, b)


def test_nested_cifar_stage_submodel_frozen():
    """ResNet-1202-style nesting (stage and block sub-models), on the small ResNet-20."""
    model = krp.cifar_resnet(20, nested=True, input_shape=(SIZE, SIZE, 3))
    assert transfer.backbone_stages(model) == ("conv1", "conv2_x", "conv3_x", "conv4_x")
    counts = transfer.freeze_backbone(model, up_to="conv3_x")
    assert krp.find_layer(model, "conv2_x").trainable is False
    assert krp.find_layer(model, "conv3_block1").trainable is False
    assert krp.find_layer(model, "conv4_x").trainable is True
    head = krp.find_layer(model, "predictions").count_params()
    conv4 = sum(
        int(np.prod(w.shape))
        for layer in krp.iter_layers(model)
        if transfer.layer_stage(layer.name) == "conv4_x"
        for w in layer.trainable_weights
    )
    assert counts["trainable"] == head + conv4


def test_unfreeze_top_stages_keeps_bn_frozen():
    model = _classifier(False)
    transfer.freeze_backbone(model)
    counts = transfer.unfreeze(model, from_stage="conv5_x")
    assert transfer.frozen_stages(model) == ("conv1", "conv2_x", "conv3_x", "conv4_x")
    assert not any(layer.trainable for layer in transfer.bn_layers(model))
    assert krp.find_layer(model, "conv5_block1_1_conv").trainable
    stats = _moving_stats(model)
    _train_step(model, _images(), np.arange(4) % 5)
    for a, b in zip(stats, _moving_stats(model)):
        np.testing.assert_array_equal(a, b)
    full = transfer.unfreeze(model, keep_bn_frozen=False)
    assert full["non_trainable"] == sum(2 * layer.moving_mean.shape[0] for layer in transfer.bn_layers(model))
    assert full["trainable"] > counts["trainable"]
    assert transfer.frozen_stages(model) == ()


def test_wrapped_backbone_with_new_head():
    """A backbone used as one layer of a bigger model (include_top=False + pooling)."""
    backbone = krp.ResNet18(include_top=False, pooling="avg", input_shape=(SIZE, SIZE, 3))
    inputs = keras.Input((SIZE, SIZE, 3))
    outputs = keras.layers.Dense(3, name="head")(backbone(inputs))
    model = keras.Model(inputs, outputs)
    counts = transfer.freeze_backbone(model)
    assert backbone.trainable is False
    assert counts["trainable"] == 512 * 3 + 3
    counts = transfer.unfreeze(model, "conv5_x")
    assert backbone.trainable is True
    assert counts["trainable"] > 512 * 3 + 3


def test_bad_stage_names_are_refused():
    model = krp.cifar_resnet(20, input_shape=(SIZE, SIZE, 3))
    with pytest.raises(ValueError, match=r"up_to='conv5_x'.*allowed: \['conv1', 'conv2_x', 'conv3_x', 'conv4_x'\]"):
        transfer.freeze_backbone(model, up_to="conv5_x")
    with pytest.raises(ValueError, match="from_stage='stage4'"):
        transfer.unfreeze(model, from_stage="stage4")
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no ResNet stages"):
        transfer.freeze_backbone(plain)


def test_layer_stage_names():
    assert transfer.layer_stage("conv1_conv") == "conv1"
    assert transfer.layer_stage("pool1_pool") == "conv1"
    assert transfer.layer_stage("conv3_block4_2_bn") == "conv3_x"
    assert transfer.layer_stage("conv12_block1") == "conv12_x"
    assert transfer.layer_stage("conv4_x") == "conv4_x"
    assert transfer.layer_stage("predictions") is None
    assert transfer.layer_stage("avg_pool") is None


@pytest.mark.parametrize("nested", [False, True])
def test_recompute_bn_statistics_is_plain_average(nested):
    model = _classifier(nested)
    transfer.freeze_backbone(model, up_to="conv3_x")  # mixed: frozen and trainable BN layers
    flags = [(layer.trainable, layer.momentum) for layer in transfer.bn_layers(model)]
    x = _images(8, seed=3)
    # With one batch, the inference pass then equals the (unfrozen) training pass.
    assert transfer.recompute_bn_statistics(model, [x]) == 1
    assert [(layer.trainable, layer.momentum) for layer in transfer.bn_layers(model)] == flags
    transfer.unfreeze(model, keep_bn_frozen=False)
    np.testing.assert_allclose(model(x, training=False).numpy(), model(x, training=True).numpy(), rtol=1e-3, atol=1e-5)
    # Over two batches the first BN holds the average of the two batch means.
    a, b = _images(4, seed=4), _images(4, seed=5) + 1.0
    transfer.recompute_bn_statistics(model, [(a, None), (b, None)])
    conv1 = keras.Model(model.input, krp.find_layer(model, "conv1_conv").output)
    means = [conv1(x).numpy().mean(axis=(0, 1, 2)) for x in (a, b)]
    np.testing.assert_allclose(
        krp.find_layer(model, "conv1_bn").moving_mean.numpy(), (means[0] + means[1]) / 2, rtol=1e-4, atol=1e-5
    )
    with pytest.raises(ValueError, match="empty"):
        transfer.recompute_bn_statistics(model, [])
