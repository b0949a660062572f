"""Fig. 7 for a grid: a finished run's net rebuilt by name, its final weights loaded, its layer
responses on the test set of the data it trained on, kept beside the weights."""

import importlib
import json
import os

import numpy as np
import pytest

from keras_resnet_paper import data
from keras_resnet_paper.models import get_model
from keras_resnet_paper.reproduce import responses
from keras_resnet_paper.reproduce.experiments import Net
from keras_resnet_paper.reproduce.grid import Run
from keras_resnet_paper.reproduce.results import RESPONSES_FILE

lr = importlib.import_module("keras_resnet_paper.evaluation.layer_responses")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run folder as the trainer leaves it: logits-model weights, report.json naming the data."""
    run_dir = tmp_path_factory.mktemp("grid") / "resnet8_seed0"
    run_dir.mkdir()
    model = get_model("resnet8", classes=10, input_shape=(32, 32, 3), classifier_activation=None)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # BN statistics that are not the identity, as after training
        if hasattr(layer, "moving_variance"):
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=layer.moving_variance.shape).astype("float32"))
    model.save_weights(str(run_dir / "final.weights.h5"))
    (run_dir / "report.json").write_text(json.dumps({"dataset": "digits", "test_top1_error": 0.1}))
    return Run(Net("resnet8", "ResNet-8", "resnet8"), 0, str(run_dir)), model


def test_responses_of_the_trained_net_on_its_test_set(trained, monkeypatch):
    run, model = trained
    got = responses.compute_responses(run)
    test = data.cifar_datasets("digits", batch_size=250, augment="none").test
    want = lr.layer_responses(model, test)
    assert list(got) == list(want) and len(got) == 1 + 6  # conv1 and two 3x3 per block, n = 1
    np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-5)
    kept = json.loads(open(os.path.join(run.directory, RESPONSES_FILE)).read())
    assert kept["dataset"] == "digits" and kept["responses"] == got

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although the weights did not change")

    monkeypatch.setattr(lr, "layer_responses", fail)
    assert responses.compute_responses(run) == got  # kept beside the weights
    weights = os.path.join(run.directory, "final.weights.h5")
    os.utime(weights, (os.path.getmtime(weights) + 10,) * 2)  # the run was trained again
    with pytest.raises(AssertionError, match="recomputed"):
        responses.compute_responses(run)


def test_a_net_with_extra_training_flags_is_refused(trained):
    run, _ = trained
    odd = Run(Net("resnet8_B", "ResNet-8 B", "resnet8", ("--shortcut", "B")), 0, run.directory)
    with pytest.raises(ValueError, match="built by name only"):
        responses.trained_net(odd, 10)
