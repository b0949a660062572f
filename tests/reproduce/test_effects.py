"""The paper's effects judged from numbers: orderings with margins, ties, reversals, missing nets."""

import pytest

from keras_resnet_paper.reproduce.effects import Effect, Ordering, judge, judge_ordering

PLAIN = Ordering(("plain20", "plain32", "plain56"), "train")


def test_an_ordering_shows_when_its_ends_differ_by_more_than_the_margin():
    assert judge_ordering(PLAIN, {"plain20": 1.6, "plain32": 10.0, "plain56": 41.8}).status == "shows"
    # Ends 0.4 points apart: a tie, not the effect.
    assert judge_ordering(PLAIN, {"plain20": 1.6, "plain32": 1.8, "plain56": 2.0}).status == "does not show"
    # The paper's direction reversed.
    assert judge_ordering(PLAIN, {"plain20": 41.8, "plain56": 1.6}).status == "does not show"


def test_a_neighbouring_pair_may_tie_but_not_reverse():
    assert judge_ordering(PLAIN, {"plain20": 1.0, "plain32": 0.7, "plain56": 5.0}).status == "shows"  # 0.3 back: a tie
    assert judge_ordering(PLAIN, {"plain20": 1.0, "plain32": 9.0, "plain56": 5.0}).status == "does not show"


def test_missing_nets_are_skipped_and_one_net_is_not_a_measurement():
    result = judge_ordering(PLAIN, {"plain20": 1.0, "plain56": 3.0})
    assert result.status == "shows" and [k for k, _ in result.values] == ["plain20", "plain56"]
    assert judge_ordering(PLAIN, {"plain20": 1.0}).status == "not measured"


def test_responses_compare_relatively():
    o = Ordering(("resnet20", "plain20"), "response")
    assert judge_ordering(o, {"resnet20": 0.50, "plain20": 0.56}).status == "shows"  # 12% larger
    assert judge_ordering(o, {"resnet20": 0.50, "plain20": 0.52}).status == "does not show"  # 4%: a tie


def test_an_effect_shows_only_if_every_measured_ordering_shows():
    effect = Effect("degradation", "deeper plain is worse", (PLAIN, Ordering(("plain20", "plain56"), "test")))
    values = {"train": {"plain20": 1.0, "plain56": 40.0}, "test": {"plain20": 2.0, "plain56": 39.0}}
    assert judge(effect, values).status == "shows"
    values["test"]["plain56"] = 2.1
    assert judge(effect, values).status == "does not show"
    assert judge(effect, {"train": {"plain20": 1.0, "plain56": 40.0}}).status == "shows"  # test not measured
    assert judge(effect, {}).status == "not measured"


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="metric='speed'"):
        Ordering(("a", "b"), "speed")
