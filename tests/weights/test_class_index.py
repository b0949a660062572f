"""decode_predictions with a local class index (the download is tested in test_download.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from keras_resnet_paper.weights import decode_predictions


def test_decode_predictions_with_local_index(tmp_path):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = tmp_path / "index.json"
    path.write_text(json.dumps(index))
    preds = np.zeros((2, 1000), "float32")
    preds[0, [7, 3, 500]] = [0.5, 0.3, 0.2]
    preds[1, 999] = 1.0
    out = decode_predictions(preds, top=3, class_index=str(path))
    assert [r[1] for r in out[0]] == ["class_7", "class_3", "class_500"]
    assert out[0][0] == ("n00000007", "class_7", pytest.approx(0.5))
    assert out[1][0][1] == "class_999"
    with pytest.raises(ValueError, match="1000"):
        decode_predictions(np.zeros((1, 10)), class_index=index)
