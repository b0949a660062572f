"""Running a grid: runs as subprocesses on device slots, finished runs never started again, killed
runs started again (the trainer resumes them), one run per lock, a usage error stops the grid,
Ctrl-C stops the runs under way. A small script stands in for the training command here; the
journeys (tests/journeys/test_reproduce.py) run the real one."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from grid_files import finished_run, killed_run

from keras_resnet_paper.reproduce import grid, runner
from keras_resnet_paper.reproduce.experiments import get_experiment

#: Stands in for `python -m keras_resnet_paper.train`: counts its launches in the run folder,
#: records the devices it saw, and finishes (report.json), sleeps, or fails like a usage error.
TRAINER = textwrap.dedent("""
    import json, os, sys, time
    run_dir, mode = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)
    with open(os.path.join(run_dir, "launches"), "a") as f:
        f.write(os.environ.get("CUDA_VISIBLE_DEVICES", "cpu") + "\\n")
    if mode == "usage":
        print("python -m keras_resnet_paper.train: error: dataset 'cifar10' is not available offline", file=sys.stderr)
        sys.exit(2)
    if mode == "sleep":
        time.sleep(60)
    with open(os.path.join(run_dir, "report.json"), "w") as f:
        json.dump({"test_top1_error": 0.05, "iterations": 10}, f)
""")


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "fake_train.py"
    script.write_text(TRAINER)
    modes = {}

    def command(run):
        return [sys.executable, str(script), run.directory, modes.get(run.name, "finish")]

    command.modes = modes
    return command


def plan(tmp_path, runs=None):
    return grid.plan_runs(get_experiment("fig6"), str(tmp_path / "grid"), offline=True, runs=runs)


def launches(run):
    path = os.path.join(run.directory, "launches")
    return open(path).read().split() if os.path.exists(path) else []


def test_a_grid_with_finished_and_killed_runs_trains_only_what_is_left(tmp_path, fake):
    done, killed, pending, other = plan(tmp_path)
    finished_run(done.directory, test=0.03, train=0.01)
    killed_run(killed.directory)
    before = os.path.getmtime(os.path.join(done.directory, "report.json"))
    todo = [r for r in (done, killed, pending, other) if grid.run_state(r) != grid.FINISHED]
    assert todo == [killed, pending, other]
    said = []
    outcomes = runner.run_grid(todo, [()], fake, str(tmp_path / "grid" / "logs"), say=said.append, poll_s=0.05)
    assert [o.returncode for o in outcomes] == [0, 0, 0]
    assert all(grid.run_state(r) == grid.FINISHED for r in (done, killed, pending, other))
    assert os.path.getmtime(os.path.join(done.directory, "report.json")) == before and not launches(done)
    assert [len(launches(r)) for r in todo] == [1, 1, 1]
    record = json.loads((tmp_path / "grid" / "logs" / f"{killed.name}.json").read_text())
    assert record["attempts"][0]["returncode"] == 0 and "CPU only" in record["hardware"]["description"]
    assert not list((tmp_path / "grid" / "logs").glob("*.lock"))
    assert any(s.startswith(f"{pending.name}: finished") for s in said)


def test_runs_go_side_by_side_one_slot_each(tmp_path, fake):
    runs = plan(tmp_path)
    runner.run_grid(runs, [("0",), ("1",)], fake, str(tmp_path / "logs"), say=lambda s: None, poll_s=0.05)
    seen = [launches(r)[0] for r in runs]
    assert sorted(seen) == ["0", "0", "1", "1"]
    runs2 = plan(tmp_path / "b")
    runner.run_grid(runs2[:1], [("2", "3")], fake, str(tmp_path / "logs2"), say=lambda s: None, poll_s=0.05)
    assert launches(runs2[0]) == ["2,3"]  # devices_per_run=2: one run sees both


def test_a_run_locked_by_a_live_grid_is_skipped_and_a_stale_lock_taken_over(tmp_path, fake):
    a, b = plan(tmp_path)[:2]
    logs = tmp_path / "grid" / "logs"
    logs.mkdir(parents=True)
    import socket

    (logs / f"{a.name}.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    (logs / f"{b.name}.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": 2**22 + 12345}))
    outcomes = {o.run.name: o for o in runner.run_grid([a, b], [()], fake, str(logs), say=lambda s: None, poll_s=0.05)}
    assert outcomes[a.name].returncode is None and not launches(a)  # another grid command trains it
    assert outcomes[b.name].returncode == 0 and grid.run_state(b) == grid.FINISHED  # its owner is gone


def test_a_usage_error_stops_the_grid_with_its_line(tmp_path, fake):
    runs = plan(tmp_path)
    fake.modes[runs[0].name] = "usage"
    outcomes = runner.run_grid(runs, [()], fake, str(tmp_path / "logs"), say=lambda s: None, poll_s=0.05)
    assert [o.run.name for o in outcomes] == [runs[0].name]  # the other runs were not started
    assert outcomes[0].returncode == 2 and "dataset 'cifar10' is not available offline" in outcomes[0].last_error


def test_interrupting_the_grid_stops_the_runs_under_way(tmp_path, fake):
    runs = plan(tmp_path)
    fake.modes[runs[0].name] = "sleep"

    def say(text):
        if "started" in text:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run_grid(runs, [()], fake, str(tmp_path / "logs"), say=say, poll_s=0.05)
    record = json.loads((tmp_path / "logs" / f"{runs[0].name}.json").read_text())
    assert record["attempts"][0]["returncode"] not in (0, None)  # terminated, not left running
    assert not list((tmp_path / "logs").glob("*.lock"))


def test_train_command_is_the_training_command_line(tmp_path):
    run = plan(tmp_path)[2]
    settings = grid.GridSettings("cifar10_paper", True, 300, ("--precision=mixed_float16",))
    argv = runner.train_command(run, settings, data_dir="/data/cifar-10-binary.tar.gz", ten_crop=True)
    assert argv[:3] == [sys.executable, "-m", "keras_resnet_paper.train"]
    text = " ".join(argv[3:])
    assert text == (
        f"--recipe cifar10_paper --model resnet20 --model_dir {run.directory} --seed 0 --verbose 2 "
        "--offline --deterministic --iterations 300 --data_dir /data/cifar-10-binary.tar.gz "
        "--precision=mixed_float16"
    )  # no --ten_crop offline: the digits have no 10 crops


def test_shortcut_runs_train_the_option_they_name(tmp_path):
    """Table 3's ResNet-34 A: the grid's training command resolves to option A (what run.json records)."""
    run = grid.plan_runs(get_experiment("table3"), str(tmp_path))[1]
    assert run.net.train_flags == ("--shortcut", "A")
    settings = grid.GridSettings("imagenet_paper", True, None, ())
    argv = runner.train_command(run, settings) + ["--print_recipe"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "shortcut" in out.stdout and re.search(r"^shortcut\s+= 'A'$", out.stdout, re.M), out.stdout
