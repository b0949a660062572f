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

import keras_resnet_paper as krp
from keras_resnet_paper import weights as weights_lib

README = (pathlib.Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Pretrained weights and transfer learning", 1)[1].split("\n## ", 1)[0]


def _table() -> dict[tuple[str, str], list[str]]:
    lines = [line for line in SECTION.splitlines() if line.startswith("|")]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines[2:]]
    return {(row[0].strip("`"), row[1].strip('`"')): row for row in rows}


def _preprocessing_cell(p: weights_lib.Preprocessing) -> str:
    if p.color_order == "BGR":
        norm = "BGR − mean"
    elif (p.mean, p.std) == (weights_lib.TORCH.mean, weights_lib.TORCH.std):
        norm = "RGB/255, ImageNet mean/std"
    else:
        norm = f"RGB/255, mean/std {p.mean[0]:g}"
    if p.resize_side == p.crop_size:
        return f"{norm}; {p.crop_size}×{p.crop_size}"
    return f"{norm}; {p.resize_side} → {p.crop_size}, {p.interpolation}"


def _row(r: weights_lib.Release) -> list[str]:
    top5 = "–" if r.top5 is None else f"{r.top5:g}"
    paper5 = "–" if r.paper_top5_error is None else f"{r.paper_top5_error:g}"
    paper = "–" if r.paper_top1_error is None else f"{r.paper_top1_error:g} / {paper5} ({r.paper_protocol})"
    return [
        krp.find_variant(r.model).constructor,
        r.tag,
        f"`{r.top_file.file_name}`",
        f"{r.top1:g} / {top5}",
        paper,
        _preprocessing_cell(r.preprocessing),
        r.license.split(" ")[0],
    ]


def test_release_table_is_the_registry():
    table = _table()
    assert len(table) == len(weights_lib.RELEASES)  # every release, once
    for release in weights_lib.RELEASES:
        row = table[(krp.find_variant(release.model).constructor, release.tag)]
        assert [row[0].strip("`"), row[1].strip('`"'), *row[2:]] == _row(release)
    authors = weights_lib.get_release("resnet50")
    assert float(re.search(r"BN ε ([0-9.e-]+)", SECTION)[1]) == authors.architecture.bn_epsilon
    assert "resnet{50,101,152}_weights_tf_dim_ordering_tf_kernels{,_notop}.h5" in SECTION
    for tag in ("imagenet", "imagenet1k_v1", "imagenet1k_v2", "timm", "cifar10"):
        assert f'`"{tag}"`' in SECTION.split("| model |")[0]  # each tag explained above the table


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
