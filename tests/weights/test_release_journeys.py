"""Issue 22's journeys, as a user takes them: every kind of release through the real download path
(`KERAS_RESNET_PAPER_WEIGHTS_URL` pointing at a real HTTP server on 127.0.0.1) in its real file
format: a torchvision file as torch.save writes it, a timm hub file (safetensors, no published
hash), a CIFAR net in akamaster's layout (generated here, and the published files where the shared
folder has them). Servers that never answer, trickle or stop half-way end in one line after a
bounded time; a file that does not match its pinned hash is refused and not cached; a download on a
terminal shows its progress and is quiet elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
import pty
import sys
import time

import keras
import numpy as np
import pytest
from http_mirror import Mirror
from torch_writer import AKAMASTER, akamaster_forward, write_torch
from weights_files import sha256

import keras_resnet_paper as krp
from keras_resnet_paper import weights as weights_lib
from keras_resnet_paper.errors import WeightsUnavailableError
from keras_resnet_paper.weights.safetensors_io import write_safetensors
from keras_resnet_paper.weights.torch_checkpoint import to_torchvision_state_dict

SIZE = 64


def _cache() -> str:
    return os.path.join(os.environ["KERAS_HOME"], "models")


def _pinned(release: weights_lib.Release, path) -> weights_lib.Release:
    """`release` with its published file name, pinned to the generated file's full sha256."""
    return dataclasses.replace(release, top_file=dataclasses.replace(release.top_file, file_hash=sha256(path)))


def _random_state(model, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") + (w.ndim == 1) for w in model.get_weights()])
    return to_torchvision_state_dict(model, include_num_batches_tracked=False)


def _assert_same_weights(a, b):
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """(path, source model): a random ResNet-18 (1000 classes) as torch.save's zip archive."""
    source = krp.ResNet18(input_shape=(SIZE, SIZE, 3), classifier_activation=None)
    path = tmp_path_factory.mktemp("tv") / "resnet18-f37072fd.pth"
    return write_torch(path, _random_state(source), legacy=False), source


def _photos(size: int) -> list[np.ndarray]:
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    return [keras.utils.img_to_array(img)[: size * 8] for img in sklearn_datasets.load_sample_images().images]


def test_resnet18_and_34_imagenet_are_torchvisions_files(resnet18_file, monkeypatch):
    """ResNet-18/34 "imagenet" is torchvision's V1 (no authors' model exists): fetched once,
    checked, cached under its published name, loaded with torchvision's preprocessing."""
    path, source = resnet18_file
    release = _pinned(weights_lib.get_release("resnet18", "imagenet"), path)
    name = release.top_file.file_name
    with Mirror({name: path.read_bytes()}) as mirror, weights_lib.registered(release):
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        model = krp.ResNet18(weights="imagenet", input_shape=(SIZE, SIZE, 3), classifier_activation=None)
        again = krp.ResNet18(weights="imagenet", input_shape=(SIZE, SIZE, 3), classifier_activation=None)
    assert mirror.requests[name] == 1 and os.listdir(_cache()) == [name]
    _assert_same_weights(model, source)
    _assert_same_weights(again, source)
    assert model.preprocessing is release.preprocessing and model.preprocessing.resize_side == 256
    assert weights_lib.get_release("resnet34", "imagenet").top_file.file_name == "resnet34-b627a593.pth"


def test_a_file_that_does_not_match_its_pinned_hash_is_refused_and_not_cached(resnet18_file, monkeypatch):
    path, _ = resnet18_file  # the real record: its file name's sha256 prefix f37072fd
    with Mirror({"resnet18-f37072fd.pth": path.read_bytes()}) as mirror:
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        with pytest.raises(WeightsUnavailableError) as err:
            krp.ResNet18(weights="imagenet")
    message = str(err.value)
    assert "\n" not in message and f"sha256 {sha256(path)}, not the pinned f37072fd" in message
    assert "nothing was cached" in message and os.listdir(_cache()) == []


def test_resnet50_imagenet1k_v2_with_its_preprocessing(tmp_path, monkeypatch):
    """The legacy torch stream this time, include_top=False (the file's fc is left out)."""
    source = krp.imagenet_resnet(50, stride_in_1x1=False, input_shape=(SIZE, SIZE, 3), classifier_activation=None)
    path = write_torch(tmp_path / "resnet50-11ad3fa6.pth", _random_state(source, 1), legacy=True)
    release = _pinned(weights_lib.get_release("resnet50", "imagenet1k_v2"), path)
    with Mirror({path.name: path.read_bytes()}) as mirror, weights_lib.registered(release):
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        model = krp.ResNet50(weights="imagenet1k_v2", include_top=False, pooling="avg", input_shape=(SIZE, SIZE, 3))
    backbone = keras.Model(source.input, source.get_layer("avg_pool").output)
    x = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    x = model.preprocessing.normalize(x)
    np.testing.assert_allclose(model.predict(x, verbose=0), backbone.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    prep = model.preprocessing
    assert prep is release.preprocessing and (prep.resize_side, prep.crop_size, prep.interpolation) == (
        232,
        224,
        "bilinear",
    )
    photo = _photos(64)[0]
    assert prep(photo).shape == (224, 224, 3)


def test_timm_release_from_its_hub_file(resnet18_file, tmp_path, monkeypatch):
    """timm publishes `model.safetensors` without a hash: the real record, served at the hub's path,
    cached under its own name, checked by content (a NaN is refused and the file leaves the cache)."""
    _, source = resnet18_file
    state = to_torchvision_state_dict(source, include_num_batches_tracked=False)
    release = weights_lib.get_release("resnet18", "timm")
    good, bad = tmp_path / "good.safetensors", tmp_path / "bad.safetensors"
    write_safetensors(good, state, metadata={"format": "pt"})
    write_safetensors(bad, {**state, "layer4.1.bn2.running_var": np.full(512, np.nan, "f4")}, metadata={"format": "pt"})
    hub = release.top_file.url_path
    assert hub == "timm/resnet18.a1_in1k/resolve/main/model.safetensors"
    with Mirror({hub: bad.read_bytes()}) as mirror:
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        with pytest.raises(weights_lib.WeightsFileError, match="conv5_block2_2_bn/moving_variance"):
            krp.ResNet18(weights="timm", input_shape=(SIZE, SIZE, 3), classifier_activation=None)
        assert os.listdir(_cache()) == []  # it failed its content check: fetched afresh next time
        mirror.files[hub] = good.read_bytes()
        model = krp.ResNet18(weights="timm", input_shape=(SIZE, SIZE, 3), classifier_activation=None)
    assert os.listdir(_cache()) == ["timm-resnet18.a1_in1k.safetensors"] and mirror.requests[hub] == 2
    _assert_same_weights(model, source)
    assert (model.preprocessing.resize_side, model.preprocessing.interpolation) == (235, "bicubic")


def _cifar_predictions(model, state, depth):
    """(ours, the NumPy forward of the PyTorch net) on scikit-learn's photos prepared the documented
    way: `model.preprocessing` (shorter side to 32, centre 32 crop, RGB / 255, mean and std)."""
    x = np.stack([np.asarray(model.preprocessing(photo)) for photo in _photos(32)])
    expected = akamaster_forward(state, x.transpose(0, 3, 1, 2).astype(np.float64), (depth - 2) // 6)
    return np.asarray(model(x, training=False)), expected


def test_resnet20_cifar10_in_akamasters_layout(tmp_path, monkeypatch):
    """A net written as akamaster published them (legacy stream, {"state_dict": module.*, "best_prec1"}):
    option A on both sides is built by itself and gives the PyTorch net's logits."""
    source = krp.ResNet20(zero_padding="both", classifier_activation=None)
    state = {k.replace("fc.", "linear."): v for k, v in _random_state(source, 2).items()}
    path = write_torch(tmp_path / "resnet20-12fca82f.th", state, legacy=True, best_prec1=91.73)
    release = _pinned(weights_lib.get_release("resnet20", "cifar10"), path)
    with Mirror({path.name: path.read_bytes()}) as mirror, weights_lib.registered(release):
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        model = krp.ResNet20(weights="cifar10", classifier_activation=None)
    got, expected = _cifar_predictions(model, state, 20)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
    assert list(got.argmax(1)) == list(expected.argmax(1))


@pytest.mark.parametrize("depth, sha", [(56, "4bfd9763")])
def test_published_resnet56_cifar10_through_the_mirror(depth, sha, monkeypatch):
    """The real published file against its real record (full sha256 pinned)."""
    path = AKAMASTER / f"resnet{depth}-{sha}.th"
    if not path.exists():
        pytest.skip("the shared akamaster checkpoints are not here")
    with Mirror({path.name: path.read_bytes()}) as mirror:
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        model = krp.ResNet56(weights="cifar10")
    probabilities, logits = _cifar_predictions(model, weights_lib.read_torch_file(path).tensors, depth)
    assert list(probabilities.argmax(1)) == list(logits.argmax(1))
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probabilities, softmax / softmax.sum(1, keepdims=True), atol=1e-5)


@pytest.mark.parametrize(
    "misbehaviour, fragment",
    [
        ("silent", "timed out"),
        ("trickle", "stalled"),
        ("half", "closed after 2048 bytes, 2048 more"),
        ("trickle", "not finished after 1 s (KERAS_RESNET_PAPER_DOWNLOAD_DEADLINE)"),
    ],
)
def test_a_server_that_stalls_is_one_line_after_a_bounded_time(misbehaviour, fragment, monkeypatch):
    deadline = "not finished" in fragment  # a server fast enough for the timeout, too slow for the deadline
    monkeypatch.setenv(weights_lib.TIMEOUT_ENV, "10" if deadline else "0.5")
    monkeypatch.setenv("KERAS_RESNET_PAPER_DOWNLOAD_DEADLINE", "1" if deadline else "60")
    name = "resnet18-f37072fd.pth"
    with Mirror({name: bytes(4096)}, misbehave={name: misbehaviour}) as mirror:
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        start = time.monotonic()
        with pytest.raises(WeightsUnavailableError) as err:
            krp.ResNet18(weights="imagenet")
        elapsed = time.monotonic() - start
    message = str(err.value)
    assert "\n" not in message and name in message and fragment in message, message
    assert elapsed < 5, elapsed  # 4 KiB at a byte per 0.2 s would take 14 minutes
    assert "KERAS_RESNET_PAPER_WEIGHTS_URL" in message  # the mirror variable, as a way forward
    assert os.listdir(_cache()) == []  # no .part left behind


@pytest.mark.parametrize(
    "constructor, tag, file_name",
    [
        (krp.ResNet50, "imagenet1k_v2", "resnet50-11ad3fa6.pth"),
        (krp.WideResNet50_2, "imagenet1k_v2", "wide_resnet50_2-9ba9bcbe.pth"),
        (krp.ResNet152, "timm", "timm/resnet152.a1h_in1k/resolve/main/model.safetensors"),
    ],
)
def test_offline_is_one_line_naming_the_file(constructor, tag, file_name):
    with pytest.raises(WeightsUnavailableError) as err:  # the autouse fixture: a closed local port
        constructor(weights=tag)
    message = str(err.value)
    assert "\n" not in message and file_name in message and "weights=PATH" in message


def test_a_download_shows_its_progress_on_a_terminal_only(monkeypatch, capfd):
    blob = os.urandom(3 << 20)
    file = weights_lib.ReleaseFile("blob.bin", sha256_bytes(blob))
    with Mirror({"blob.bin": blob}) as mirror:
        weights_lib.fetch_file(file, "", base_url=mirror.url, cache_dir=_cache() + "_quiet")
        assert capfd.readouterr().err == ""  # not a terminal: quiet
        leader, follower = pty.openpty()
        with os.fdopen(follower, "w") as terminal:
            monkeypatch.setattr(sys, "stderr", terminal)
            weights_lib.fetch_file(file, "", base_url=mirror.url, cache_dir=_cache())
        shown = os.read(leader, 4096).decode()
        os.close(leader)
    assert shown.startswith("\rDownloading blob.bin") and shown.endswith("\n"), shown
    assert "3.1 MB / 3.1 MB" in shown and "B/s" in shown and "0 s left" in shown


def sha256_bytes(blob: bytes) -> str:
    import hashlib

    return hashlib.sha256(blob).hexdigest()
