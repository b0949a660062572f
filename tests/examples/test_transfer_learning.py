"""examples/transfer_learning.py: the two-phase recipe end to end on scikit-learn's digits; the command
prints each phase and its result, and a mistake or a missing download is one line and exit status 2."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import pathlib
import re
import shutil

import numpy as np
import pytest
from conftest import reachable

import keras_resnet_paper as krp
from keras_resnet_paper import weights as weights_lib

RESULT = re.compile(r"held-out accuracy ([\d.]+)% \(new head\) -> ([\d.]+)% \(phase 1\) -> ([\d.]+)% \(phase 2\)")


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


def test_tfds_path_on_mock_data(example):
    """The online path (tfds, preprocessing, two phases) on tfds' generated stand-in for tf_flowers."""
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=10, policy=tfds.testing.MockPolicy.USE_CODE):
        train, val, num_classes = example.tfds_datasets("tf_flowers", 32, 4, "caffe", seed=0)
        images, labels = next(iter(train))
        assert num_classes == 5 and images.shape == (4, 32, 32, 3) and labels.shape == (4,)
        # Caffe preprocessing: BGR minus the ImageNet mean, so values lie in [-124, 152].
        assert -124 <= float(images.numpy().min()) and float(images.numpy().max()) <= 152
        results = example.run_tfds(
            "tf_flowers", "resnet18", weights="none", image_size=32, batch_size=4, head_epochs=1, finetune_epochs=1
        )
    assert results["phase1_params"]["trainable"] == 512 * 5 + 5
    assert 0.0 <= results["phase2_accuracy"] <= 1.0


@pytest.mark.slow
def _test_module(folder: str, name: str):
    """A helper module of another test folder (tests/<folder>/<name>.py), imported by path."""
    spec = importlib.util.spec_from_file_location(name, pathlib.Path(__file__).parents[1] / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tfds_path_with_imagenet_release(example, monkeypatch, tmp_path):
    """The default online path: ResNet-50 "imagenet" (registry, Caffe preprocessing, BN epsilon), its
    file a randomised ResNet-50 in the keras.applications layout, found in the Keras cache."""
    tfds = pytest.importorskip("tensorflow_datasets")
    weights_files = _test_module("weights", "weights_files")
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    path = str(cache / "resnet50_notop.h5")
    source = krp.ResNet50(include_top=False, input_shape=(64, 64, 3), bn_epsilon=1.001e-5)
    weights_files.write_keras_applications_h5(path, weights_files.model_to_keras_applications_layout(source))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("KERAS_RESNET_PAPER_WEIGHTS_URL", "http://127.0.0.1:9/")  # never reached: cached
    with (
        weights_lib.registered(weights_files.release_of(path)),
        tfds.testing.mock_data(num_examples=10, policy=tfds.testing.MockPolicy.USE_CODE),
    ):
        results = example.run_tfds(
            "tf_flowers", "resnet50", weights="imagenet", image_size=64, batch_size=4, head_epochs=1, finetune_epochs=1
        )
    assert results["phase1_params"]["trainable"] == 2048 * 5 + 5
    assert 0.0 <= results["phase2_accuracy"] <= 1.0


def test_tfds_path_from_resnet18_weights(example, monkeypatch, tmp_path):
    """`--model resnet18`: ResNet-18 "imagenet" is torchvision's file (written here as torch.save
    writes it, found in the Keras cache), with its torch preprocessing."""
    tfds = pytest.importorskip("tensorflow_datasets")
    torch_writer = _test_module("weights", "torch_writer")
    from keras_resnet_paper.weights.torch_checkpoint import to_torchvision_state_dict

    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    source = krp.ResNet18(input_shape=(32, 32, 3))
    path = torch_writer.write_torch(cache / "resnet18-f37072fd.pth", to_torchvision_state_dict(source), legacy=False)
    release = weights_lib.get_release("resnet18", "imagenet")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    pinned = dataclasses.replace(release, top_file=dataclasses.replace(release.top_file, file_hash=digest))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("KERAS_RESNET_PAPER_WEIGHTS_URL", "http://127.0.0.1:9/")  # never reached: cached
    with (
        weights_lib.registered(pinned),
        tfds.testing.mock_data(num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE),
    ):
        results = example.run_tfds(
            "tf_flowers", "resnet18", weights="imagenet", image_size=32, batch_size=4, head_epochs=1, finetune_epochs=1
        )
    assert results["phase1_params"]["trainable"] == 512 * 5 + 5 and results["weights"] == "imagenet"
    assert 0.0 <= results["phase2_accuracy"] <= 1.0


# ---------------------------------------------------------------------------------------------
# The command, as a user runs it (a subprocess; stdout is a pipe).
# ---------------------------------------------------------------------------------------------


def _resnet18_backbone_file(path: pathlib.Path, depth: int = 18) -> str:
    krp.get_model(f"resnet{depth}", include_top=False, pooling="avg", input_shape=(32, 32, 3)).save_weights(path)
    return str(path)


@pytest.fixture(scope="module")
def command_lines(run_example_batch, tmp_path_factory):
    """{name: Run}: the command lines below that are not documented commands, run as one batch of
    the script (tests/command_batch.py); `python examples/transfer_learning.py` itself runs as a
    subprocess in test_default_command_without_network_says_what_to_do."""
    files = tmp_path_factory.mktemp("backbones")
    runs = {
        "from a file": [
            "--offline",
            f"--weights={_resnet18_backbone_file(files / 'backbone.weights.h5')}",
            "--head_epochs=1",
            "--finetune_epochs=1",
            "--batch_size=128",
        ],
        "other model": ["--offline", f"--weights={_resnet18_backbone_file(files / 'resnet34.weights.h5', depth=34)}"],
        "imagenette": ["--dataset=imagenette", "--model=resnet101"],
        "online data set": ["--weights=none", "--model=resnet18"],
        "resnet18 imagenet": ["--model=resnet18", "--weights=imagenet"],
        "no such release": ["--model=resnet34", "--weights=imagenet1k_v2"],
    }
    return dict(zip(runs, run_example_batch("transfer_learning", list(runs.values()))))


def test_offline_from_a_weights_file_prints_each_phase(command_lines):
    run = command_lines["from a file"]
    path = run.args[2].split("=", 1)[1]
    assert run.returncode == 0, run.stderr[-3000:]
    run.assert_in_order(
        "offline: scikit-learn's digits",
        f"backbone: resnet18, include_top=False, pooling avg, 32x32; weights: from the file {path}",
        "data: digits 5-9, 448 training and 448 held-out",
        "phase 1: backbone frozen",
        "  phase 1 epoch 1/1  loss",
        "phase 1: held-out accuracy",
        "phase 2: conv5_x onwards unfrozen",
        "  phase 2 epoch 1/1  loss",
        "phase 2: held-out accuracy",
        "result: resnet18 fine-tuned on digits 5-9",
    )
    assert not any(line.startswith("pretraining") for line in run.lines)  # --weights given: none
    conv5 = krp.ResNet18(include_top=False, input_shape=(32, 32, 3))
    conv5_kernels = sum(
        int(np.prod(w.shape))
        for layer in krp.iter_layers(conv5)
        if layer.name.startswith("conv5_") and "_conv" in layer.name
        for w in layer.weights
    )
    assert f" {512 * 5 + 5:,} trainable parameters" in run.line("phase 1: backbone frozen")
    assert f" {512 * 5 + 5 + conv5_kernels:,} trainable parameters" in run.line("phase 2:")  # BN kept frozen
    assert RESULT.search(run.line("result: "))


def test_a_weights_file_of_another_model_is_one_line(command_lines):
    run = command_lines["other model"]
    path = run.args[2].split("=", 1)[1]
    run.assert_one_line_error("transfer_learning.py", f"--weights={path}: Weights", "first mismatching layer")


def test_default_command_without_network_says_what_to_do(run_example):
    """`python examples/transfer_learning.py` as documented: the ImageNet weights cannot be fetched."""
    run = run_example("transfer_learning", timeout=120)
    run.assert_one_line_error(
        "transfer_learning.py",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "--weights PATH, --weights none, or --offline",
    )
    assert run.lines == [
        "backbone: resnet50, include_top=False, pooling avg, 224x224; weights: imagenet (keras.applications "
        "ResNet, converted from the authors' released Caffe models; fetched once into ~/.keras/models)"
    ]


def test_resnet18_imagenet_command_without_network_names_torchvisions_file(command_lines):
    run = command_lines["resnet18 imagenet"]
    run.assert_one_line_error("transfer_learning.py", "resnet18-f37072fd.pth", "--weights PATH")
    assert run.lines == [
        "backbone: resnet18, include_top=False, pooling avg, 224x224; weights: imagenet (torchvision "
        "ResNet18_Weights.IMAGENET1K_V1; fetched once into ~/.keras/models)"
    ]


def test_a_release_another_depth_has_is_one_line(command_lines):
    run = command_lines["no such release"]
    run.assert_one_line_error(
        "transfer_learning.py", "--weights=imagenet1k_v2 does not exist for --model=resnet34 (its ImageNet weights: ["
    )


def test_imagenette_command_without_network_says_what_to_do(command_lines):
    run = command_lines["imagenette"]
    run.assert_one_line_error("transfer_learning.py", "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5")


@pytest.mark.skipif(reachable("download.tensorflow.org", 80), reason="checks what a user without a network sees")
def test_online_data_set_without_network_says_what_to_do(command_lines):
    run = command_lines["online data set"]
    run.assert_one_line_error(
        "transfer_learning.py", "'tf_flowers'", "cannot reach download.tensorflow.org", "--data_dir", "--offline"
    )
    assert run.seconds < 60


@pytest.mark.slow
def test_offline_as_documented_transfers(run_example):
    """`python examples/transfer_learning.py --offline`: pretrain on digits 0-4, fine-tune on 5-9."""
    run = run_example("transfer_learning", "--offline")
    assert run.returncode == 0, run.stderr[-3000:]
    run.assert_in_order(
        "offline: ",
        "pretraining (the offline stand-in for ImageNet): resnet18",
        "  pretraining epoch 4/4",
        "pretraining: train accuracy",
        "backbone: resnet18",
        "phase 1: backbone frozen",
        "  phase 1 epoch 5/5",
        "phase 2: conv5_x",
        "  phase 2 epoch 4/4",
        "result: ",
    )
    source = float(re.search(r"train accuracy ([\d.]+)%", run.line("pretraining: train accuracy")).group(1))
    initial, phase1, phase2 = map(float, RESULT.search(run.line("result: ")).groups())
    assert source > 95 and phase1 > initial + 30 and phase2 >= 90, run.stdout
    print(f"transfer_learning.py --offline: {run.seconds:.0f} s")


@pytest.mark.slow
def test_offline_pretrained_backbone_is_saved_and_reloaded(run_example, tmp_path):
    saved = tmp_path / "digits04.weights.h5"
    run = run_example(
        "transfer_learning",
        "--offline",
        "--pretrain_epochs=1",
        "--head_epochs=1",
        "--finetune_epochs=1",
        f"--save_pretrained={saved}",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert saved.exists() and run.line("pretraining: train accuracy").endswith(f"backbone saved to {saved}")
    assert run.line("backbone: resnet18").endswith(f"weights: from the file {saved}")
    # The file is an ordinary weights file: a later run starts from it.
    copy = shutil.copy(saved, tmp_path / "copy.weights.h5")
    model = krp.ResNet18(include_top=False, pooling="avg", input_shape=(32, 32, 3), weights=str(copy))
    assert model.count_params() > 0
