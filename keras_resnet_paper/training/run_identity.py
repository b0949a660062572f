"""A run folder is one run: what makes a run that run, checked before it resumes.

`run.json` records the run. Its identity is the model and its shortcut option, the recipe and its
data set, the global batch, the base learning rate, the seed and the precision. A command whose
identity differs from the folder's is refused (`RunChangedError`, a ValueError: one line and exit
2 on the command line) naming each difference and the two ways forward: another `--model_dir`, or
`--restart`, which moves the old run whole to `<model_dir>/previous-<n>/` (`set_aside_run`).

Two changes are a run's own and allowed, each recorded as a new segment in `run.json`: other
`--iterations` (the schedule's boundaries move with them), and a lower learning rate after the run
diverged (it resumes from its last healthy checkpoint; `run.json` says where it diverged).
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["RunChangedError", "read_run_record", "identity", "check_same_run", "set_aside_run", "segments"]


class RunChangedError(ValueError):
    """The command describes another run than the one its folder holds."""


def read_run_record(model_dir: str) -> dict | None:
    """The folder's run.json, or None where there is none; a damaged one is a ValueError naming it."""
    path = os.path.join(model_dir, "run.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{path} is damaged ({' '.join(str(err).split())}): the folder's run cannot be identified; "
            "use another --model_dir, or --restart to set the folder's run aside and start afresh"
        ) from None
    return record


def identity(record: dict) -> dict[str, Any]:
    """What makes a run that run, from its record (run.json, or `RunConfig.to_dict()` + runtime)."""
    recipe, runtime = record.get("recipe") or {}, record.get("runtime") or {}
    return {
        "model": record.get("model"),
        "shortcut": record.get("shortcut"),
        "recipe": recipe.get("name"),
        "dataset": recipe.get("dataset"),
        "global batch": record.get("global_batch"),
        "base lr": recipe.get("base_lr"),
        "seed": record.get("seed"),
        "precision": runtime.get("precision"),
    }


def _differences(previous: dict, current: dict) -> list[str]:
    old, new = identity(previous), identity(current)
    diverged = previous.get("diverged") is not None
    out = []
    for key in old:
        if old[key] == new[key] or old[key] is None:  # None: a record written before it was recorded
            continue
        if key == "base lr" and diverged and None not in (old[key], new[key]) and new[key] < old[key]:
            continue  # a lower lr after a divergence: the run's own change
        out.append(f"{key} {old[key]!r} -> {new[key]!r}")
    return out


def check_same_run(model_dir: str, current: dict) -> dict | None:
    """Refuse to resume another run in `model_dir`; the folder's record (None for a new folder)."""
    previous = read_run_record(model_dir)
    if previous is None:
        return None
    differences = _differences(previous, current)
    if differences:
        raise RunChangedError(
            f"--model_dir={model_dir} holds another run ({'; '.join(differences)}): use another --model_dir, "
            f"or --restart to move that run to {os.path.join(model_dir, 'previous-<n>')} and start afresh"
        )
    return previous


def segments(previous: dict | None, current: dict, start: int) -> list[dict]:
    """The run's segments: the earlier ones, and a new one from `start` where the iterations or
    the learning rate changed (what a lower lr after a divergence or more iterations make)."""
    if previous is None:
        return []
    earlier = list(previous.get("segments") or [])
    old_recipe, new_recipe = previous.get("recipe") or {}, current.get("recipe") or {}
    changed = {
        key: new_recipe.get(key)
        for key in ("iterations", "base_lr")
        if old_recipe.get(key) is not None and old_recipe.get(key) != new_recipe.get(key)
    }
    if changed:
        earlier.append({"from_step": start, **changed, "after_divergence": previous.get("diverged")})
    return earlier


def set_aside_run(model_dir: str) -> str | None:
    """Move everything in `model_dir` (but earlier `previous-<n>` folders) into a new
    `previous-<n>/` inside it; its path, or None when the folder holds nothing."""
    if not os.path.isdir(model_dir):
        return None
    names = [n for n in os.listdir(model_dir) if not n.startswith("previous-")]
    if not names:
        return None
    n = 1
    while os.path.exists(os.path.join(model_dir, f"previous-{n}")):
        n += 1
    target = os.path.join(model_dir, f"previous-{n}")
    os.makedirs(target)
    for name in names:
        os.replace(os.path.join(model_dir, name), os.path.join(target, name))
    return target
