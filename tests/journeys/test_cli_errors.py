"""Mistakes on the command line: one line that names the bad value, exit status 2, nothing left behind.
`--help` lists every flag and exits 0, on every training command."""

from __future__ import annotations

import subprocess

import pytest
from journey import assert_one_line_error

TRAIN = "python -m keras_resnet_paper.train --recipe cifar10_paper --offline --notensorboard"


@pytest.mark.parametrize(
    "command",
    [
        "python -m keras_resnet_paper.train",
        "keras-resnet-paper-train",
        "python examples/train_cifar10.py",
        "python examples/train_imagenet.py",
    ],
)
def test_help_lists_the_flags(run_command, command):
    out = run_command(f"{command} --help", timeout=300)
    assert out.returncode == 0, out.describe()
    for flag in (
        "--recipe",
        "--model",
        "--offline",
        "--data_dir",
        "--batch_size",
        "--model_dir",
        "--strategy",
        "--override",
        "--print_recipe",
    ):
        assert f"  {flag}" in out.stdout or f"  --[no]{flag[2:]}" in out.stdout, (flag, out.stdout)
    assert "Try --helpfull" not in out.stdout
    assert out.stdout.startswith("usage: ") and out.stderr == "", out.describe()  # no framework line before it


BAD_ARGUMENTS = [
    ("--model resnet21", ["--model='resnet21'", "resnet20", "6n+2"]),
    ("--batch_size 0", ["--batch_size=0", "positive"]),
    ("--batch_size -5", ["--batch_size=-5", "positive"]),
    ("--iterations 0", ["--iterations=0"]),
    ("--override base_lr=abc", ["base_lr='abc'", "not a finite number"]),
    ("--override base_lr=inf", ["base_lr='inf'", "not a finite number"]),
    ("--override iterations=1e400", ["iterations='1e400'", "not an integer of at most 2147483647"]),
    ("--override explode_factor=0.5", ["explode_factor=0.5", "> 1"]),
    ("--lr inf", ["lr=inf", "finite, positive learning rate"]),
    ("--lr nan", ["lr=nan", "finite, positive learning rate"]),
    ("--iterations 99999999999", ["iterations=99999999999", "from 1 to 2147483647"]),
    ("--override no_such_field=1", ["no_such_field"]),
    ("--recipe cifar11", ["'cifar11'", "cifar10_paper"]),
    ("--no_such_flag", ["no_such_flag"]),
    ("--verbose 7", ["--verbose"]),
    ("--model plain20 --shortcut B", ["--shortcut='B'", "plain net has no shortcuts"]),
    ("--shortcut D", ["--shortcut=D", "<A|B|C>"]),
]
FOLDER_RUN = (
    "python -m keras_resnet_paper.train --recipe imagenet_paper --model resnet18 --dataset images "
    "--batch_size 2 --iterations 2 --eval_every 2 --notensorboard"
)


@pytest.fixture(scope="module")
def mistakes(run_commands):
    """Every mistake of this module as one batch of the training command (tests/command_batch.py):
    {name: Outcome}. One real subprocess of a mistake is `test_paper_run_without_network`."""
    train, folder_run = TRAIN.split()[3:], FOLDER_RUN.split()[3:]
    runs = {args: train + args.split() for args, _ in BAD_ARGUMENTS}
    runs["model_dir file"] = train + ["--model", "resnet8", "--model_dir", "taken"]
    runs["missing archive"] = [
        "--recipe",
        "cifar10_paper",
        "--model",
        "resnet8",
        "--data_dir",
        "nowhere/cifar-10-binary.tar.gz",
    ]
    runs["corrupt image"] = folder_run
    runs["missing data_dir"] = ["--recipe", "cifar10_paper", "--model", "resnet8", "--data_dir", "no/such/dir"]
    setups = {
        "model_dir file": lambda cwd: (cwd / "taken").write_text("not a folder"),
        "corrupt image": lambda cwd: _folder_with_a_corrupt_image(cwd / "images"),
    }
    outcomes = run_commands(
        "python -m keras_resnet_paper.train", list(runs.values()), setup=[setups.get(name) for name in runs]
    )
    return dict(zip(runs, outcomes))


@pytest.mark.parametrize("args, fragments", BAD_ARGUMENTS)
def test_bad_arguments_are_one_line(mistakes, args, fragments):
    out = mistakes[args]
    assert_one_line_error(out, *fragments)
    assert not (out.cwd / "runs").exists(), "a refused run leaves no folder behind"


def test_model_dir_that_is_a_file(mistakes):
    assert_one_line_error(mistakes["model_dir file"], "--model_dir='taken'", "is a file")


def test_a_data_dir_that_does_not_exist_is_called_missing(mistakes):
    out = mistakes["missing data_dir"]
    assert_one_line_error(out, "'cifar10' is not prepared in data_dir no/such/dir (no such folder)", "--offline")
    assert "dataset_info.json" not in out.stdout + out.stderr and not (out.cwd / "runs").exists()


def test_missing_cifar_archive(mistakes):
    out = mistakes["missing archive"]
    assert_one_line_error(out, "cifar-10-binary.tar.gz")
    assert not (out.cwd / "runs").exists()


def _folder_with_a_corrupt_image(root):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for label in ("cat", "dog"):
            (root / split / label).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
                    root / split / label / f"{i}.jpg"
                )
    (root / "train" / "cat" / "broken.jpg").write_bytes(b"not a JPEG " * 20)
    return root


def test_corrupt_image_is_one_line_naming_it(mistakes):
    """An unreadable file met inside tf.data: one line naming it and --skip_corrupt, not a traceback."""
    out = mistakes["corrupt image"]
    assert_one_line_error(out, "Corrupt or unreadable image", "broken.jpg", "--skip_corrupt")
    assert not (out.cwd / "runs").exists()


@pytest.mark.slow
def test_skip_corrupt_trains_and_says_what_it_skipped(run_command):
    _folder_with_a_corrupt_image(run_command.work / "images")
    out = run_command(f"{FOLDER_RUN} --skip_corrupt", timeout=600)
    assert out.returncode == 0, out.describe()
    assert "skipped 1 unreadable file(s) (--skip_corrupt): broken.jpg" in out.stdout, out.describe()
    assert (
        '"skip_corrupt": true' in (run_command.work / "runs" / "imagenet_paper" / "resnet18" / "run.json").read_text()
    )


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (where this machine lets the tests mount one), for a whole run on a full disk."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_is_one_line_and_exit_4(run_command, small_disk):
    """The whole command on a disk that fills up during the run: no traceback, no crash of HDF5."""
    out = run_command(
        f"{TRAIN} --model resnet8 --iterations 40 --model_dir {small_disk / 'run'} --override checkpoint_every=5"
    )
    assert out.returncode == 4, out.describe()
    assert "Traceback" not in out.stdout + out.stderr and "Segmentation" not in out.stderr, out.describe()
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("Training stopped: ") and ("room" in last or "No space" in last), out.describe()
