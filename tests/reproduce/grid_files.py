"""Run folders as the training command leaves them, written by the tests: finished (report.json,
history.csv, recipe.json), killed (checkpoints only) or absent; and the grid's launch records."""

from __future__ import annotations

import json
import pathlib


def finished_run(
    directory,
    *,
    test: float,
    train: float,
    iterations: int = 300,
    top5: float = 0.0,
    ten_crop: tuple[float, float] | None = None,
    model: str = "resnet20",
    dataset: str = "digits",
    curve: int = 4,
) -> pathlib.Path:
    """A run folder of a finished run whose final test error is `test` and training error `train`
    (fractions), with a history of `curve` evaluations falling towards them."""
    d = pathlib.Path(directory)
    (d / "checkpoints").mkdir(parents=True, exist_ok=True)
    rows = ["epoch,iteration,loss,lr,top1_error,top5_error,val_loss,val_top1_error,val_top5_error"]
    for i in range(curve):
        k = curve - 1 - i
        rows.append(f"{i},{(i + 1) * iterations // curve},1.0,0.1,{train + 0.1 * k},0.1,1.0,{test + 0.1 * k},0.1")
    (d / "history.csv").write_text("\n".join(rows) + "\n")
    (d / "recipe.json").write_text(json.dumps({"model": model, "dataset": dataset, "iterations": iterations}))
    report = {
        "model": model,
        "iterations": iterations,
        "wall_time_s": 12.0,
        "test_top1_error": test,
        "test_top5_error": top5,
        "ten_crop_top1_error": ten_crop[0] if ten_crop else None,
        "ten_crop_top5_error": ten_crop[1] if ten_crop else None,
    }
    (d / "report.json").write_text(json.dumps(report))
    return d


def killed_run(directory, *, iterations_done: int = 100) -> pathlib.Path:
    """A run killed after its first checkpoint: history and checkpoints, no report."""
    d = pathlib.Path(directory)
    (d / "checkpoints").mkdir(parents=True, exist_ok=True)
    (d / "checkpoints" / "ckpt-100.weights.h5").write_bytes(b"")
    (d / "history.csv").write_text(
        "epoch,iteration,loss,lr,top1_error,top5_error,val_loss,val_top1_error,val_top5_error\n"
        f"0,{iterations_done},1.0,0.1,0.5,0.1,1.0,0.6,0.2\n"
    )
    return d
