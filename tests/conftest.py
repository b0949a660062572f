"""Shared test fixtures: quiet TensorFlow, restore Keras global settings after each test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import pytest


@pytest.fixture(autouse=True)
def _restore_keras_globals():
    """Tests may change the data format or dtype policy; put them back afterwards."""
    data_format = keras.config.image_data_format()
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_image_data_format(data_format)
    keras.config.set_dtype_policy(policy)


@pytest.fixture
def train_command(capfd, monkeypatch, tmp_path):
    """train_command("--recipe", "cifar10_paper", "--print_recipe") -> Outcome: the training
    command line run in this process (`keras_resnet_paper.cli.call`: its own flag parsing, `main`
    and exit status; output captured at the file descriptors), in `tmp_path`. For command lines
    whose subject is not the process: a documented command runs as a subprocess in journeys/."""
    from absl import flags
    from command_batch import Outcome

    from keras_resnet_paper import cli, train

    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Outcome:
        argv = [train.__file__, *map(str, args)]
        capfd.readouterr()
        monkeypatch.setattr("sys.argv", argv)
        try:
            status = cli.call(train.main, argv, doc=train.__doc__, modules=(train.__name__,))
        finally:
            flags.FLAGS.unparse_flags()
        out, err = capfd.readouterr()
        return Outcome(argv, status, out, err, tmp_path)

    return run


@pytest.fixture(scope="session")
def offline_run(tmp_path_factory):
    """One short offline training run, made once per session for every test that only reads what a
    run leaves (its TrainResult, run.json, history, reports, weights): ResNet-8 on the digits, 100
    iterations at batch 64, an evaluation every 50. Copy its folder before changing anything in it.

    Returns (result, folder)."""
    from keras_resnet_paper.training import train

    folder = tmp_path_factory.mktemp("offline_run") / "resnet8"
    result = train(
        "cifar10_offline",
        "resnet8",
        model_dir=str(folder),
        batch_size=64,
        iterations=100,
        eval_every=50,
        verbose=0,
        seed=0,
    )
    return result, folder
