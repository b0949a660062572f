"""Both example scripts as command lines: `--help` lists every flag and exits 0; a mistake (a bad
flag value, a flag of the other mode, a data set of the wrong kind) is one `error:` line, exit 2."""

from __future__ import annotations

import pytest

from keras_resnet_paper import cli

FLAGS = {
    "detection": (
        "--dataset",
        "--data_dir",
        "--[no]synthetic",
        "--model",
        "--weights",
        "--image_size",
        "--batch_size",
        "--epochs",
        "--steps_per_epoch",
        "--learning_rate",
        "--freeze_up_to",
        "--max_boxes",
        "--seed",
    ),
    "transfer_learning": (
        "--dataset",
        "--data_dir",
        "--[no]offline",
        "--model",
        "--weights",
        "--image_size",
        "--batch_size",
        "--pretrain_epochs",
        "--head_epochs",
        "--finetune_epochs",
        "--unfreeze_from",
        "--head_lr",
        "--finetune_lr",
        "--dropout",
        "--save_pretrained",
        "--seed",
    ),
}


@pytest.mark.parametrize("script", sorted(FLAGS))
def test_help_lists_the_flags(run_example, script):
    run = run_example(script, "--help", TF_CPP_MIN_LOG_LEVEL=None)  # as a user starts it: no framework line
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert run.stdout.startswith(f"usage: {script}.py [flags]")
    for flag in FLAGS[script]:
        assert f"\n  {flag}" in run.stdout, flag
    offline = "--synthetic" if script == "detection" else "--offline"
    assert f"resnet50, or resnet18 with {offline}" in run.line("      <resnet18|")  # the --model help


MISTAKES = [
    ("detection", ["--model", "resnet21"], "flag --model=resnet21: value should be one of <resnet18|"),
    ("detection", ["--image_size", "100"], "flag --image_size=100: must be a positive multiple of 128"),
    ("detection", ["--synthetic", "--epochs", "0"], "flag --epochs=0: 0 is not a positive integer"),
    (
        "detection",
        ["--weights", "/no/such/file"],
        'flag --weights=/no/such/file: must be "imagenet", "none" or an existing file',
    ),
    ("detection", ["--synthetic", "--weights", "cifar10"], "--weights=cifar10 does not exist for --model=resnet18"),
    ("transfer_learning", ["--model", "resnet21"], "flag --model=resnet21: value should be one of <resnet18|"),
    ("transfer_learning", ["--offline", "--head_epochs", "0"], "flag --head_epochs=0: 0 is not a positive integer"),
    (
        "transfer_learning",
        ["--weights", "/no/such/file"],
        'flag --weights=/no/such/file: must be "imagenet", "none" or an existing file',
    ),
    ("transfer_learning", ["--offline", "--dataset", "mnist"], "--dataset is not used with --offline"),
]


#: Command lines that fail for want of a network, run in the same batches as the mistakes.
IMAGENET_WEIGHTS = ("detection", ("--synthetic", "--model", "resnet50", "--weights", "imagenet", "--image_size", "128"))


@pytest.fixture(scope="module")
def mistakes(run_example_batch):
    """{(script, args): Run}: each script's mistakes run as one batch (tests/command_batch.py)."""
    outcomes = {}
    for script in FLAGS:
        cases = [tuple(args) for name, args, _ in MISTAKES if name == script]
        cases += [args for name, args in (IMAGENET_WEIGHTS,) if name == script]
        outcomes.update({(script, args): run for args, run in zip(cases, run_example_batch(script, cases))})
    return outcomes


@pytest.mark.parametrize("script, args, message", MISTAKES)
def test_a_mistake_is_one_line_and_exit_2(mistakes, script, args, message):
    mistakes[script, tuple(args)].assert_one_line_error(f"{script}.py", message)


@pytest.mark.parametrize(
    "script, prepare, wrong_kind, message",
    [
        ("detection", "prepared_detection_set", "mnist", "--dataset=mnist is not a detection set"),
        (
            "transfer_learning",
            "prepared_classification_set",
            "voc/2007",
            "--dataset=voc/2007 is not an image classification set",
        ),
    ],
)
def test_data_set_must_be_known_and_of_the_right_kind(load_example, script, prepare, wrong_kind, message):
    tfds = pytest.importorskip("tensorflow_datasets")
    prepared = getattr(load_example(script), prepare)
    with pytest.raises(cli.UsageError, match="--dataset=no_such_set: 'no_such_set' is not a tensorflow-datasets"):
        prepared("no_such_set")
    with tfds.testing.mock_data(num_examples=1, policy=tfds.testing.MockPolicy.USE_CODE):
        with pytest.raises(cli.UsageError, match=message):
            prepared(wrong_kind)


def test_imagenet_weights_without_network_say_what_to_do(mistakes):
    """`detection.py --synthetic --weights imagenet` with no network: the weights cannot be fetched."""
    run = mistakes[IMAGENET_WEIGHTS]
    run.assert_one_line_error(
        "detection.py",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "--weights PATH, --weights none, or --synthetic",
    )
    assert run.line("backbone: resnet50").endswith(
        "weights: imagenet (keras.applications ResNet, converted from the authors' released Caffe models; "
        "fetched once into ~/.keras/models)"
    )
