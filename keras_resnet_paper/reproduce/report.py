"""report.md of a grid: the paper's number beside ours for every net, the effects the numbers
show, the figures, the iterations each run actually ran, the hardware, and which runs are missing.

Best and mean ± std are over the finished runs of a net, as Table 6 gives them for ResNet-110
(docs/paper.md, 'CIFAR-10 results (Table 6, Fig. 6)'). A report is made from whatever has
finished; unfinished runs are listed, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Callable, Sequence

from keras_resnet_paper.atomic_files import atomic_write_text
from keras_resnet_paper.reproduce import figures
from keras_resnet_paper.reproduce.effects import SHOWS, judge
from keras_resnet_paper.reproduce.experiments import Experiment
from keras_resnet_paper.reproduce.grid import FINISHED, GridSettings, Run, run_state
from keras_resnet_paper.reproduce.responses import compute_responses
from keras_resnet_paper.reproduce.results import NetSummary, load_result, metric_values, summarize
from keras_resnet_paper.reproduce.runner import LOGS
from keras_resnet_paper.version import __version__

__all__ = ["ReportInputs", "render_report", "write_report", "make_report"]


@dataclasses.dataclass
class ReportInputs:
    """Everything a report is made from."""

    experiment: Experiment
    summaries: dict[str, NetSummary]
    settings: GridSettings
    command: str
    figures: Sequence[str] = ()  # file names beside report.md


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _data_note(inputs: ReportInputs) -> str:
    s = inputs.settings
    if s.offline:
        return (
            "**Offline**: trained on scikit-learn's handwritten digits upsampled to 32×32 (1437 training, 360 "
            f"test images), not on the paper's data, with a {s.iterations or 'shortened'}-iteration schedule. The "
            "paper's numbers are there for reference only: what compares is the effects below. Nets: "
            f"{', '.join(s_.net.label for s_ in inputs.summaries.values())}."
        )
    length = f"shortened to {s.iterations} iterations" if s.iterations else "the paper's schedule"
    return f"Recipe `{s.recipe}`, {length}."


def _error_columns(summary: NetSummary, metric: str, top5: bool) -> list[str]:
    best = summary.best(metric)
    stats = summary.mean_std(metric)
    best_text = _pct(best)
    if top5 and best is not None:
        best_text += f" / {_pct(summary.best('top5'))}"
    return [best_text, "–" if stats is None else f"{stats[0]:.2f} ± {stats[1]:.2f}"]


def _iterations(summary: NetSummary) -> str:
    its = sorted({int(r.report.get("iterations", 0)) for r in summary.finished})
    return "–" if not its else "/".join(f"{i:,}" for i in its)


def _results_table(inputs: ReportInputs) -> list[str]:
    """One row per net: the paper's number, ours (best; mean ± std), training error, iterations, runs."""
    exp = inputs.experiment
    top5 = any(s.net.paper and s.net.paper.top5 is not None for s in inputs.summaries.values())
    metric = "table" if exp.ten_crop else "test"
    protocols = {("10-crop" if r.ten_crop else "single view") for s in inputs.summaries.values() for r in s.finished}
    ours = f"ours ({', '.join(sorted(protocols)) or 'no run finished'})"
    head = "top-1 / top-5 error %" if top5 else "test error %"
    lines = [
        f"| network | paper: {head} | {ours}: best | ours: mean ± std | training error % | iterations | runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in inputs.summaries.values():
        paper = s.net.paper.describe() if s.net.paper else "–"
        best, stats = _error_columns(s, metric, top5)
        lines.append(
            f"| {s.net.label} | {paper} | {best} | {stats} | {_pct(s.mean('train'))} | {_iterations(s)} "
            f"| {len(s.finished)}/{len(s.results)} |"
        )
    return lines


def _responses_table(inputs: ReportInputs) -> list[str]:
    lines = [
        "| network | mean std of the 3×3 layers' responses | largest | smallest | layers | runs |",
        "|---|---|---|---|---|---|",
    ]
    for s in inputs.summaries.values():
        first = next((r for r in s.finished if r.responses), None)
        values = list(first.responses.values()) if first else []
        stats = f"{s.mean('response'):.3f}" if values else "–"
        extremes = [f"{max(values):.3f}", f"{min(values):.3f}"] if values else ["–", "–"]
        lines.append(
            f"| {s.net.label} | {stats} | {' | '.join(extremes)} | {len(values) or '–'} "
            f"| {len(s.finished)}/{len(s.results)} |"
        )
    return lines


def _effects(inputs: ReportInputs) -> list[str]:
    values = metric_values(inputs.summaries, ("train", "test", "table", "response"))
    labels = {k: s.net.label for k, s in inputs.summaries.items()}
    lines = []
    for effect in inputs.experiment.effects:
        result = judge(effect, values)
        mark = "✔" if result.status == SHOWS else "✘" if result.status == "does not show" else "–"
        lines.append(f"- {mark} **{effect.name}** ({effect.claim}): **{result.status}**")
        lines += [f"  - {o.describe(labels)}" for o in result.orderings if o.values]
    return lines


def _runs_section(inputs: ReportInputs) -> list[str]:
    lines = ["| run | state | iterations | wall time | hardware |", "|---|---|---|---|---|"]
    missing = []
    for s in inputs.summaries.values():
        for r in s.results:
            state = r.state
            its = r.report.get("iterations") or (int(r.history[-1]["iteration"]) if r.history else 0)
            seconds = r.report.get("total_wall_time_s", r.report.get("wall_time_s"))
            wall = f"{seconds:.0f} s" if seconds is not None else "–"
            hardware = r.launch.get("hardware", {}).get("description", "–")
            lines.append(f"| {r.run.name} | {state} | {its:,} | {wall} | {hardware} |")
            if r.state != FINISHED:
                missing.append(f"{r.run.name} ({state})")
    lines.append("")
    lines.append(f"Missing runs: {', '.join(missing)}." if missing else "Every planned run finished.")
    return lines


def _hardware(inputs: ReportInputs) -> str:
    seen = {}
    for s in inputs.summaries.values():
        for r in s.finished:
            hw = r.launch.get("hardware")
            if hw:
                seen.setdefault(f"{hw.get('host', '?')}: {hw.get('description', '?')}", None)
    return "; ".join(seen) or "not recorded (runs trained outside this command)"


def render_report(inputs: ReportInputs) -> str:
    """The markdown of report.md."""
    exp = inputs.experiment
    lines = [
        f"# {exp.reproduces}",
        "",
        f"Made by `{inputs.command}` (keras_resnet_paper {__version__}) on "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; the paper's side is "
        f"docs/paper.md, '{exp.docs}'.",
        "",
        _data_note(inputs),
        "",
    ]
    if exp.responses:
        lines += ["## Layer responses (the paper gives the curves, no numbers)", "", *_responses_table(inputs), ""]
    else:
        lines += [
            "## Errors: the paper beside ours",
            "",
            *_results_table(inputs),
            "",
            "Best and mean ± std (n − 1) are over the finished runs; training error is the running top-1 "
            "error of the last evaluation interval, averaged over runs.",
            "",
        ]
    if exp.effects:
        lines += [
            "## Effects, computed from the numbers above",
            "",
            "An ordering shows when its ends differ by more than 0.5 points (5% for responses) the paper's "
            "way and no neighbouring pair is reversed by more than that; nets not measured are skipped.",
            "",
            *_effects(inputs),
            "",
        ]
    lines += [f"![{exp.name}]({name})" for name in inputs.figures]
    lines += ["", "## Runs", "", *_runs_section(inputs), "", f"Hardware: {_hardware(inputs)}.", ""]
    return "\n".join(lines)


def _figures(inputs: ReportInputs, out_dir: str) -> list[str]:
    exp = inputs.experiment
    if exp.panels:
        title = f"{exp.reproduces.split(':')[0]}: training (dashed) and test (bold) error"
        figures.plot_error_panels(exp.panels, inputs.summaries, os.path.join(out_dir, f"{exp.name}.png"), title)
        return [f"{exp.name}.png"]
    curves = {
        s.net.label: list(r.responses.values())
        for s in inputs.summaries.values()
        if (r := next((x for x in s.finished if x.responses), None))
    }
    if exp.responses and curves:
        figures.plot_responses(
            curves,
            os.path.join(out_dir, f"{exp.name}.png"),
            "Fig. 7: std of the layer responses (top: layer order; bottom: sorted)",
        )
        return [f"{exp.name}.png"]
    return []


def make_report(
    experiment: Experiment,
    runs: Sequence[Run],
    settings: GridSettings,
    grid_dir: str,
    *,
    command: str,
    data_dir: str | None = None,
    say: Callable[[str], None] = print,
) -> str:
    """Read the runs, compute Fig. 7's responses if the experiment needs them, draw the figures and
    write `grid_dir/<experiment>/report.md`; return its path."""
    logs = os.path.join(grid_dir, LOGS)
    if experiment.responses:
        for run in runs:
            if run_state(run) == FINISHED:
                say(f"{run.name}: layer responses on the test set")
                compute_responses(run, data_dir=data_dir)
    loaded = [load_result(r, logs) for r in runs]
    planned = {r.net.key for r in runs}
    nets = [n for n in experiment.selected_nets(offline=settings.offline, with_optional=True) if n.key in planned]
    inputs = ReportInputs(experiment, summarize(nets, loaded), settings, command)
    out_dir = os.path.join(grid_dir, experiment.name)
    inputs.figures = _figures(inputs, out_dir)
    return write_report(inputs, out_dir)


def write_report(inputs: ReportInputs, out_dir: str) -> str:
    """Write `out_dir/report.md`; return its path."""
    path = os.path.join(out_dir, "report.md")
    atomic_write_text(path, render_report(inputs))  # shards finishing together each write a whole report
    return path
