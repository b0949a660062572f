"""examples/transfer_learning.py: the two-phase recipe end to end on scikit-learn's digits."""

from __future__ import annotations

import numpy as np
import pytest

import keras_resnet_paper as krp
from keras_resnet_paper.models.weights import WeightsMismatchError

@pytest.fixture(scope="module")
def example(load_example):
    return load_example("transfer_learning")


def test_digits_source_and_target_tasks(example):
    images, labels = example.digits_arrays(32, example.TARGET_DIGITS)
    assert images.shape[1:] == (32, 32, 3) and images.dtype == np.float32
    assert sorted(set(labels.tolist())) == [0, 1, 2, 3, 4]
    assert -1.0 <= images.min() and images.max() <= 1.0
    assert set(example.SOURCE_DIGITS).isdisjoint(example.TARGET_DIGITS)
    (xtr, ytr), (xte, yte) = example.split(images, labels, 0.5, seed=0)
    assert abs(len(ytr) - len(yte)) <= 1 and len(ytr) + len(yte) == len(labels)
    with pytest.raises(ValueError, match="image_size=16"):
        example.digits_arrays(16, example.TARGET_DIGITS)


def test_weights_path_and_phase_parameter_counts(example, tmp_path):
    """Mechanics with a tiny budget: weights=PATH loads, phase 1 trains the head alone."""
    path = str(tmp_path / "backbone.weights.h5")
    krp.ResNet18(include_top=False, pooling="avg", input_shape=(32, 32, 3)).save_weights(path)
    results = example.run_offline(weights=path, head_epochs=1, finetune_epochs=1, train_fraction=0.2,
                                  batch_size=64)
    assert results["phase1_params"]["trainable"] == 512 * 5 + 5
    conv5 = krp.ResNet18(include_top=False, input_shape=(32, 32, 3))
    conv5_kernels = sum(int(np.prod(w.shape)) for layer in krp.iter_layers(conv5)
                        if layer.name.startswith("conv5_") and "_conv" in layer.name for w in layer.weights)
    assert results["phase2_params"]["trainable"] == 512 * 5 + 5 + conv5_kernels  # BN kept frozen
    assert 0.0 <= results["phase2_accuracy"] <= 1.0
    other = str(tmp_path / "resnet34.weights.h5")
    krp.ResNet34(include_top=False, pooling="avg", input_shape=(32, 32, 3)).save_weights(other)
    with pytest.raises(WeightsMismatchError, match="first mismatching layer"):
        example.run_offline(weights=other, head_epochs=0, finetune_epochs=0)


@pytest.mark.slow
def test_offline_transfer_reaches_high_accuracy(example, tmp_path):
    """Pretrain on digits 0-4, fine-tune on the unseen digits 5-9: high test accuracy."""
    saved = tmp_path / "digits04.weights.h5"
    results = example.run_offline(pretrain_epochs=4, head_epochs=5, finetune_epochs=4, head_lr=1e-2,
                                  finetune_lr=3e-4, batch_size=64, save_pretrained=str(saved))
    assert saved.exists()
    assert results["source_train_accuracy"] > 0.95
    assert results["phase1_accuracy"] > results["initial_accuracy"] + 0.3
    assert results["phase2_accuracy"] >= 0.9, results


def test_tfds_path_on_mock_data(example):
    """The online path (tfds, preprocessing, two phases) on tfds' generated stand-in for tf_flowers."""
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=10, policy=tfds.testing.MockPolicy.USE_CODE):
        train, val, num_classes = example.tfds_datasets("tf_flowers", 32, 4, "caffe", seed=0)
        images, labels = next(iter(train))
        assert num_classes == 5 and images.shape == (4, 32, 32, 3) and labels.shape == (4,)
        # Caffe preprocessing: BGR minus the ImageNet mean, so values lie in [-124, 152].
        assert -124 <= float(images.numpy().min()) and float(images.numpy().max()) <= 152
        results = example.run_tfds("tf_flowers", "resnet18", weights="none", image_size=32, batch_size=4,
                                   head_epochs=1, finetune_epochs=1)
    assert results["phase1_params"]["trainable"] == 512 * 5 + 5
    assert 0.0 <= results["phase2_accuracy"] <= 1.0


@pytest.mark.slow
def test_tfds_path_with_imagenet_release(example, monkeypatch, tmp_path):
    """The default online path: ResNet-50 "imagenet" (registry, Caffe preprocessing, BN epsilon),
    with the download replaced by a local file in the keras.applications layout."""
    import keras

    from keras_resnet_paper.models import weights as weights_lib

    tfds = pytest.importorskip("tensorflow_datasets")
    path = str(tmp_path / "resnet50_notop.h5")
    source = krp.ResNet50(include_top=False, input_shape=(64, 64, 3), bn_epsilon=1.001e-5)
    weights_lib.write_keras_applications_h5(path, weights_lib.model_to_keras_applications_layout(source))
    requested = []
    monkeypatch.setattr(keras.utils, "get_file", lambda name, *a, **k: requested.append(name) or path)
    with tfds.testing.mock_data(num_examples=10, policy=tfds.testing.MockPolicy.USE_CODE):
        results = example.run_tfds("tf_flowers", "resnet50", weights="imagenet", image_size=64,
                                   batch_size=4, head_epochs=1, finetune_epochs=1)
    assert requested == ["resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"]
    assert results["phase1_params"]["trainable"] == 2048 * 5 + 5
    assert 0.0 <= results["phase2_accuracy"] <= 1.0
