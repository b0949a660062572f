"""Issue 24: a run folder is one run. The command line on a copy of one short offline run's folder
(tests/conftest.py `offline_run`): another model, recipe, batch, lr or seed is refused with one line
and exit 2 naming the difference; --restart moves the old run whole to previous-<n>/ and starts
afresh; damaged run files name themselves."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from keras_resnet_paper.training import run_identity

SAME = ["--recipe", "cifar10_offline", "--model", "resnet8", "--batch_size", "64", "--iterations", "100"]
SAME += ["--eval_every", "50", "--notensorboard", "--verbose", "2"]


@pytest.fixture
def used_folder(offline_run, tmp_path):
    """A copy of the shared run's folder, to change."""
    return shutil.copytree(offline_run[1], tmp_path / "run")


def _with(changes: dict[str, str]) -> list[str]:
    args = list(SAME)
    for flag, value in changes.items():
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


@pytest.mark.parametrize(
    "changes, difference",
    [
        ({"--model": "plain8"}, "model 'resnet8' -> 'plain8'"),
        ({"--model": "resnet14"}, "model 'resnet8' -> 'resnet14'"),
        ({"--recipe": "imagenet_paper", "--offline": "true"}, "recipe 'cifar10_offline' -> 'imagenet_paper_offline'"),
        ({"--lr": "0.05"}, "base lr 0.1 -> 0.05"),
        ({"--batch_size": "32"}, "global batch 64 -> 32"),
        ({"--seed": "1"}, "seed 0 -> 1"),
    ],
)
def test_another_run_in_the_folder_is_refused_in_one_line(train_command, used_folder, changes, difference):
    before = sorted(os.listdir(used_folder))
    args = _with(changes)
    if changes.get("--offline"):
        args.remove("--offline")
        args.remove("true")
        args.append("--offline")
    out = train_command(*args, "--model_dir", used_folder)
    assert out.returncode == 2, out.describe()
    line = out.stderr.strip().splitlines()[-1]
    assert difference in line and "--restart" in line and "another --model_dir" in line, line
    assert sorted(os.listdir(used_folder)) == before  # nothing changed


def test_restart_moves_the_old_run_whole_and_starts_afresh(train_command, used_folder):
    before = sorted(os.listdir(used_folder))
    out = train_command(*_with({"--model": "plain8", "--iterations": "10", "--eval_every": "10"}), "--restart",
                        "--model_dir", used_folder)  # fmt: skip
    assert out.returncode == 0, out.describe()
    previous = used_folder / "previous-1"
    assert f"is now in {previous}" in out.stdout
    assert sorted(os.listdir(previous)) == before and json.load(open(previous / "run.json"))["model"] == "resnet8"
    assert json.load(open(used_folder / "run.json"))["model"] == "plain8"


def test_more_iterations_are_the_runs_own_change(tmp_path, offline_run):
    record = json.load(open(offline_run[1] / "run.json"))
    longer = json.loads(json.dumps(record))
    longer["recipe"]["iterations"] = 200
    folder = shutil.copytree(offline_run[1], tmp_path / "run")
    assert run_identity.check_same_run(str(folder), longer) == record
    assert run_identity.segments(record, longer, 100) == [
        {"from_step": 100, "iterations": 200, "after_divergence": None}
    ]
    assert run_identity.segments(record, record, 100) == []


@pytest.mark.parametrize("damage", [b'{"model": "resnet8", "recipe": {"na', b"\\xfd\\xfe garbage", b"[1, 2]"])
def test_a_damaged_run_json_names_itself(train_command, used_folder, damage):
    (used_folder / "run.json").write_bytes(damage)
    out = train_command(*SAME, "--model_dir", used_folder)
    assert out.returncode == 2, out.describe()
    line = out.stderr.strip().splitlines()[-1]
    assert f"{used_folder / 'run.json'} is damaged" in line and "--restart" in line, line


def test_a_torn_history_line_leaves_the_history_whole(train_command, used_folder):
    history = used_folder / "history.csv"
    rows = history.read_text().splitlines()
    history.write_text("\n".join(rows) + "\n" + rows[-1].split(",", 1)[0][:1])  # a kill mid-line
    out = train_command(*SAME, "--model_dir", used_folder)
    assert out.returncode == 0, out.describe()
    assert history.read_text().splitlines() == rows  # the torn line left; nothing glued to it


def test_an_unreadable_history_is_set_aside_and_begun_anew(train_command, used_folder):
    (used_folder / "history.csv").write_bytes(b"\xfd\xfe\x00garbage\n" * 3)
    out = train_command(*SAME, "--model_dir", used_folder)
    assert out.returncode == 0, out.describe()
    assert "history.csv could not be read" in out.stderr and "history.csv.damaged" in out.stderr
    assert (used_folder / "history.csv.damaged").read_bytes().startswith(b"\xfd\xfe")


def test_a_damaged_best_weights_file_is_set_aside_saying_so(train_command, used_folder):
    best = used_folder / "checkpoints" / "best.weights.h5"
    best.write_bytes(best.read_bytes()[:100])  # truncated
    out = train_command(*SAME, "--model_dir", used_folder)
    assert out.returncode == 0, out.describe()
    assert "best.weights.h5 could not be read" in out.stdout and (best.parent / "best.weights.h5.damaged").exists()
    assert "best.weights.h5   " not in out.stdout  # no longer listed as if it were usable


def test_a_finished_run_run_again_changes_nothing_and_says_so(train_command, used_folder):
    reports = {name: (used_folder / name).read_bytes() for name in ("report.md", "report.json", "final.weights.h5")}
    out = train_command(*SAME, "--model_dir", used_folder)
    assert out.returncode == 0, out.describe()
    first = out.stdout.strip().splitlines()
    assert any(line.startswith("Already finished: resnet8, recipe cifar10_offline, 100 iterations") for line in first)
    assert "nothing trained or rewritten" in out.stdout and "Done:" not in out.stdout
    assert {name: (used_folder / name).read_bytes() for name in reports} == reports


def test_times_never_go_back_over_a_resume(train_command, used_folder):
    """More iterations on a finished run (the run's own change): its evaluation lines and report
    count the run's time across sessions, not this session's."""
    state = json.load(open(used_folder / "checkpoints" / "ckpt-000000100" / "state.json"))
    earlier = float(state["training_time_s"])
    out = train_command(*_with({"--iterations": "150"}), "--model_dir", used_folder)
    assert out.returncode == 0, out.describe()
    line = next(line for line in out.stdout.splitlines() if line.startswith("iteration 150/150"))
    assert int(re.search(r"(\d+) s( +best)?$", line)[1]) >= int(earlier), line
    record = json.load(open(used_folder / "run.json"))
    assert record["segments"][-1]["from_step"] == 100 and record["segments"][-1]["iterations"] == 150
