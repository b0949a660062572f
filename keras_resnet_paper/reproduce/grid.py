"""A grid: the training runs of an experiment, one folder each, their state and their shards.

A run is one net trained with one seed by the ordinary training command, in `GRID_DIR/<net>_seed<S>`.
Its state is read from what the trainer leaves in that folder: `report.json` means finished (it is
never trained again), checkpoints without a report mean interrupted (the trainer resumes it), no
folder means pending. `grid.json` records the settings that change what a run computes (recipe,
--offline, --iterations, extra training flags), so a grid folder is never resumed with others.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Sequence

from keras_resnet_paper.atomic_files import atomic_write_text
from keras_resnet_paper.reproduce.experiments import Experiment, Net

__all__ = [
    "Run",
    "GridSettings",
    "plan_runs",
    "run_state",
    "parse_shard",
    "shard_runs",
    "check_settings",
    "FINISHED",
    "INTERRUPTED",
    "PENDING",
]

FINISHED, INTERRUPTED, PENDING = "finished", "interrupted", "pending"
SETTINGS_FILE = "grid.json"


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of a grid: `net` trained with `seed` in `directory`."""

    net: Net
    seed: int
    directory: str

    @property
    def name(self) -> str:
        return os.path.basename(self.directory)


@dataclasses.dataclass(frozen=True)
class GridSettings:
    """What every run of a grid folder shares and a resumed run must not change."""

    recipe: str
    offline: bool
    iterations: int | None
    train_flags: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "train_flags": list(self.train_flags)}


def plan_runs(
    experiment: Experiment,
    grid_dir: str,
    *,
    runs: int | None = None,
    offline: bool = False,
    with_optional: bool = False,
    nets: Sequence[str] | None = None,
) -> list[Run]:
    """The runs of `experiment` in `grid_dir`: each selected net with seeds 0..N-1, N = `runs` or,
    when None, the number of runs the paper's statistic is over (Table 6: 5 for ResNet-110).
    `nets` (keys such as "plain20") keeps only those nets of the selection: a smaller grid."""
    if runs is not None and (not isinstance(runs, int) or runs < 1):
        raise ValueError(f"runs={runs!r}: give a positive number of runs per net.")
    selected = experiment.selected_nets(offline=offline, with_optional=with_optional)
    if nets is not None:
        keys = [n.key for n in selected]
        unknown = [key for key in nets if key not in keys]
        if unknown or not nets:
            raise ValueError(
                f"nets={','.join(nets)!r}: give nets of this grid of {experiment.name} ({', '.join(keys)})."
            )
        selected = tuple(n for n in selected if n.key in nets)
    planned = []
    for net in selected:
        for seed in range(runs if runs is not None else net.paper_runs):
            planned.append(Run(net, seed, os.path.join(grid_dir, f"{net.key}_seed{seed}")))
    return planned


def run_state(run: Run) -> str:
    """FINISHED (a readable report.json), INTERRUPTED (a run folder with checkpoints) or PENDING."""
    report = os.path.join(run.directory, "report.json")
    if os.path.exists(report):
        try:
            with open(report) as f:
                if json.load(f).get("test_top1_error") is not None:
                    return FINISHED
        except (OSError, ValueError):
            pass
    if os.path.isdir(os.path.join(run.directory, "checkpoints")):
        return INTERRUPTED
    return PENDING


def parse_shard(text: str) -> tuple[int, int]:
    """ "i/n" -> (i, n), 0 <= i < n: this machine takes shard i of n."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise ValueError(f"shard={text!r}: use i/n with 0 <= i < n (e.g. 0/2 and 1/2 on two machines).")
    return int(m.group(1)), int(m.group(2))


def shard_runs(runs: Sequence[Run], index: int, count: int, cost: Callable[[Run], float]) -> list[Run]:
    """The runs of shard `index` of `count`, balanced by `cost`: the most expensive run goes to the
    least loaded shard first (every machine computes the same split from the same plan). Plan
    order is kept within a shard."""
    if not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: the index must be in 0..{count - 1}.")
    load = [0.0] * count
    owner = {}
    for i in sorted(range(len(runs)), key=lambda i: (-cost(runs[i]), i)):
        target = min(range(count), key=lambda s: (load[s], s))
        load[target] += cost(runs[i])
        owner[i] = target
    return [run for i, run in enumerate(runs) if owner[i] == index]


def check_settings(grid_dir: str, settings: GridSettings) -> None:
    """Record `settings` in a new grid folder, or check them against the recorded ones: a
    ValueError names the setting that differs (resuming runs with another schedule would mix them)."""
    path = os.path.join(grid_dir, SETTINGS_FILE)
    if os.path.exists(path):
        with open(path) as f:
            recorded = json.load(f)
        for key, value in settings.to_dict().items():
            if recorded.get(key) != value:
                raise ValueError(
                    f"grid_dir={grid_dir!r} holds runs made with {key}={recorded.get(key)!r}, not {value!r}; "
                    "use another --grid_dir, or the same settings to resume it."
                )
        return
    atomic_write_text(path, json.dumps(settings.to_dict(), indent=1))
