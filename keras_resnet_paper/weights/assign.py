"""Assigning matched arrays to a model's variables: all or nothing.

Every loader first matches the whole file against the model and collects (variable, value) pairs;
only then are they assigned, and a failure half-way restores the previous values. A mismatch is
reported as one `WeightsMismatchError` naming the first mismatching layer in model order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_resnet_paper.weights.errors import WeightsMismatchError

__all__ = ["assign_all", "mismatch_error"]


def mismatch_error(source: str, model, problems: list[tuple[str, str]]) -> WeightsMismatchError:
    """The error for [(layer, reason)] problems: the first one in full, up to ten more listed."""
    first_layer, first_reason = problems[0]
    lines = [f"  {name}: {reason}" for name, reason in problems[1:11]]
    more = len(problems) - 11
    if more > 0:
        lines.append(f"  ... and {more} more")
    rest = ("\nOther mismatches:\n" + "\n".join(lines)) if lines else ""
    return WeightsMismatchError(
        f"Weights {source!r} do not match model {model.name!r}: first mismatching layer "
        f"{first_layer!r}: {first_reason}. Nothing was loaded (check depth, shortcut option, "
        f"include_top/classes).{rest}"
    )


def assign_all(assignments: list[tuple[Any, np.ndarray]]) -> None:
    """Assign (variable, value) pairs; restores the previous values if any assignment fails."""
    backup = [(var, np.array(var.numpy())) for var, _ in assignments]
    try:
        for var, value in assignments:
            var.assign(np.asarray(value, dtype=var.dtype))
    except Exception:
        for var, value in backup:
            var.assign(value)
        raise
