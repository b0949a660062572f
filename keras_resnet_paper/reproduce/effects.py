"""The paper's effects as orderings of nets, and whether a grid's numbers show them.

An effect (the plain nets' degradation, the residual fix, the deeper ResNet ending lower: docs/
paper.md, 'CIFAR-10 results (Table 6, Fig. 6)'; the smaller responses of Fig. 7: 'Layer responses
(Fig. 7)') is judged from the numbers, never asserted: an ordering of nets from the lowest value
to the highest *shows* when its ends differ by more than a margin in the paper's direction and no
neighbouring pair is reversed by more than the margin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["Ordering", "Effect", "OrderingResult", "EffectResult", "judge", "judge_ordering", "MARGINS", "METRIC_NAMES"]

#: Differences at or under these are ties: error metrics in points of %, responses relative.
MARGINS = {"train": 0.5, "test": 0.5, "table": 0.5, "response": 0.05}
METRIC_NAMES = {
    "train": "final training error",
    "test": "final test error",
    "table": "the table's error",
    "response": "mean layer response",
}
SHOWS, FAILS, UNMEASURED = "shows", "does not show", "not measured"


@dataclasses.dataclass(frozen=True)
class Ordering:
    """Nets (keys) that the paper orders from the lowest `metric` to the highest."""

    nets: tuple[str, ...]
    metric: str

    def __post_init__(self) -> None:
        if self.metric not in MARGINS:
            raise ValueError(f"metric={self.metric!r}; allowed: {sorted(MARGINS)}.")


@dataclasses.dataclass(frozen=True)
class Effect:
    """A named effect of the paper: every measurable ordering must show for the effect to show."""

    name: str
    claim: str
    orderings: tuple[Ordering, ...]


@dataclasses.dataclass(frozen=True)
class OrderingResult:
    ordering: Ordering
    status: str
    values: tuple[tuple[str, float], ...]  # the measured nets, in the paper's order

    def describe(self, labels: Mapping[str, str]) -> str:
        unit, digits = ("", 3) if self.ordering.metric == "response" else ("%", 2)
        shown = ", ".join(f"{labels.get(k, k)} {v:.{digits}f}{unit}" for k, v in self.values)
        return f"{METRIC_NAMES[self.ordering.metric]}, expected to rise in this order: {shown or 'no net measured'}: {self.status}"


@dataclasses.dataclass(frozen=True)
class EffectResult:
    effect: Effect
    status: str
    orderings: tuple[OrderingResult, ...]


def _difference(low: float, high: float, metric: str) -> float:
    """How much higher `high` is than `low`, in the metric's margin units."""
    if metric == "response":
        return (high - low) / max(abs(low), 1e-12)
    return high - low


def judge_ordering(ordering: Ordering, values: Mapping[str, float]) -> OrderingResult:
    """Whether `values` (metric by net key) follow `ordering`; nets without a value are skipped."""
    measured = tuple((k, float(values[k])) for k in ordering.nets if values.get(k) is not None)
    if len(measured) < 2:
        return OrderingResult(ordering, UNMEASURED, measured)
    margin, metric = MARGINS[ordering.metric], ordering.metric
    ends = _difference(measured[0][1], measured[-1][1], metric) > margin
    no_reversal = all(_difference(a[1], b[1], metric) >= -margin for a, b in zip(measured, measured[1:]))
    return OrderingResult(ordering, SHOWS if ends and no_reversal else FAILS, measured)


def judge(effect: Effect, values: Mapping[str, Mapping[str, float]]) -> EffectResult:
    """`values[metric][net]` -> whether `effect` shows: every measured ordering shows, at least one."""
    results = tuple(judge_ordering(o, values.get(o.metric, {})) for o in effect.orderings)
    measured = [r for r in results if r.status != UNMEASURED]
    if not measured:
        status = UNMEASURED
    else:
        status = SHOWS if all(r.status == SHOWS for r in measured) else FAILS
    return EffectResult(effect, status, results)
