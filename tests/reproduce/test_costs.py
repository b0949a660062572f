"""Cost estimates: the FLOPs they scale with are the built nets', and they grow with depth and length."""

import pytest

import keras_resnet_paper as krp
from keras_resnet_paper.reproduce import costs, grid
from keras_resnet_paper.reproduce.experiments import get_experiment


def test_cifar_flops_are_the_built_nets():
    net = get_experiment("fig6").net("resnet56")
    assert costs.net_mflops(net) * 1e6 == pytest.approx(krp.count_flops(krp.ResNet56()), abs=1)


def test_estimates_grow_with_depth_and_length_and_read_as_time():
    fig6 = get_experiment("fig6")
    r20, r56 = (grid.Run(fig6.net(k), 0, k) for k in ("resnet20", "resnet56"))
    short = costs.run_seconds(r20, fig6, offline=True, iterations=None)
    assert short < costs.run_seconds(r56, fig6, offline=True, iterations=None)
    assert costs.run_seconds(r20, fig6, offline=False, iterations=None) > 100 * short  # 64k iterations
    offline = grid.plan_runs(fig6, "g", offline=True)
    assert 10 * 60 < costs.grid_seconds(offline, fig6, offline=True, iterations=None) < 60 * 60
    assert [costs.describe_seconds(s) for s in (600, 7200, 5 * 86400)] == ["10 min", "2.0 h", "5 days"]
