"""`python -m keras_resnet_paper.reproduce`, run as a user runs it on a machine without a network:
--help and --list, one-line mistakes, the plan of a half-done grid, a report from finished runs;
slow: table1 as the README's tables, the offline Fig. 6 grid and its effects, Fig. 7 on the same
nets, a killed grid resumed, a grid split over two "machines", the documented commands that need
CIFAR-10 or ImageNet."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest
from journey import REPO, argv_of, assert_one_line_error, offline_env

REPRODUCE = "python -m keras_resnet_paper.reproduce"
LIST = f"{REPRODUCE} --list"
TABLE1 = f"{REPRODUCE} table1"
FIG6_OFFLINE = f"{REPRODUCE} fig6 --offline"
FIG7_OFFLINE = f"{REPRODUCE} fig7 --offline"
FIG6_GPUS = f"{REPRODUCE} fig6 --runs 5 --data_dir ~/data/cifar-10-binary.tar.gz --gpus 0,1,2,3"
TABLE3_GPUS = f"{REPRODUCE} table3 --data_dir ~/tensorflow_datasets --gpus 0,1,2,3,4,5,6,7 --devices_per_run 2"
SHARD0 = f"{REPRODUCE} fig6 --offline --shard 0/2 --grid_dir /shared/grids/cifar10_offline"
SHARD1 = f"{REPRODUCE} fig6 --offline --shard 1/2 --grid_dir /shared/grids/cifar10_offline"
REPORT_ONLY = f"{REPRODUCE} fig6 --offline --report_only --grid_dir /shared/grids/cifar10_offline"
OFFLINE_NETS = ("plain20", "plain56", "resnet20", "resnet56")
SMALL_GRID = ("plain20", "resnet20")  # --nets: the slow journeys train a smaller grid


def _finished(run_dir, train: float, test: float, iterations: int = 300) -> None:
    """A run folder as the training command leaves it when it has finished."""
    os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)
    with open(os.path.join(run_dir, "history.csv"), "w") as f:
        f.write(
            f"epoch,iteration,top1_error,val_top1_error\n0,{iterations // 2},0.5,0.5\n1,{iterations},{train},{test}\n"
        )
    with open(os.path.join(run_dir, "report.json"), "w") as f:
        json.dump(
            {
                "dataset": "digits",
                "iterations": iterations,
                "wall_time_s": 60.0,
                "test_top1_error": test,
                "test_top5_error": 0.0,
            },
            f,
        )


def _settings(grid_dir, iterations=300) -> None:
    os.makedirs(grid_dir, exist_ok=True)
    with open(os.path.join(grid_dir, "grid.json"), "w") as f:
        json.dump({"recipe": "cifar10_paper", "offline": True, "iterations": iterations, "train_flags": []}, f)


def test_help_lists_the_flags(run_command):
    script = str(pathlib.Path(sys.executable).parent / "keras-resnet-paper-reproduce")  # the console script
    out = run_command([script, "--help"], timeout=300)
    assert out.returncode == 0, out.describe()
    assert out.stdout.startswith("usage: keras-resnet-paper-reproduce [flags]")
    for flag in (
        "--[no]list",
        "--[no]offline",
        "--runs",
        "--nets",
        "--shard",
        "--gpus",
        "--devices_per_run",
        "--grid_dir",
        "--data_dir",
        "--iterations",
        "--[no]with_1202",
        "--[no]report_only",
        "--[no]plan",
    ):
        assert f"  {flag}" in out.stdout, flag


def test_list_names_every_experiment_with_needs_and_cost(run_command):
    out = run_command(LIST, timeout=300)
    assert out.returncode == 0, out.describe()
    heads = [l for l in out.stdout.splitlines() if l and not l.startswith(" ")]
    assert heads[:5] == ["table1", "fig6 = table6", "fig7", "fig4 = table2", "table3"]
    assert out.stdout.count("    needs: ") == 5
    assert re.search(r"--offline: 4 runs, about \d+ min on CPU-2", out.stdout), out.stdout
    assert "no GPU step time has been measured yet" in out.stdout


MISTAKES = [
    ("", ["give one experiment (got none)", "fig6, table6"]),
    ("fig99", ["experiment='fig99'", "table1"]),
    ("fig6 fig7", ["give one experiment (got fig6 fig7)"]),
    ("fig6 --offline --shard 2/2", ["shard='2/2'", "0 <= i < n"]),
    ("fig6 --offline --gpus first", ["gpus='first'"]),
    ("fig6 --offline --gpus 0,1 --devices_per_run 3", ["devices_per_run=3 but only 2 GPU(s)"]),
    ("fig6 --runs 0", ["--runs"]),
    ("fig6 --no_such_flag", ["no_such_flag"]),
    ("fig6 --offline --nets resnet20,resnet110", ["nets='resnet20,resnet110'", "plain20, plain56, resnet20"]),
]
FINISHED = dict(zip(OFFLINE_NETS, ((0.016, 0.025), (0.418, 0.394), (0.012, 0.031), (0.094, 0.086))))


def _half_done(work) -> None:
    grid = work / "grids" / "cifar10_offline"
    _settings(grid)
    _finished(grid / "plain20_seed0", 0.016, 0.025)
    os.makedirs(grid / "plain56_seed0" / "checkpoints")  # killed after its first checkpoint


def _all_done(work) -> None:
    grid = work / "grids" / "cifar10_offline"
    _settings(grid)
    for net, (train, test) in FINISHED.items():
        _finished(grid / f"{net}_seed0", train, test)


@pytest.fixture(scope="module")
def commands(run_commands):
    """{name: Outcome} of this module's quick command lines, one batch of the reproduce command
    (tests/command_batch.py); the documented commands run in subprocesses of their own."""
    fig6 = FIG6_OFFLINE.split()[3:]
    runs = {args: args.split() for args, _ in MISTAKES}
    runs["other schedule"] = fig6 + ["--grid_dir", "g"]
    runs["plan"] = fig6 + ["--plan"]
    runs["plan shard"] = fig6 + ["--plan", "--shard", "1/2"]
    runs["report"] = fig6 + ["--report_only"]
    setups = {
        "other schedule": lambda work: _settings(work / "g", iterations=600),
        "plan": _half_done,
        "plan shard": _half_done,
        "report": _all_done,
    }
    outcomes = run_commands(REPRODUCE, list(runs.values()), setup=[setups.get(name) for name in runs])
    return dict(zip(runs, outcomes))


@pytest.mark.parametrize("args, fragments", MISTAKES)
def test_mistakes_are_one_line(commands, args, fragments):
    out = commands[args]
    assert_one_line_error(out, *fragments)
    assert not (out.cwd / "grids").exists(), "a refused command leaves no folder behind"


def test_a_grid_is_not_resumed_with_another_schedule(commands):
    assert_one_line_error(commands["other schedule"], "grid_dir='g' holds runs made with iterations=600, not 300")


def test_plan_of_a_half_done_grid_and_its_shards(commands):
    out = commands["plan"]
    assert out.returncode == 0, out.describe()
    assert "4 runs in grids/cifar10_offline (1 finished, 1 interrupted, 2 pending); 3 to train" in out.stdout
    states = dict(re.findall(r"^  (\w+_seed0) +(\w+)", out.stdout, re.M))
    assert states == {
        "plain20_seed0": "finished",
        "plain56_seed0": "interrupted",
        "resnet20_seed0": "pending",
        "resnet56_seed0": "pending",
    }
    assert (
        "--model_dir grids/cifar10_offline/resnet56_seed0 --seed 0 --verbose 2 --offline --deterministic" in out.stdout
    )
    share = commands["plan shard"].stdout
    mine = set(re.findall(r"^  (\w+_seed0) +\w+$", share, re.M))
    others = set(re.findall(r"^  (\w+_seed0) +\w+  \(other shard\)$", share, re.M))
    assert mine and others and mine | others == set(states) and "; shard 1/2: " in share, share


def test_report_from_finished_runs(commands):
    out = commands["report"]
    assert out.returncode == 0, out.describe()
    assert out.stdout.splitlines()[-1] == "report: grids/cifar10_offline/fig6/report.md"
    grid = out.cwd / "grids" / "cifar10_offline"
    text = (grid / "fig6" / "report.md").read_text()
    assert "| plain-56 | – | 39.40 | – | 41.80 | 300 | 1/1 |" in text
    assert "✔ **degradation**" in text and "✘ **deeper ResNet lower**" in text
    assert (grid / "fig6" / "fig6.png").stat().st_size > 10_000


def _table_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"^(### [^\n]+ family [^\n]*\n\n(?:\|[^\n]*\|\n?)+)", text, re.M)]


@pytest.mark.slow
def test_table1_prints_the_readme_tables(run_command):
    out = run_command(TABLE1, timeout=1800)
    assert out.returncode == 0, out.describe()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert _table_blocks(out.stdout) == _table_blocks(readme) and len(_table_blocks(readme)) == 2
    report = (run_command.work / "grids" / "table1" / "report.md").read_text(encoding="utf-8")
    assert "| ResNet-1202 (CIFAR-10) | 19.4M params | 19,421,274 params |" in report


def _numbers(grid) -> dict[str, tuple[float, float]]:
    """(final training error, test error) in % of each offline net, from its run folder."""
    out = {}
    for net in OFFLINE_NETS:
        run = grid / f"{net}_seed0"
        rows = (run / "history.csv").read_text().splitlines()
        header, last = rows[0].split(","), rows[-1].split(",")
        train = 100 * float(last[header.index("top1_error")])
        out[net] = train, 100 * json.loads((run / "report.json").read_text())["test_top1_error"]
    return out


@pytest.mark.paper  # 15-30 minutes on 2 cores: `python -m pytest -m paper`, not in CI's fast + slow runs
def test_offline_fig6_shows_degradation_and_the_residual_fix_then_fig7(run_command):
    """The README's offline Fig. 6 (about 20 minutes on 2 cores), then Fig. 7 on the same nets."""
    out = run_command(FIG6_OFFLINE, timeout=5400)
    assert out.returncode == 0, out.describe()
    grid = run_command.work / "grids" / "cifar10_offline"
    n = _numbers(grid)
    # Degradation: plain-56 ends far above plain-20, in training and test error (Fig. 6 left).
    assert n["plain56"][0] > n["plain20"][0] + 10 and n["plain56"][1] > n["plain20"][1] + 10, n
    # The residual fix: ResNet-56 trains far below plain-56 (Fig. 6 middle).
    assert n["resnet56"][0] < n["plain56"][0] - 10 and n["resnet56"][1] < n["plain56"][1] - 10, n
    report = (grid / "fig6" / "report.md").read_text()
    assert "✔ **degradation**" in report and "✔ **residual fix**" in report, report
    assert (grid / "fig6" / "fig6.png").stat().st_size > 10_000
    again = run_command(FIG6_OFFLINE, timeout=600)  # nothing is trained twice
    assert again.returncode == 0 and "0 to train" in again.stdout and "started" not in again.stdout, again.describe()
    fig7 = run_command(FIG7_OFFLINE, timeout=1800)
    assert fig7.returncode == 0 and "started" not in fig7.stdout, fig7.describe()  # the fig6 nets, reused
    text = (grid / "fig7" / "report.md").read_text()
    assert re.search(r"\| ResNet-56 \| \d\.\d{3} \|", text) and (grid / "fig7" / "fig7.png").exists(), text


def _launches(log) -> int:
    return log.read_text().count("\n$ ") if log.exists() else 0


@pytest.mark.slow
def test_a_killed_grid_resumes_and_never_trains_a_finished_run_twice(run_command):
    """A smaller grid of two nets, 16 iterations each (an evaluation and a checkpoint every 2),
    killed while its second net trains, then resumed by the same command."""
    command = f"{FIG6_OFFLINE} --iterations 16 --grid_dir g --nets {','.join(SMALL_GRID)}"
    argv = argv_of(command)
    grid = run_command.work / "g"
    proc = subprocess.Popen(
        argv,
        cwd=run_command.work,
        env=offline_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 1800
    history = grid / "resnet20_seed0" / "history.csv"
    while time.time() < deadline and (not history.exists() or len(history.read_text().splitlines()) < 3):
        time.sleep(1)  # two evaluations logged: the first one's checkpoint is written
    os.killpg(proc.pid, signal.SIGKILL)  # the whole grid, its training run included, as a lost machine
    proc.communicate(timeout=60)
    finished = grid / "plain20_seed0" / "report.json"
    assert finished.exists() and not (grid / "resnet20_seed0" / "report.json").exists()
    stamp = finished.stat().st_mtime
    out = run_command(command, timeout=1800)
    assert out.returncode == 0, out.describe()
    assert finished.stat().st_mtime == stamp and _launches(grid / "logs" / "plain20_seed0.log") == 1
    assert "Resuming from step" in (grid / "logs" / "resnet20_seed0.log").read_text()
    assert all((grid / f"{net}_seed0" / "report.json").exists() for net in SMALL_GRID)
    assert not (grid / "plain56_seed0").exists()  # not in the smaller grid


@pytest.mark.slow
def test_a_grid_split_over_two_machines(run_command, tmp_path):
    """The README's two shard commands side by side on a shared folder, then the report of both;
    shortened to a smaller grid of two nets (one per shard) of 10 iterations."""
    shared = tmp_path / "shared"
    shorter = ["--iterations", "10", "--nets", ",".join(SMALL_GRID)]
    commands = [argv_of(c.replace("/shared", str(shared))) + shorter for c in (SHARD0, SHARD1)]
    procs = [
        subprocess.Popen(
            c, cwd=run_command.work, env=offline_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for c in commands
    ]
    outs = [p.communicate(timeout=1800)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    started = [set(re.findall(r"^(\w+_seed0): started", o, re.M)) for o in outs]
    assert started[0].isdisjoint(started[1]) and len(started[0] | started[1]) == 2, outs
    out = run_command(REPORT_ONLY.replace("/shared", str(shared)) + " " + " ".join(shorter), timeout=600)
    assert out.returncode == 0, out.describe()
    assert "Every planned run finished." in (shared / "grids" / "cifar10_offline" / "fig6" / "report.md").read_text()


@pytest.mark.slow
def test_fig6_on_gpus_without_the_cifar_archive(run_command):
    """The documented multi-GPU CIFAR-10 grid on a machine without the archive: one line, exit 2,
    no grid folder left (the runs would each see one of the GPUs)."""
    out = run_command(FIG6_GPUS, timeout=900, env={"HOME": str(run_command.work)})
    assert_one_line_error(out, "plain20_seed0 could not start", "cifar-10-binary.tar.gz")
    assert not (run_command.work / "grids").exists()


@pytest.mark.slow
def test_table3_without_imagenet(run_command):
    """Table 3 with two GPUs per run on a machine without ImageNet: one line naming the data set;
    no run folder is left behind."""
    out = run_command(TABLE3_GPUS, timeout=900, env={"HOME": str(run_command.work)})
    assert_one_line_error(out, "could not start", "imagenet2012")
    assert "7 runs in grids/imagenet (7 pending); 7 to train" in out.stdout, out.describe()


def test_every_documented_reproduce_command_is_run_here():
    """The README's reproduce commands are the ones these journeys run (COVERED points here)."""
    from readme_commands import readme_commands

    documented = {c for c in readme_commands() if c.startswith(REPRODUCE)}
    assert documented == {LIST, TABLE1, FIG6_OFFLINE, FIG7_OFFLINE, FIG6_GPUS, TABLE3_GPUS, SHARD0, SHARD1, REPORT_ONLY}
