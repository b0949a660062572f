"""The experiment registry: names and aliases, nets the trainer knows, effects and panels that
name the experiment's own nets, the paper's numbers as docs/paper.md gives them."""

import pytest

from keras_resnet_paper.models import resolve_model_name
from keras_resnet_paper.reproduce import experiments
from keras_resnet_paper.reproduce.experiments import EXPERIMENTS, get_experiment


def test_names_and_aliases():
    assert list(EXPERIMENTS) == ["table1", "fig6", "fig7", "fig4", "table3"]
    assert get_experiment("table6") is get_experiment("fig6") is get_experiment("Fig-6")
    assert get_experiment("table2").name == "fig4"
    with pytest.raises(ValueError, match=r"experiment='fig99'.*fig6, table6"):
        get_experiment("fig99")


@pytest.mark.parametrize("name", [n for n, e in EXPERIMENTS.items() if e.nets])
def test_nets_effects_and_panels_are_consistent(name):
    exp = EXPERIMENTS[name]
    keys = [n.key for n in exp.nets]
    assert len(set(keys)) == len(keys)
    for net in exp.nets:
        assert resolve_model_name(net.model) == net.model
    named = {k for e in exp.effects for o in e.orderings for k in o.nets} | {k for _, ks in exp.panels for k in ks}
    assert named <= set(keys), named - set(keys)
    assert set(exp.offline_nets or keys) <= set(keys)


def test_the_grids_share_nets_with_the_same_definition():
    """Experiments of one grid folder train a shared net key the same way (fig6/fig7, table2/table3)."""
    by_grid = {}
    for exp in EXPERIMENTS.values():
        for net in exp.nets:
            seen = by_grid.setdefault((exp.grid, net.key), net)
            assert (seen.model, seen.train_flags) == (net.model, net.train_flags), (exp.name, net.key)


def test_paper_numbers():
    fig6 = get_experiment("fig6")
    r110 = fig6.net("resnet110").paper
    assert (r110.top1, r110.mean, r110.std, r110.runs) == (6.43, 6.61, 0.16, 5)
    assert fig6.net("resnet110").paper_runs == 5 and fig6.net("plain56").paper is None
    assert get_experiment("fig7").net("resnet110").paper_runs == 1  # Fig. 7 reads one net each
    t3 = get_experiment("table3")
    assert [(t3.net(k).paper.top1, t3.net(k).paper.top5) for k in ("plain34", "resnet34_A", "resnet34_C")] == [
        (28.54, 10.02),
        (25.03, 7.76),
        (24.19, 7.40),
    ]
    assert get_experiment("fig4").net("plain18").paper.top1 == 27.94


def test_optional_and_offline_selection():
    fig6 = get_experiment("fig6")
    assert [n.key for n in fig6.selected_nets(offline=False)][-1] == "resnet110"
    assert [n.key for n in fig6.selected_nets(offline=False, with_optional=True)][-1] == "resnet1202"
    assert [n.key for n in fig6.selected_nets(offline=True)] == list(experiments.OFFLINE_CIFAR_NETS)
