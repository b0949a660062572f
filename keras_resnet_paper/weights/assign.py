"""Assigning matched arrays to a model's variables: all or nothing.

Every loader first matches the whole file against the model and collects (variable, value) pairs;
only then are they assigned, and a failure half-way restores the previous values. A mismatch is
reported as one `WeightsMismatchError` naming the first mismatching layer in model order. Every
reader passes its values through `refuse_non_finite` before anything is assigned: a file with a
NaN or an infinity (a diverged run's save, a corrupted copy) is a `WeightsFileError` naming the
tensors, never a model that silently predicts NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from keras_resnet_paper.weights.errors import WeightsFileError, WeightsMismatchError

__all__ = ["assign_all", "mismatch_error", "refuse_non_finite"]


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


def refuse_non_finite(source: str, named_values: Iterable[tuple[str, Any]]) -> None:
    """`WeightsFileError` if a floating value of [(tensor name, array)] is NaN or infinite; the
    message names every such tensor (the first ten) and how many of its values are bad."""
    bad = []
    for name, value in named_values:
        array = np.asarray(value)
        if np.issubdtype(array.dtype, np.inexact):
            count = int(array.size - np.count_nonzero(np.isfinite(array)))
            if count:
                bad.append(f"{name} ({count} of {array.size} values)")
    if bad:
        more = f" and {len(bad) - 10} more tensors" if len(bad) > 10 else ""
        raise WeightsFileError(
            f"Weights {source!r} hold non-finite values (NaN or inf) in {', '.join(bad[:10])}{more}. "
            "Nothing was loaded (a diverged run's weights, or a damaged file)."
        )


def assign_all(assignments: list[tuple[Any, np.ndarray]], source: str) -> None:
    """Assign (variable, value) pairs from `source` (named in errors): refused if a value is not
    finite; restores the previous values if any assignment fails."""
    refuse_non_finite(source, [(var.path, value) for var, value in assignments])
    backup = [(var, np.array(var.numpy())) for var, _ in assignments]
    try:
        for var, value in assignments:
            var.assign(np.asarray(value, dtype=var.dtype))
    except Exception:
        for var, value in backup:
            var.assign(value)
        raise
