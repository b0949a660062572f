"""End-of-run report: top-1/top-5 error and Fig. 4/6-style plots of error against iterations.

Each run directory holds `history.csv` (one row per evaluation, with `iteration`) and
`recipe.json`. `write_report` writes `report.json`, `report.md` and `error_curves.png` into the
run's directory; runs that share the parent directory (e.g. runs/plain20 and runs/resnet20) are
overlaid in the plot, plain nets in warm colours and ResNets in cool ones, training error thin and
dashed, test error bold, as in the paper's figures.

Command line: `python -m keras_resnet_paper.training.report RUN_DIR [RUN_DIR ...] --out fig.png`.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Mapping, Sequence

from absl import logging

from keras_resnet_paper.atomic_files import atomic_write_text, replacing

__all__ = ["load_run", "plot_error_curves", "write_report", "find_sibling_runs"]


def _read_history(path: str) -> list[dict]:
    """Rows of a history.csv, the last row of each iteration kept, in iteration order (a resumed
    run may have logged an evaluation twice: killed between the log row and its checkpoint)."""
    by_iteration = {}
    with open(path, newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            values = {k: float(v) for k, v in row.items() if k is not None and v not in ("", None)}
            by_iteration[values.get("iteration", -1 - i)] = values
    return [by_iteration[k] for k in sorted(by_iteration)]


def truncate_history(path: str, last_iteration: int) -> None:
    """Rewrite a run's history.csv whole with only its rows up to `last_iteration` (where a resumed
    run goes on from), so no row of an abandoned stretch, and no torn last line, stays in it. A file
    that cannot be read at all is set aside as `history.csv.damaged` (said on stderr) and begun anew."""
    if not os.path.exists(path):
        return
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = list(reader.fieldnames or [])
            rows = [row for row in reader if _complete(row, fields) and float(row["iteration"]) <= last_iteration]
    except (OSError, ValueError, csv.Error) as err:
        os.replace(path, path + ".damaged")
        print(
            f"{path} could not be read ({' '.join(str(err).split())[:120]}): set aside as {path}.damaged, "
            "the history begins anew.",
            file=sys.stderr,
            flush=True,
        )
        return
    with replacing(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _complete(row: dict, fields: list[str]) -> bool:
    """A whole row: every column present and a numeric iteration (a torn last line is not)."""
    if None in row or any(row.get(k) in (None, "") for k in fields) or "iteration" not in row:
        return False
    try:
        float(row["iteration"])
    except ValueError:
        return False
    return True


def _read_meta(run_dir: str) -> dict:
    for name in ("run.json", "recipe.json"):  # recipe.json: runs written before run.json existed
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
    return {}


def load_run(run_dir: str) -> dict:
    """{"label", "residual", "history": [rows], "dir"} for a run directory (its history.csv and
    run.json). Raises OSError/ValueError if they cannot be read."""
    path = os.path.join(run_dir, "history.csv")
    rows = _read_history(path) if os.path.exists(path) else []
    model = _read_meta(run_dir).get("model") or os.path.basename(os.path.normpath(run_dir))
    return {"label": model, "residual": not model.lower().startswith("plain"), "history": rows, "dir": run_dir}


def _is_run(d: str) -> bool:
    return os.path.exists(os.path.join(d, "history.csv")) and (
        os.path.exists(os.path.join(d, "run.json")) or os.path.exists(os.path.join(d, "recipe.json"))
    )


def find_sibling_runs(run_dir: str) -> list[str]:
    """Run directories next to `run_dir` (same parent) that have a history.csv, `run_dir` first."""
    parent = os.path.dirname(os.path.abspath(run_dir))
    runs = [os.path.abspath(run_dir)]
    for name in sorted(os.listdir(parent)):
        d = os.path.join(parent, name)
        if d not in runs and _is_run(d):
            runs.append(d)
    return runs


def _sibling_runs(run_dir: str) -> list[dict]:
    """The runs beside `run_dir` that can be read; a damaged one is skipped with a warning."""
    out = []
    for d in find_sibling_runs(run_dir)[1:]:
        try:
            out.append(load_run(d))
        except (OSError, ValueError, KeyError, csv.Error) as err:
            logging.warning("Not overlaying %s: its history cannot be read (%s).", d, err)
    return out


def _series(history, key):
    xs, ys = [], []
    for row in history:
        if key in row and "iteration" in row:
            xs.append(row["iteration"])
            ys.append(100.0 * row[key])
    return xs, ys


def plot_error_curves(runs: Sequence[Mapping], path: str, title: str | None = None) -> str:
    """Training (dashed) and test (bold) top-1 error % against iterations; returns `path`."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no backend chosen, no global state touched

    fig = Figure(figsize=(6.4, 4.2), dpi=110)
    ax = fig.subplots()
    warm = matplotlib.colormaps["autumn"]
    cool = matplotlib.colormaps["winter"]
    plain = [r for r in runs if not r["residual"]]
    res = [r for r in runs if r["residual"]]
    for group, cmap in ((plain, warm), (res, cool)):
        for i, run in enumerate(group):
            colour = cmap(0.15 + 0.7 * i / max(1, len(group) - 1))
            hist = run["history"]
            scale = 1e4 if max([r.get("iteration", 0) for r in hist] or [0]) >= 2e4 else 1.0
            x, y = _series(hist, "top1_error")
            ax.plot([v / scale for v in x], y, "--", lw=0.9, color=colour, label=f"{run['label']} train")
            x, y = _series(hist, "val_top1_error")
            ax.plot([v / scale for v in x], y, "-", lw=2.0, color=colour, label=f"{run['label']} test")
    ax.set_xlabel(
        "iter. (1e4)"
        if any(max([r.get("iteration", 0) for r in run["history"]] or [0]) >= 2e4 for run in runs)
        else "iter."
    )
    ax.set_ylabel("error (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(runs) > 2 else 1)
    ax.set_title(title or "training (dashed) and test (bold) error")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with replacing(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    return path


def _segments(run_dir: str) -> list[dict]:
    """The run's segments from its run.json (where it resumed with other iterations or a lower lr)."""
    try:
        with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as f:
            return list(json.load(f).get("segments") or [])
    except (OSError, ValueError, AttributeError):
        return []


def _segment_line(segment: Mapping) -> str:
    """'Resumed at step 5 with base_lr 0.1, rolled back after the loss diverged at step 9 (1.8e+10).'"""
    changes = ", ".join(f"{k} {v}" for k, v in segment.items() if k not in ("from_step", "after_divergence"))
    line = f"Resumed at step {segment.get('from_step')} with {changes}"
    diverged = segment.get("after_divergence")
    if diverged:
        line += f", rolled back after the loss diverged at step {diverged.get('step')} ({diverged.get('loss'):.4g})"
    return line + "."


def write_report(result, label: str | None = None) -> dict:
    """Write report.json, report.md and error_curves.png for a `TrainResult`; return the report."""
    run_dir = result.model_dir
    report = {
        "model": label or result.model_name,
        "recipe": result.recipe.name,
        "dataset": result.recipe.dataset,
        "iterations": result.steps,
        "resumed_from": result.resumed_from,
        "wall_time_s": round(result.wall_time_s, 1),
        "total_wall_time_s": round(result.total_wall_time_s, 1),
        "test_top1_error": result.final.get("top1_error"),
        "test_top5_error": result.final.get("top5_error"),
        "test_loss": result.final.get("loss"),
        "ten_crop_top1_error": result.final.get("ten_crop_top1_error"),
        "ten_crop_top5_error": result.final.get("ten_crop_top5_error"),
        "fallbacks": list(result.fallbacks),
    }
    own = {
        "label": label or result.model_name,
        "residual": not result.model_name.startswith("plain"),
        "history": result.history,
        "dir": os.path.abspath(run_dir),
    }
    runs = [own, *_sibling_runs(run_dir)]
    title = f"{report['recipe']} ({report['dataset']}): training (dashed) and test (bold) error"
    report["plot"] = plot_error_curves(runs, os.path.join(run_dir, "error_curves.png"), title=title)
    report["overlaid_runs"] = [r["dir"] for r in runs]
    md = (
        f"# {report['model']} — {report['recipe']} ({report['dataset']})\n\n"
        f"| iterations | top-1 error | top-5 error | wall time |\n|---|---|---|---|\n"
        f"| {report['iterations']} | {100 * report['test_top1_error']:.2f}% | "
        f"{100 * report['test_top5_error']:.2f}% | {report['total_wall_time_s']:.0f} s |\n\n"
    )
    if report["ten_crop_top1_error"] is not None:
        md += (
            f"10-crop (Sec. 3.4): top-1 error {100 * report['ten_crop_top1_error']:.2f}%, "
            f"top-5 error {100 * report['ten_crop_top5_error']:.2f}%\n\n"
        )
    report["segments"] = _segments(run_dir)
    md += "".join(f"{_segment_line(segment)}\n\n" for segment in report["segments"])
    md += "![error curves](error_curves.png)\n"
    atomic_write_text(os.path.join(run_dir, "report.md"), md)
    # last: report.json marks a finished run (a grid never trains it again), so it comes after the rest
    atomic_write_text(os.path.join(run_dir, "report.json"), json.dumps(report, indent=1))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Overlay the error curves of training runs (Fig. 4/6 style).")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", default="error_curves.png")
    args = parser.parse_args(argv)
    print(plot_error_curves([load_run(d) for d in args.runs], args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
