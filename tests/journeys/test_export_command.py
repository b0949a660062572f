"""`python -m keras_resnet_paper.export` as the README gives it, after the main command (its run
folder: the session's short offline run, copied to the README's path): the int8 TFLite and the ONNX
file each take the raw uint8 test digits and score within 2 points of the float model; one line
printed, a JSON report beside the file, nothing of the framework's on the terminal. A release
without a network, and each mistake, is one line and exit 2."""

from __future__ import annotations

import json
import shutil

import pytest
from journey import assert_one_line_error
from test_output import FRAMEWORK_LINE

RUN = "runs/cifar10_offline/resnet20"
INT8 = f"python -m keras_resnet_paper.export --model_dir {RUN} --format tflite --quantize int8"
ONNX = f"python -m keras_resnet_paper.export --model_dir {RUN} --format onnx"
RELEASE = "python -m keras_resnet_paper.export --model resnet50 --weights imagenet --format tflite"


@pytest.fixture
def run_folder(offline_run, run_command):
    _, folder = offline_run
    shutil.copytree(folder, run_command.work / RUN)
    return run_command.work / RUN


@pytest.mark.parametrize("command, file", [(INT8, "resnet8_final_int8.tflite"), (ONNX, "resnet8_final.onnx")])
def test_a_run_exported_keeps_its_test_error(run_folder, run_command, command, file):
    out = run_command(command, timeout=600, env={"TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.describe()
    path = run_folder / "export" / file
    report = json.loads((run_folder / "export" / f"{file}.json").read_text())
    assert path.stat().st_size == report["size_bytes"] and report["images"] == 360
    assert report["keras_float_top1_error"] < 0.5, report  # a net that learned: the comparison means something
    assert abs(report["file_top1_error"] - report["keras_float_top1_error"]) <= 0.02, report
    assert report["keras_folded_top1_error"] == pytest.approx(report["keras_float_top1_error"], abs=0.003)
    assert report["threads"] == 1 and set(report["latency_ms"]) == {"keras_float", "keras_folded", "file"}
    assert out.stdout.splitlines() == [
        f"{RUN}/export/{file}: test top-1 error {100 * report['file_top1_error']:.2f}% (float Keras "
        f"{100 * report['keras_float_top1_error']:.2f}%), {report['size_bytes']:,} bytes, "
        f"{report['latency_ms']['file']:.2f} ms per image on 1 CPU thread (Keras "
        f"{report['latency_ms']['keras_float']:.2f} ms, folded {report['latency_ms']['keras_folded']:.2f} ms)"
    ]
    assert out.stderr == "" and not FRAMEWORK_LINE.search(out.stdout), out.describe()


def test_a_release_without_a_network_and_each_mistake_is_one_line(run_folder, run_commands):
    """The README's release command offline, and the mistakes, as command lines of one process."""
    folder = str(run_folder)
    mistakes = {
        RELEASE: ["resnet50_weights_tf_dim_ordering_tf_kernels.h5", "weights=PATH"],
        "--model_dir runs/none": ["model_dir='runs/none' is not a folder (no such folder)"],
        "": ["give --model_dir DIR (a training run) or --model NAME --weights TAG (a release)"],
        "--format pb": ["flag --format=pb: value should be one of <saved_model|tflite|onnx>"],
        f"--model_dir {folder} --format onnx --quantize int8": ["quantize='int8' applies to format='tflite'"],
        f"--model_dir {folder} --weights imagenet": ["--weights applies to --model, not to --model_dir"],
        f"--model_dir {run_folder.parent}": ["holds no run (no run.json)"],
        "--model resnet50": ["--model needs --weights"],
    }
    runs = [(c.split()[3:] if c.startswith("python") else c.split()) for c in mistakes]
    unwritable = ["--model_dir", folder, "--format", "onnx", "--out_dir", f"{folder}/final.weights.h5/export"]
    *outcomes, full, shown = run_commands("python -m keras_resnet_paper.export", [*runs, unwritable, ["--help"]])
    for outcome, fragments in zip(outcomes, mistakes.values(), strict=True):
        assert_one_line_error(outcome, *fragments)
    assert_one_line_error(full, "could not write the export", "Not a directory", status=4)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: python -m keras_resnet_paper.export [flags]")
    for flag in ("--model_dir", "--checkpoint", "--model", "--weights", "--format", "--quantize", "--images"):
        assert f"\n  {flag}=" in shown.stdout, flag
