"""Files written whole or not at all (`keras_resnet_paper.atomic_files`)."""

import os

import pytest

from keras_resnet_paper.atomic_files import atomic_write_text, replacing


def test_write_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "report.json"
    atomic_write_text(str(path), '{"a": 1}')
    atomic_write_text(str(path), "é" * 3)
    assert path.read_text(encoding="utf-8") == "ééé"
    assert sorted(os.listdir(path.parent)) == ["report.json"]


def test_failure_keeps_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("previous")
    with pytest.raises(RuntimeError, match="writer failed"):
        with replacing(str(path)) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("writer failed")
    assert path.read_text() == "previous"
    assert os.listdir(tmp_path) == ["report.md"]


def test_suffix_for_writers_that_read_the_extension(tmp_path):
    matplotlib = pytest.importorskip("matplotlib.figure")
    fig = matplotlib.Figure(figsize=(1, 1))
    path = tmp_path / "curves.png"
    with replacing(str(path), suffix=".png") as tmp:
        assert tmp.endswith(".png") and os.path.dirname(tmp) == str(tmp_path)
        fig.savefig(tmp)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
