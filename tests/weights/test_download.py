"""`weights="imagenet"` against a real HTTP server on 127.0.0.1: the download, the pinned hash,
the cache, a corrupted cached file, a mismatching download, and no network at all."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
from http_mirror import Mirror
from weights_files import rel_error, release_of, sha256

import keras_resnet_paper.models as models
from keras_resnet_paper import weights as weights_lib
from keras_resnet_paper.errors import ResourceUnavailableError, WeightsUnavailableError

SIZE = 64


def _cache() -> str:
    return os.path.join(os.environ["KERAS_HOME"], "models")


def _build():
    return models.ResNet50(weights="imagenet", include_top=False, pooling="avg", input_shape=(SIZE, SIZE, 3))


@pytest.fixture(scope="module")
def served(r50_notop):
    """(release, file bytes, reference model) for the generated ResNet-50 file."""
    path, reference = r50_notop
    return release_of(path), open(path, "rb").read(), reference


def test_download_is_checked_cached_and_not_repeated(served, monkeypatch):
    release, blob, reference = served
    name = release.notop_file.file_name
    with Mirror({name: blob}) as mirror, weights_lib.registered(release):
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        first = _build()
        assert mirror.requests[name] == 1
        assert os.listdir(_cache()) == [name] and sha256(os.path.join(_cache(), name)) == release.notop_file.file_hash
        second = _build()
        assert mirror.requests[name] == 1  # the second build uses the cache
    x = np.random.default_rng(0).uniform(-100, 150, (2, SIZE, SIZE, 3)).astype("float32")
    for model in (first, second):
        assert rel_error(model.predict(x, verbose=0), reference.predict(x, verbose=0)) < 1e-5


def test_corrupted_cached_file_is_fetched_again(served, caplog):
    release, blob, _ = served
    name = release.notop_file.file_name
    os.makedirs(_cache())
    with open(os.path.join(_cache(), name), "wb") as f:
        f.write(blob[: len(blob) // 3])  # an interrupted copy
    with Mirror({name: blob}) as mirror, caplog.at_level(logging.WARNING, "keras_resnet_paper.weights"):
        path = weights_lib.fetch_release(release, include_top=False, base_url=mirror.url)
    assert mirror.requests[name] == 1 and sha256(path) == release.notop_file.file_hash
    assert "does not match its pinned" in caplog.text


def test_mismatching_download_is_refused_and_nothing_cached(served, monkeypatch):
    release, blob, _ = served
    name = release.notop_file.file_name
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with Mirror({name: tampered}) as mirror, weights_lib.registered(release):
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        with pytest.raises(WeightsUnavailableError) as err:
            _build()
    message = str(err.value)
    assert "\n" not in message and name in message and mirror.url in message
    assert f"not the pinned {release.notop_file.file_hash}" in message and "nothing was cached" in message
    assert os.listdir(_cache()) == []  # neither the file nor a partial download


def test_base_url_and_cache_dir_arguments_override_the_environment(served, tmp_path):
    release, blob, _ = served
    name = release.notop_file.file_name
    with Mirror({name: blob}) as mirror:  # the environment's mirror is a closed port
        path = weights_lib.fetch_release(release, False, base_url=mirror.url, cache_dir=tmp_path / "c")
    assert path == str(tmp_path / "c" / name) and not os.path.exists(_cache())


def test_no_network_is_one_line_naming_the_file_and_what_to_do():
    url = os.environ[weights_lib.WEIGHTS_URL_ENV]  # a closed port on 127.0.0.1
    with pytest.raises(WeightsUnavailableError) as err:
        models.ResNet101(weights="imagenet")
    message = str(err.value)
    assert isinstance(err.value, ResourceUnavailableError) and "\n" not in message
    assert f"from {url}resnet101_weights_tf_dim_ordering_tf_kernels.h5" in message
    assert "weights=PATH" in message and weights_lib.WEIGHTS_URL_ENV in message and _cache() in message


def test_a_mirror_without_the_file_is_one_line(served):
    release, _, _ = served
    with Mirror({}) as mirror, pytest.raises(WeightsUnavailableError, match="HTTP 404") as err:
        weights_lib.fetch_release(release, include_top=True, base_url=mirror.url)
    assert "\n" not in str(err.value) and release.top_file.file_name in str(err.value)


def test_class_index_is_pinned_and_fetched_through_the_mirror(monkeypatch):
    from keras.src.applications import imagenet_utils

    assert imagenet_utils.CLASS_INDEX_PATH.endswith(weights_lib.get_label_set("imagenet-1k").class_index.file_name)
    with pytest.raises(WeightsUnavailableError, match="imagenet_class_index.json"):
        weights_lib.decode_predictions(np.eye(1000)[:1])  # no network
    made_up = json.dumps({str(i): ["w", f"c{i}"] for i in range(1000)}).encode()
    with Mirror({"imagenet_class_index.json": made_up}) as mirror:
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        with pytest.raises(WeightsUnavailableError, match="not the pinned c2c37ea517e94d9795004a39431a14cb"):
            weights_lib.decode_predictions(np.eye(1000)[:1])
    assert mirror.requests["imagenet_class_index.json"] == 1
