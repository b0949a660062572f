"""Each run option defined once (training/run_options.py): the training command's flags come from
it, and `resolve_run` refuses what the command line refuses, with the same words."""

from __future__ import annotations

import math

import pytest
from absl import flags

from keras_resnet_paper.training import run_options
from keras_resnet_paper.training.run_config import RUN_OPTIONS, resolve_run


def test_the_command_defines_one_flag_per_option_and_resolve_run_takes_each():
    import keras_resnet_paper.train  # noqa: F401 - defines the command's flags

    own = {flag.name for flag in flags.FLAGS.get_flags_for_module("keras_resnet_paper.train")}
    assert {option.flag_name for option in run_options.RUN_OPTIONS} <= own
    assert RUN_OPTIONS == tuple(option.name for option in run_options.RUN_OPTIONS)
    for option in run_options.RUN_OPTIONS:
        assert option.help in flags.FLAGS[option.flag_name].help


@pytest.mark.parametrize(
    "keyword, value, fragment",
    [
        ("lr", math.inf, "lr=inf: use a finite, positive learning rate"),
        ("lr", -0.1, "lr=-0.1: use a finite, positive learning rate"),
        ("iterations", 2**40, f"iterations={2**40}: use an integer from 1 to 2147483647"),
        ("batch_size", 0, "batch_size=0: use an integer from 1 to"),
        ("seed", -1, "seed=-1: use an integer from 0 to"),
        ("holdout", "yes", "holdout='yes': use True or False"),
        ("augment_on", "gpu", "augment_on='gpu': use one of host, device"),
    ],
)
def test_resolve_run_refuses_what_the_command_line_refuses(keyword, value, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        resolve_run("cifar10_offline", "resnet8", **{keyword: value})
