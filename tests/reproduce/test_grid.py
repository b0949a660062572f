"""Grid planning: runs per net and seed, states read from run folders (finished, killed, absent),
shards that split a grid across machines, settings a grid folder keeps."""

import json
import os

import pytest
from grid_files import finished_run, killed_run

from keras_resnet_paper.reproduce import costs, grid
from keras_resnet_paper.reproduce.experiments import get_experiment

FIG6 = get_experiment("fig6")


def names(runs):
    return [r.name for r in runs]


def test_plan_follows_the_paper_runs_or_runs(tmp_path):
    runs = grid.plan_runs(FIG6, str(tmp_path))
    assert names(runs)[:2] == ["plain20_seed0", "plain32_seed0"]
    assert [r.name for r in runs if r.net.key == "resnet110"] == [f"resnet110_seed{s}" for s in range(5)]  # Table 6
    assert len(runs) == 8 + 5
    three = grid.plan_runs(FIG6, str(tmp_path), runs=3, with_optional=True)
    assert len(three) == 10 * 3 and names(three)[-1] == "resnet1202_seed2"
    assert names(grid.plan_runs(FIG6, str(tmp_path), offline=True)) == [
        "plain20_seed0",
        "plain56_seed0",
        "resnet20_seed0",
        "resnet56_seed0",
    ]
    assert runs[0].directory == os.path.join(str(tmp_path), "plain20_seed0")
    with pytest.raises(ValueError, match="runs=0"):
        grid.plan_runs(FIG6, str(tmp_path), runs=0)


def test_a_smaller_grid_keeps_the_named_nets_in_plan_order(tmp_path):
    smaller = grid.plan_runs(FIG6, str(tmp_path), offline=True, nets=["resnet20", "plain20"])
    assert names(smaller) == ["plain20_seed0", "resnet20_seed0"]
    assert names(grid.plan_runs(FIG6, str(tmp_path), runs=2, nets=["resnet110"])) == [
        "resnet110_seed0",
        "resnet110_seed1",
    ]
    with pytest.raises(
        ValueError,
        match=r"nets='resnet110': give nets of this grid of fig6 \(plain20, plain56, "
        r"resnet20, resnet56\)",
    ):
        grid.plan_runs(FIG6, str(tmp_path), offline=True, nets=["resnet110"])  # not in the offline grid
    with pytest.raises(ValueError, match="nets=''"):
        grid.plan_runs(FIG6, str(tmp_path), nets=[])


def test_states_from_run_folders(tmp_path):
    done, killed, absent, broken = grid.plan_runs(FIG6, str(tmp_path), offline=True)
    finished_run(done.directory, test=0.03, train=0.01)
    killed_run(killed.directory)
    os.makedirs(broken.directory)
    (tmp_path / broken.name / "report.json").write_text("{not json")  # killed while the report was written
    assert [grid.run_state(r) for r in (done, killed, absent, broken)] == [
        grid.FINISHED,
        grid.INTERRUPTED,
        grid.PENDING,
        grid.PENDING,
    ]


@pytest.mark.parametrize("text, expected", [("0/1", (0, 1)), ("1/2", (1, 2)), (" 3 / 4 ", (3, 4))])
def test_parse_shard(text, expected):
    assert grid.parse_shard(text) == expected


@pytest.mark.parametrize("text", ["2/2", "1", "a/b", "0/0", "-1/2"])
def test_parse_shard_refuses(text):
    with pytest.raises(ValueError, match="shard="):
        grid.parse_shard(text)


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_shards_partition_the_grid_and_balance_its_cost(tmp_path, count):
    runs = grid.plan_runs(FIG6, str(tmp_path), with_optional=True)
    cost = lambda r: costs.run_seconds(r, FIG6, offline=False, iterations=None)  # noqa: E731
    shards = [grid.shard_runs(runs, i, count, cost) for i in range(count)]
    assert sorted(names(sum(shards, []))) == sorted(names(runs))  # every run once
    for shard in shards:
        assert names(shard) == [n for n in names(runs) if n in names(shard)]  # plan order kept
    loads = [sum(map(cost, s)) for s in shards]
    assert max(loads) - min(loads) <= max(map(cost, runs))  # no machine waits more than one run for another
    assert grid.shard_runs(runs, 0, count, cost) == shards[0]  # the same split on every machine


def test_settings_are_kept_and_checked(tmp_path):
    settings = grid.GridSettings("cifar10_paper", True, 300)
    grid.check_settings(str(tmp_path / "g"), settings)
    assert json.loads((tmp_path / "g" / "grid.json").read_text())["iterations"] == 300
    grid.check_settings(str(tmp_path / "g"), settings)  # the same settings resume
    with pytest.raises(ValueError, match=r"iterations=300, not 600"):
        grid.check_settings(str(tmp_path / "g"), grid.GridSettings("cifar10_paper", True, 600))
