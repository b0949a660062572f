"""report.md from fabricated run folders: the paper's number beside ours for every net, best and
mean ± std over runs, the effects computed from the numbers, missing runs, hardware, figures."""

import json
import os
import re

from grid_files import finished_run, killed_run

from keras_resnet_paper.reproduce import grid, report
from keras_resnet_paper.reproduce.experiments import get_experiment
from keras_resnet_paper.reproduce.results import RESPONSES_FILE


def row(text, label):
    return next(l for l in text.splitlines() if l.startswith(f"| {label} |")).split(" | ")


def make(exp_name, tmp_path, runs, *, offline=False, iterations=None):
    exp = get_experiment(exp_name)
    settings = grid.GridSettings(exp.recipe, offline, iterations)
    path = report.make_report(exp, runs, settings, str(tmp_path), command=f"reproduce {exp_name}", say=lambda s: None)
    return path, open(path, encoding="utf-8").read()


def test_offline_fig6_report_shows_what_the_numbers_show(tmp_path):
    runs = grid.plan_runs(get_experiment("fig6"), str(tmp_path), offline=True)
    numbers = {
        "plain20": (0.016, 0.025),
        "plain56": (0.418, 0.394),
        "resnet20": (0.012, 0.031),
        "resnet56": (0.094, 0.086),
    }  # (train, test): the 300-iteration measurement
    for r in runs:
        train, test = numbers[r.net.key]
        finished_run(r.directory, train=train, test=test, model=r.net.model)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / f"{runs[0].name}.json").write_text(
        json.dumps({"hardware": {"host": "h1", "description": "CPU only: 2 cores"}})
    )
    path, text = make("fig6", tmp_path, runs, offline=True, iterations=300)
    assert path == os.path.join(str(tmp_path), "fig6", "report.md")
    assert "**Offline**" in text and "300-iteration" in text
    assert row(text, "plain-56")[1:6] == ["–", "39.40", "–", "41.80", "300"]
    assert row(text, "ResNet-20")[1:3] == ["8.75", "3.10"]  # Table 6 beside ours
    effects = dict(re.findall(r"\*\*([A-Za-z0-9 -]+)\*\* \(.*?\): \*\*([a-z ]+)\*\*", text))
    assert effects == {
        "degradation": "shows",
        "residual fix": "shows",
        "deeper ResNet lower": "does not show",
        "1202 overfits": "not measured",
    }
    assert (
        "final training error, expected to rise in this order: ResNet-56 9.40%, ResNet-20 1.20%: does not show" in text
    )
    assert "Every planned run finished." in text and "h1: CPU only: 2 cores" in text
    png = tmp_path / "fig6" / "fig6.png"
    assert "![fig6](fig6.png)" in text and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_best_and_mean_std_over_runs_and_missing_runs(tmp_path):
    runs = [r for r in grid.plan_runs(get_experiment("fig6"), str(tmp_path)) if r.net.key in ("resnet110", "resnet20")]
    tests = [0.0650, 0.0660, 0.0670, 0.0640]  # four of ResNet-110's five runs finished
    for r, test in zip([r for r in runs if r.net.key == "resnet110"], tests):
        finished_run(r.directory, train=0.001, test=test, iterations=64000, dataset="cifar10")
    killed_run(runs[-1].directory)  # resnet110_seed4: killed
    _, text = make("fig6", tmp_path, runs)
    cells = row(text, "ResNet-110")
    assert cells[1] == "6.43 (best of 5; mean 6.61 ± 0.16)"
    assert cells[2] == "6.40" and cells[3] == "6.55 ± 0.13" and cells[5] == "64,000" and cells[6] == "4/5 |"
    assert row(text, "ResNet-20")[2:4] == ["–", "–"]
    assert "Missing runs: resnet20_seed0 (pending), resnet110_seed4 (interrupted)." in text
    assert "Recipe `cifar10_paper`, the paper's schedule." in text


def test_table3_reports_ten_crop_top1_and_top5_and_pending_runs(tmp_path):
    runs = grid.plan_runs(get_experiment("table3"), str(tmp_path))
    by_key = {r.net.key: r for r in runs}
    finished_run(by_key["plain34"].directory, train=0.3, test=0.30, ten_crop=(0.2854, 0.1002), model="plain34")
    finished_run(by_key["resnet34_B"].directory, train=0.2, test=0.26, ten_crop=(0.2452, 0.0746), model="resnet34")
    _, text = make("table3", tmp_path, runs)
    assert "paper: top-1 / top-5 error %" in text and "ours (10-crop)" in text
    assert row(text, "ResNet-34 B")[1:3] == ["24.52 / 7.46", "24.52 / 7.46"]
    assert row(text, "plain-34")[1:3] == ["28.54 / 10.02", "28.54 / 10.02"]
    assert f"| {by_key['resnet34_A'].name} | pending |" in text
    assert "**shortcut options**" in text and "ResNet-34 B 24.52%, plain-34 28.54%: shows" in text


def test_fig7_report_reads_the_responses_kept_beside_the_weights(tmp_path):
    runs = grid.plan_runs(get_experiment("fig7"), str(tmp_path), offline=True)
    stds = {
        "plain20": [1.0, 0.9, 1.1],
        "plain56": [1.2, 1.3, 1.0],
        "resnet20": [0.6, 0.5, 0.7],
        "resnet56": [0.4, 0.5, 0.3],
    }
    for r in runs:
        d = finished_run(r.directory, train=0.01, test=0.02, model=r.net.model)
        (d / "final.weights.h5").write_bytes(b"weights")
        responses = {f"layer{i}_bn": v for i, v in enumerate(stds[r.net.key])}
        (d / RESPONSES_FILE).write_text(
            json.dumps({"weights_mtime": os.path.getmtime(d / "final.weights.h5"), "responses": responses})
        )
    _, text = make("fig7", tmp_path, runs, offline=True, iterations=300)
    assert row(text, "ResNet-56")[1:6] == ["0.400", "0.500", "0.300", "3", "1/1 |"]
    effects = dict(re.findall(r"\*\*([A-Za-z0-9 -]+)\*\* \(.*?\): \*\*([a-z ]+)\*\*", text))
    assert effects == {"smaller residual responses": "shows", "deeper ResNet smaller": "shows"}
    assert (tmp_path / "fig7" / "fig7.png").stat().st_size > 10_000
