"""The safetensors reader and writer: round trip, BF16, truncation."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from keras_resnet_paper.weights.safetensors_io import (
    SafetensorsError,
    read_safetensors,
    read_safetensors_metadata,
    write_safetensors,
)


def test_safetensors_round_trip_and_truncation(tmp_path):
    tensors = {
        "a": np.arange(6, dtype="float32").reshape(2, 3),
        "b": np.array(3, dtype="int64"),
        "c": np.ones((0, 4), "float16"),
    }
    path = tmp_path / "t.safetensors"
    write_safetensors(path, tensors, metadata={"format": "pt"})
    back = read_safetensors(path)
    assert set(back) == set(tensors)
    for k in tensors:
        np.testing.assert_array_equal(back[k], tensors[k])
        assert back[k].dtype == tensors[k].dtype
    assert read_safetensors_metadata(path) == {"format": "pt"}
    blob = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(blob[:-5])
    with pytest.raises(SafetensorsError, match="truncated"):
        read_safetensors(tmp_path / "cut.safetensors")


def test_bf16_is_widened(tmp_path):
    value = np.array([1.5, -2.0], np.float32)
    raw = (value.view(np.uint32) >> 16).astype("<u2").tobytes()
    head = json.dumps({"x": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(head)) + head + raw)
    np.testing.assert_array_equal(read_safetensors(path)["x"], value)
