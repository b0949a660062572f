"""End-of-run report and plots, BN statistics re-estimation, top-k error."""

import csv
import json
import os
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from keras_resnet_paper.evaluation.topk import TopKError, top1_top5_error, topk_error
from keras_resnet_paper.training import recalibrate_bn
from keras_resnet_paper.training.recipes import get_recipe
from keras_resnet_paper.training.report import find_sibling_runs, load_run, write_report


def _fake_run(directory, model, errors):
    os.makedirs(directory)
    with open(os.path.join(directory, "history.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "iteration", "top1_error", "val_top1_error"])
        for i, (tr, te) in enumerate(errors):
            w.writerow([i, 100 * (i + 1), tr, te])
    with open(os.path.join(directory, "recipe.json"), "w") as f:
        json.dump({"model": model}, f)


def test_report_overlays_plain_and_residual(tmp_path, capsys):
    _fake_run(tmp_path / "plain20", "plain20", [(0.6, 0.7), (0.4, 0.5)])
    _fake_run(tmp_path / "resnet20", "resnet20", [(0.5, 0.6), (0.2, 0.3)])
    assert [os.path.basename(d) for d in find_sibling_runs(str(tmp_path / "resnet20"))] == ["resnet20", "plain20"]
    assert not load_run(str(tmp_path / "plain20"))["residual"]
    result = SimpleNamespace(
        model_dir=str(tmp_path / "resnet20"),
        model_name="resnet20",
        recipe=get_recipe("cifar10_offline"),
        steps=200,
        resumed_from=0,
        wall_time_s=12.0,
        total_wall_time_s=30.0,
        final={"top1_error": 0.3, "top5_error": 0.01, "loss": 0.9},
        fallbacks=(),
        history=load_run(str(tmp_path / "resnet20"))["history"],
    )
    report = write_report(result)
    assert report["test_top1_error"] == 0.3 and len(report["overlaid_runs"]) == 2
    assert report["wall_time_s"] == 12.0 and report["total_wall_time_s"] == 30.0
    png = tmp_path / "resnet20" / "error_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "30.00%" in (tmp_path / "resnet20" / "report.md").read_text()
    assert capsys.readouterr().out == ""  # the command line prints the one summary, not the report writer


def test_recalibrate_bn_sets_plain_average_of_batch_statistics():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(momentum=0.9)])
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=i, size=(16, 3)).astype("float32") for i in range(4)]
    used = recalibrate_bn(model, [(b, np.zeros(16)) for b in batches], num_batches=10)
    bn = model.layers[0]
    assert used == 4 and bn.momentum == 0.9
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), np.mean([b.var(0) for b in batches], 0), rtol=1e-4)


def test_topk_error_metric_and_numpy_agree():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]], "float32")
    labels = np.array([1, 2, 2, 0])
    assert topk_error(scores, labels, 1) == pytest.approx(0.5)
    assert topk_error(scores, labels, 2) == pytest.approx(0.25)
    m = TopKError(2)
    m.update_state(labels, scores)
    assert m.name == "top2_error" and float(m.result()) == pytest.approx(0.25)
    assert top1_top5_error(scores, labels) == {"top1_error": 0.5, "top5_error": 0.0}
    with pytest.raises(ValueError, match="scores must be"):
        topk_error(scores[0], labels)


def test_report_tolerates_a_damaged_sibling_run(tmp_path):
    _fake_run(tmp_path / "resnet20", "resnet20", [(0.5, 0.6), (0.2, 0.3)])
    os.makedirs(tmp_path / "broken")
    (tmp_path / "broken" / "history.csv").write_text("epoch,iteration,top1_error\n0,abc,\x00\x01\n")
    (tmp_path / "broken" / "run.json").write_text('{"model": "plain20"}')
    result = SimpleNamespace(
        model_dir=str(tmp_path / "resnet20"),
        model_name="resnet20",
        recipe=get_recipe("cifar10_offline"),
        steps=200,
        resumed_from=0,
        wall_time_s=1.0,
        total_wall_time_s=1.0,
        final={"top1_error": 0.3, "top5_error": 0.01, "loss": 0.9},
        fallbacks=(),
        history=[{"iteration": 100.0, "top1_error": 0.5, "val_top1_error": 0.6}],
    )
    report = write_report(result)
    assert report["overlaid_runs"] == [str(tmp_path / "resnet20")]
    assert (tmp_path / "resnet20" / "error_curves.png").exists()
