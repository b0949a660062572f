"""The README's "Pretrained weights" section: its table is the registry, and its photo snippet runs
as written against a local mirror serving generated files in the release layout."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import pathlib
import re
import shutil

import keras
import numpy as np
import pytest
from http_mirror import Mirror
from weights_files import PHOTOS, sha256

from keras_resnet_paper import weights as weights_lib

README = (pathlib.Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Pretrained weights and transfer learning", 1)[1].split("\n## ", 1)[0]


def _table() -> dict[str, dict[str, str]]:
    lines = [line for line in SECTION.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]
    return {row["model"].strip("`"): row for row in rows}


def test_release_table_is_the_registry():
    table = _table()
    assert set(table) == {f"ResNet{m[len('resnet') :]}" for m in weights_lib.available_weights()}
    for name, row in table.items():
        release = weights_lib.get_release(name, row["tag"].strip('`"'))
        assert row["top-1 / top-5 % (single 224 crop)"] == f"{release.top1} / {release.top5}"
        paper = row["paper top-1 / top-5 err. % (10-crop, Table 3)"]
        assert paper == f"{release.paper_top1_error_10crop} / {release.paper_top5_error_10crop}"
    first = table["ResNet50"]
    release = weights_lib.get_release("resnet50")
    epsilon = re.search(r"BN ε ([0-9.e-]+)", first["architecture (built by itself)"])[1]
    assert float(epsilon) == release.architecture.bn_epsilon
    prep = release.preprocessing
    assert f"{prep.color_order}, minus {prep.mean}" in first["preprocessing (`model.preprocessing`)"]
    assert (
        f"shorter side {prep.resize_side}, centre {prep.crop_size} crop"
        in first["preprocessing (`model.preprocessing`)"]
    )
    for file in (release.top_file, release.notop_file):
        assert re.fullmatch(r"resnet50_weights_tf_dim_ordering_tf_kernels(_notop)?\.h5", file.file_name)
    assert "resnet{50,101,152}_weights_tf_dim_ordering_tf_kernels{,_notop}.h5" in SECTION


def test_photo_snippet_runs_against_a_local_mirror(r50_top224, tmp_path, monkeypatch, capsys):
    snippet = SECTION.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'weights="imagenet"' in snippet and "model.preprocessing(photo)" in snippet
    path, reference = r50_top224
    index = json.dumps({str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}).encode()
    (tmp_path / "index.json").write_bytes(index)
    release = dataclasses.replace(
        weights_lib.get_release("resnet50"), top_file=weights_lib.ReleaseFile(os.path.basename(path), sha256(path))
    )
    labels = dataclasses.replace(
        weights_lib.get_label_set("imagenet-1k"),
        class_index=weights_lib.ReleaseFile("imagenet_class_index.json", sha256(tmp_path / "index.json")),
    )
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    shutil.copy(
        os.path.join(os.path.dirname(sklearn_datasets.__file__), "images", f"{PHOTOS[0]}.jpg"), tmp_path / "photo.jpg"
    )
    monkeypatch.chdir(tmp_path)
    files = {release.top_file.file_name: open(path, "rb").read(), "imagenet_class_index.json": index}
    with Mirror(files) as mirror, weights_lib.registered(release, labels):
        monkeypatch.setenv(weights_lib.WEIGHTS_URL_ENV, mirror.url)
        exec(compile(snippet, "README.md:Pretrained weights", "exec"), {})
    printed = ast.literal_eval(capsys.readouterr().out.strip().splitlines()[-1])
    photo = keras.utils.img_to_array(keras.utils.load_img("photo.jpg"))
    crop = weights_lib.resize_and_center_crop(photo)
    logits = reference.predict(keras.applications.resnet.preprocess_input(np.array(crop)[None]), verbose=0)[0]
    best = np.argsort(-logits)[:3]
    assert [p[1] for p in printed] == [f"class_{i}" for i in best]
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose([p[2] for p in printed], probabilities[best], rtol=1e-4, atol=1e-7)
