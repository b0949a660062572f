"""What the runs of a grid measured, read from the files each training run writes in its folder
(report.json, history.csv) and aggregated per net: best, mean and standard deviation over runs, as
Table 6 gives them for ResNet-110 (docs/paper.md, 'CIFAR-10 results (Table 6, Fig. 6)').

Errors here are in % (the trainer's files hold fractions).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Sequence

from keras_resnet_paper.reproduce.experiments import Net
from keras_resnet_paper.reproduce.grid import FINISHED, Run, run_state

__all__ = ["RunResult", "NetSummary", "load_history", "load_result", "summarize", "metric_values", "RESPONSES_FILE"]

RESPONSES_FILE = "layer_responses.json"


def _read_json(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def load_history(run_dir: str) -> list[dict]:
    """history.csv's rows as numbers, one per iteration in order (a resumed run may have logged an
    evaluation twice: the last row of an iteration is kept)."""
    rows: dict[float, dict] = {}
    try:
        with open(os.path.join(run_dir, "history.csv")) as f:
            for row in csv.DictReader(f):
                values = {k: float(v) for k, v in row.items() if k and v not in ("", None)}
                if "iteration" in values:
                    rows[values["iteration"]] = values
    except (OSError, ValueError):
        return []
    return [rows[k] for k in sorted(rows)]


def _percent(value) -> float | None:
    return None if value is None else 100.0 * float(value)


@dataclasses.dataclass
class RunResult:
    """One run's state and, when it finished, its numbers."""

    run: Run
    state: str
    report: dict
    history: list[dict]
    launch: dict
    responses: dict | None = None

    @property
    def finished(self) -> bool:
        return self.state == FINISHED

    def metric(self, name: str) -> float | None:
        """train / test / table (10-crop when measured, else the single view) / top5 / response."""
        report = self.report
        if name == "train":
            return _percent(self.history[-1].get("top1_error")) if self.history else None
        if name == "test":
            return _percent(report.get("test_top1_error"))
        if name == "top5":
            return _percent(
                report.get("ten_crop_top5_error")
                if report.get("ten_crop_top1_error") is not None
                else report.get("test_top5_error")
            )
        if name == "table":
            ten = report.get("ten_crop_top1_error")
            return _percent(ten if ten is not None else report.get("test_top1_error"))
        if name == "response":
            return None if not self.responses else sum(self.responses.values()) / len(self.responses)
        raise ValueError(f"metric={name!r}; allowed: train, test, top5, table, response.")

    @property
    def ten_crop(self) -> bool:
        return self.report.get("ten_crop_top1_error") is not None


def load_result(run: Run, logs_dir: str) -> RunResult:
    """The run's state, report.json, history.csv, launch record and Fig. 7 responses if computed."""
    state = run_state(run)
    report = _read_json(os.path.join(run.directory, "report.json")) if state == FINISHED else {}
    responses = _read_json(os.path.join(run.directory, RESPONSES_FILE)).get("responses")
    return RunResult(
        run,
        state,
        report,
        load_history(run.directory),
        _read_json(os.path.join(logs_dir, f"{run.name}.json")),
        responses or None,
    )


@dataclasses.dataclass
class NetSummary:
    """The runs of one net: how many were planned, which finished, and their statistics."""

    net: Net
    results: list[RunResult]

    @property
    def finished(self) -> list[RunResult]:
        return [r for r in self.results if r.finished]

    def values(self, metric: str) -> list[float]:
        return [v for v in (r.metric(metric) for r in self.finished) if v is not None]

    def best(self, metric: str) -> float | None:
        values = self.values(metric)
        return min(values) if values else None

    def mean_std(self, metric: str) -> tuple[float, float] | None:
        """Mean and sample standard deviation (n - 1) over finished runs; None under two runs."""
        values = self.values(metric)
        if len(values) < 2:
            return None
        mean = sum(values) / len(values)
        return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))

    def mean(self, metric: str) -> float | None:
        values = self.values(metric)
        return sum(values) / len(values) if values else None

    def first(self) -> RunResult | None:
        """The finished run of the lowest seed (the one a figure plots), else the most advanced one."""
        if self.finished:
            return self.finished[0]
        started = [r for r in self.results if r.history]
        return max(started, key=lambda r: r.history[-1]["iteration"]) if started else None


def summarize(nets: Sequence[Net], results: Sequence[RunResult]) -> dict[str, NetSummary]:
    """Results grouped by net key, in the order of `nets`."""
    return {n.key: NetSummary(n, [r for r in results if r.run.net.key == n.key]) for n in nets}


def metric_values(summaries: dict[str, NetSummary], metrics: Sequence[str]) -> dict[str, dict[str, float]]:
    """{metric: {net key: mean over finished runs}} for the effects (nets without a value left out)."""
    out: dict[str, dict[str, float]] = {}
    for metric in metrics:
        out[metric] = {k: m for k, s in summaries.items() if (m := s.mean(metric)) is not None}
    return out
