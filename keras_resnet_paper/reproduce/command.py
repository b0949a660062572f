"""Reproduce an experiment of the paper in one command: its grid of training runs, then report.md
with the paper's numbers beside ours and the figures as PNG.

    python -m keras_resnet_paper.reproduce --list
    python -m keras_resnet_paper.reproduce table1
    python -m keras_resnet_paper.reproduce fig6 --offline
    python -m keras_resnet_paper.reproduce fig6 --runs 5 --data_dir ~/data/cifar-10-binary.tar.gz
    keras-resnet-paper-reproduce table3 --data_dir ~/tensorflow_datasets --shard 0/2

Each run is `python -m keras_resnet_paper.train` in its own folder GRID_DIR/<net>_seed<S>: run the
same command again after an interruption and it resumes; finished runs are never trained again.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys

from absl import flags

from keras_resnet_paper import cli
from keras_resnet_paper.reproduce import costs, devices, experiments, grid, runner, table1
from keras_resnet_paper.reproduce.report import make_report

FLAGS = flags.FLAGS

flags.DEFINE_bool("list", False, "List the experiments, what each needs and its estimated cost, and exit.")
flags.DEFINE_bool(
    "offline", False, "Train on scikit-learn's digits at 32x32 with a shortened schedule (no data set, no network)."
)
flags.DEFINE_integer(
    "runs",
    None,
    lower_bound=1,
    help="Runs (seeds 0..N-1) per net. Default: as many as the paper's statistic is over (Table 6: 5 for ResNet-110, else 1).",
)
flags.DEFINE_list(
    "nets",
    None,
    "Train only these nets of the grid (keys as --plan lists them, e.g. plain20,resnet20): a smaller grid, reported alone; the other runs of a shared --grid_dir are left as they are.",
)
flags.DEFINE_bool("with_1202", False, "fig6/table6: also train ResNet-1202 (Fig. 6 right, Table 6).")
flags.DEFINE_string(
    "grid_dir",
    None,
    "Folder of the grid's runs and reports (default grids/cifar10 or grids/imagenet, +_offline; table1: grids).",
)
flags.DEFINE_string(
    "data_dir", None, "Passed to every run: tensorflow-datasets data directory, or CIFAR-10's binary archive."
)
flags.DEFINE_integer(
    "iterations",
    None,
    lower_bound=1,
    help="Iterations of every run (the lr steps keep their fractions). Default: the recipe's; --offline: the offline schedule.",
)
flags.DEFINE_string(
    "shard",
    "0/1",
    "i/n: this machine trains shard i of n (0 <= i < n), balanced by estimated cost; give every machine the same --grid_dir.",
)
flags.DEFINE_string(
    "gpus", "auto", "GPUs to spread the runs over: auto (CUDA_VISIBLE_DEVICES or nvidia-smi), none, or indices 0,1,2,3."
)
flags.DEFINE_integer(
    "devices_per_run",
    1,
    lower_bound=1,
    help="GPUs per run (the trainer mirrors a run over them); runs go side by side on the rest.",
)
flags.DEFINE_multi_string(
    "train_flag",
    [],
    "Extra flag for every run's training command, e.g. --train_flag=--precision=mixed_float16 (repeatable).",
)
flags.DEFINE_bool("plan", False, "Print the grid's runs, their state and this shard's share, and exit.")
flags.DEFINE_bool("report_only", False, "Make the report from the finished runs; train nothing.")

_MODULE = __name__


def _say(text: str) -> None:
    print(text, flush=True)


def _list() -> int:
    """--list: every experiment, what it reproduces, needs, and costs."""
    for exp in experiments.EXPERIMENTS.values():
        names = " = ".join((exp.name, *exp.aliases))
        _say(f"{names}\n    {exp.reproduces}\n    needs: {exp.needs}")
        if exp.recipe is None:
            _say("    cost: a few minutes of CPU (builds ResNet-1202)")
            continue
        for offline in (False, True):
            runs = grid.plan_runs(exp, "grid", offline=offline)
            seconds = costs.grid_seconds(runs, exp, offline=offline, iterations=None)
            label = "--offline" if offline else "paper schedule"
            _say(f"    {label}: {len(runs)} runs, about {costs.describe_seconds(seconds)} on {costs.DEVICE}")
    _say("Estimates scale measured CPU step times by FLOPs; no GPU step time has been measured yet.")
    return 0


def _experiment(argv: list[str]) -> experiments.Experiment:
    if len(argv) != 2:
        got = "none" if len(argv) < 2 else " ".join(argv[1:])
        raise cli.UsageError(
            f"give one experiment (got {got}); experiments: {', '.join(experiments.experiment_names())} (--list describes them)."
        )
    try:
        return experiments.get_experiment(argv[1])
    except ValueError as err:
        raise cli.UsageError(err) from None


def _table1(grid_dir: str) -> int:
    counts = table1.compute_counts(say=lambda text: print(text, file=sys.stderr, flush=True))
    tables = table1.render_tables(counts)
    out = os.path.join(grid_dir, "table1")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as f:
        f.write(
            f"# Table 1 and the CIFAR-10 nets, computed\n\n{tables}\n\n## The paper's rounded counts beside ours\n\n"
            f"{table1.render_comparison(counts)}\n"
        )
    _say(tables)
    _say(f"\nreport: {os.path.join(out, 'report.md')}")
    return 0


def _checked(value_error_call):
    """The value of a call whose ValueError is a command-line mistake."""
    try:
        return value_error_call()
    except ValueError as err:
        raise cli.UsageError(err) from None


def _settings(exp: experiments.Experiment) -> grid.GridSettings:
    iterations = FLAGS.iterations or (exp.offline_iterations if FLAGS.offline else None)
    return grid.GridSettings(exp.recipe, FLAGS.offline, iterations, tuple(FLAGS.train_flag))


def _grid_dir(exp: experiments.Experiment) -> str:
    return FLAGS.grid_dir or os.path.join("grids", exp.grid + ("_offline" if FLAGS.offline else ""))


class _Grid:
    """The grid this command works on: every planned run, this shard's, their states."""

    def __init__(self, exp: experiments.Experiment) -> None:
        self.exp, self.settings, self.dir = exp, _settings(exp), _grid_dir(exp)
        self.logs = os.path.join(self.dir, runner.LOGS)
        self.runs = _checked(
            lambda: grid.plan_runs(
                exp, self.dir, runs=FLAGS.runs, offline=FLAGS.offline, with_optional=FLAGS.with_1202, nets=FLAGS.nets
            )
        )
        index, count = _checked(lambda: grid.parse_shard(FLAGS.shard))
        self.shard = f"{index}/{count}"
        self.mine = grid.shard_runs(self.runs, index, count, self.cost)
        self.states = {r.name: grid.run_state(r) for r in self.runs}

    def cost(self, run: grid.Run) -> float:
        return costs.run_seconds(run, self.exp, offline=self.settings.offline, iterations=self.settings.iterations)

    def todo(self) -> list[grid.Run]:
        return [r for r in self.mine if self.states[r.name] != grid.FINISHED]

    def command(self, run: grid.Run) -> list[str]:
        return runner.train_command(run, self.settings, data_dir=FLAGS.data_dir, ten_crop=self.exp.ten_crop)

    def describe(self) -> str:
        counts = {
            s: sum(1 for v in self.states.values() if v == s) for s in (grid.FINISHED, grid.INTERRUPTED, grid.PENDING)
        }
        share = f"; shard {self.shard}: {len(self.mine)} of them" if self.shard != "0/1" else ""
        return (
            f"{self.exp.name}{' (offline)' if self.settings.offline else ''}: {len(self.runs)} runs in {self.dir} "
            f"({', '.join(f'{n} {s}' for s, n in counts.items() if n)}){share}; "
            f"{len(self.todo())} to train, about {costs.describe_seconds(sum(map(self.cost, self.todo())))} "
            f"on {costs.DEVICE}"
        )


def _print_plan(g: _Grid) -> None:
    for run in g.runs:
        mine = "" if run in g.mine else "  (other shard)"
        state = g.states[run.name]
        command = " ".join(["python", *g.command(run)[1:]])
        _say(f"  {run.name:<22} {state}{mine}\n      {command}")


def _slots() -> list[tuple[str, ...]]:
    """The device slots of --gpus and --devices_per_run (a mistake in them is a usage error)."""
    gpus = _checked(lambda: devices.parse_gpus(FLAGS.gpus))
    return _checked(
        lambda: devices.device_slots(devices.visible_gpus() if gpus is None else gpus, FLAGS.devices_per_run)
    )


def _first_missing(path: str) -> str | None:
    """The outermost folder of `path` that does not exist yet (None if `path` exists)."""
    path, missing = os.path.abspath(path), None
    while not os.path.exists(path):
        path, missing = os.path.dirname(path), path
    return missing


def _train(g: _Grid, slots: list[tuple[str, ...]]) -> list[runner.RunOutcome]:
    """Train this shard's runs that are left; a usage error of every run (no data) is one line."""
    created = _first_missing(g.dir)
    _checked(lambda: grid.check_settings(g.dir, g.settings))
    outcomes = runner.run_grid(g.todo(), slots, g.command, g.logs, say=_say)
    order = {r.name: i for i, r in enumerate(g.runs)}
    failed = sorted((o for o in outcomes if o.returncode == runner.USAGE_EXIT), key=lambda o: order[o.run.name])
    if failed and not any(o.returncode == 0 for o in outcomes):
        if created and not any(os.path.isdir(r.directory) for r in g.runs):
            shutil.rmtree(created, ignore_errors=True)  # nothing was trained: leave nothing behind
        reason = failed[0].last_error.split(": error: ", 1)[-1]
        raise cli.UsageError(f"{failed[0].run.name} could not start: {reason}")
    return outcomes


def _reproduce(exp: experiments.Experiment, prog: str) -> int:
    g = _Grid(exp)
    slots = None if FLAGS.report_only or FLAGS.plan else _slots()
    _say(g.describe())
    if FLAGS.plan:
        _print_plan(g)
        return 0
    if slots is not None and g.todo():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the runs under way stop; they resume later
        try:
            _train(g, slots)
        except KeyboardInterrupt:
            _say("interrupted: the runs under way were stopped; run the same command to resume them")
            return 130
    path = make_report(
        g.exp, g.runs, g.settings, g.dir, command=" ".join([prog, *sys.argv[1:]]), data_dir=FLAGS.data_dir, say=_say
    )
    _say(f"report: {path}")
    unfinished = [r.name for r in g.mine if grid.run_state(r) != grid.FINISHED]
    if unfinished:
        _say(f"{len(unfinished)} run(s) of this shard not finished: {', '.join(unfinished)}")
    return 1 if unfinished else 0


def _prog() -> str:
    if sys.argv and sys.argv[0].endswith("__main__.py"):
        return "python -m keras_resnet_paper.reproduce"
    return os.path.basename(sys.argv[0]) if sys.argv else "keras-resnet-paper-reproduce"


def main(argv: list[str]) -> int:
    if FLAGS.list:
        return _list()
    exp = _experiment(argv)
    if exp.recipe is None:
        return _table1(FLAGS.grid_dir or "grids")
    return _reproduce(exp, _prog())


def run() -> None:
    """Entry point of `python -m keras_resnet_paper.reproduce` and `keras-resnet-paper-reproduce`."""
    cli.run(main, doc=__doc__, modules=(_MODULE,), prog=_prog())
