"""Files `torch.save` wrote, read without torch (keras_resnet_paper/weights/torch_format.py).

Real bytes: torch_files/ (written by torch 2.13 with make_torch_files.py: both formats, float16,
bfloat16, float64, int, bool, a 0-dim tensor, three views into one storage, a wrapped
DataParallel state dict, hostile files) and, where the shared folder exists, the published CIFAR
ResNet-20/56 of akamaster/pytorch_resnet_cifar10. Hostile and broken files are also assembled
here opcode by opcode in torch's zip layout: each is refused naming what is wrong, nothing runs.
"""

from __future__ import annotations

import hashlib
import io
import os
import pathlib
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest
from torch_writer import (
    AKAMASTER,
    akamaster_forward,
    opcode_global,
    opcode_int,
    opcode_tensor,
    opcode_text,
    pickled_state_dict,
    write_torch,
    write_zip,
)

from keras_resnet_paper import paper
from keras_resnet_paper.graph import option_a_placement
from keras_resnet_paper.weights.errors import WeightsFileError
from keras_resnet_paper.weights.torch_format import is_torch_file, read_torch_file

FILES = pathlib.Path(__file__).parent / "torch_files"
EXPECTED = dict(np.load(FILES / "expected.npz"))


@pytest.mark.parametrize(
    "name, kind",
    [("tiny_zip.pt", "zip"), ("tiny_legacy.pt", "legacy"), ("wrapped_zip.bin", "zip"), ("wrapped_legacy.th", "legacy")],
)
def test_files_torch_wrote_give_its_arrays(name, kind):
    read = read_torch_file(FILES / name)
    assert is_torch_file(FILES / name) and read.format == kind
    assert sorted(read.tensors) == sorted(EXPECTED)  # DataParallel's "module." prefix gone
    for key, expected in EXPECTED.items():
        got = read.tensors[key]
        assert got.dtype == expected.dtype and got.shape == expected.shape, key
        np.testing.assert_array_equal(got, expected, err_msg=key)  # bit for bit, bfloat16 widened exactly
    assert read.metadata == ({"epoch": 3, "best_prec1": 91.5} if name.startswith("wrapped") else {})


@pytest.mark.parametrize(
    "depth, sha256, best",
    [
        (20, "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8", 91.78),
        (56, "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367", 93.62),
    ],
)
def test_published_cifar_checkpoints(depth, sha256, best):
    """The authors' files as published (legacy format, DataParallel names, best_prec1 beside)."""
    path = AKAMASTER / f"resnet{depth}-{sha256[:8]}.th"
    if not path.exists():
        pytest.skip("the shared akamaster checkpoints are not here")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    read = read_torch_file(path)
    assert read.format == "legacy" and read.metadata["best_prec1"] == pytest.approx(best)
    n = (depth - 2) // 6
    assert read.tensors["conv1.weight"].shape == (16, 3, 3, 3) and read.tensors["linear.weight"].shape == (10, 64)
    assert read.tensors[f"layer3.{n - 1}.conv2.weight"].shape == (64, 64, 3, 3)
    trainable = sum(
        v.size
        for k, v in read.tensors.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert trainable == paper.CIFAR_PARAMS[depth]  # the paper's count, from the file alone
    assert all(np.isfinite(v).all() for v in read.tensors.values())


# --- hostile and broken files -----------------------------------------------------------------


def _refused(path, *fragments):
    with pytest.raises(WeightsFileError) as info:
        read_torch_file(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


FLOATS = np.arange(4, dtype="<f4").tobytes()


def test_an_assembled_file_reads_and_big_endian_storages_too(tmp_path):
    little = write_zip(tmp_path / "a.pt", pickled_state_dict(("w", opcode_tensor(4))), {"0": FLOATS})
    np.testing.assert_array_equal(read_torch_file(little).tensors["w"], np.arange(4, dtype="f4"))
    big = write_zip(
        tmp_path / "b.pt",
        pickled_state_dict(("w", opcode_tensor(4))),
        {"0": np.arange(4, dtype=">f4").tobytes()},
        "big",
    )
    got = read_torch_file(big).tensors["w"]
    np.testing.assert_array_equal(got, np.arange(4, dtype="f4"))
    assert got.dtype.isnative


@pytest.mark.parametrize(
    "module, name",
    [
        ("posix", "system"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
        ("torch", "load"),
        ("torch.storage", "_load_from_bytes"),
        ("torch._utils", "_rebuild_from_type_v2"),
        ("torch.serialization", "_get_restore_location"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("__builtin__", "eval"),
        ("copyreg", "_reconstructor"),
    ],
)
def test_every_other_global_is_refused_by_name_before_anything_runs(tmp_path, module, name):
    call = opcode_global(module, name) + b"(" + opcode_text("echo pwned > KRP_PWNED") + b"tR"
    path = write_zip(tmp_path / "evil.pt", pickled_state_dict(("w", opcode_tensor(4)), ("x", call)), {"0": FLOATS})
    _refused(path, f"global {module}.{name}", "nothing was run")


def test_protocol_4_stack_global_and_files_torch_wrote_are_refused_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    class Payload:
        def __reduce__(self):
            return (eval, ("open('KRP_PWNED', 'w')",))

    stream = pickle.dumps({"x": Payload()}, protocol=4)  # STACK_GLOBAL, MEMOIZE, FRAME
    _refused(write_zip(tmp_path / "p4.pt", stream, {}), "global builtins.eval")
    for name in ("hostile_zip.pth", "hostile_legacy.pth"):  # torch.save of an os.system payload
        _refused(FILES / name, "global posix.system")
    assert not (tmp_path / "KRP_PWNED").exists() and not os.path.exists("KRP_PWNED")


@pytest.mark.parametrize(
    "case, pickled, storages, fragments",
    [
        (
            "storage longer than its bytes",
            pickled_state_dict(("w", opcode_tensor(10**12, size=(4,)))),
            {"0": FLOATS},
            ["storage '0' holds 16 bytes, not the 1000000000000 x 4"],
        ),
        (
            "view past its storage",
            pickled_state_dict(("w", opcode_tensor(4, size=(100,)))),
            {"0": FLOATS},
            ["reaches past"],
        ),
        (
            "view offset past its storage",
            pickled_state_dict(("w", opcode_tensor(4, offset=3, size=(2,)))),
            {"0": FLOATS},
            ["reaches past"],
        ),
        (
            "strides that walk off it",
            pickled_state_dict(("w", opcode_tensor(4, size=(2, 2), stride=(3, 1)))),
            {"0": FLOATS},
            ["reaches past"],
        ),
        (
            "negative stride",
            pickled_state_dict(("w", opcode_tensor(4, size=(4,), stride=(-1,)))),
            {"0": FLOATS},
            ["negative"],
        ),
        (
            "size and stride lengths",
            pickled_state_dict(("w", opcode_tensor(4, size=(2, 2), stride=(1,)))),
            {"0": FLOATS},
            ["differ in length"],
        ),
        ("missing storage", pickled_state_dict(("w", opcode_tensor(4))), {}, ["storage '0' is missing"]),
        (
            "unknown storage type",
            pickled_state_dict(("w", opcode_tensor(4, storage="Evil"))),
            {"0": FLOATS},
            ["torch.Evil"],
        ),
        (
            "a whole pickled model",
            b"\x80\x02(" + opcode_text("module") + opcode_text("Net") + b"tQ.",
            {},
            ["kind 'module'"],
        ),
        (
            "OrderedDict state not a dict",
            b"\x80\x02" + opcode_global("collections", "OrderedDict") + b")R" + opcode_int(1) + b"b.",
            {},
            ["OrderedDict's state"],
        ),
        ("no tensors", pickled_state_dict(("epoch", opcode_int(3))), {}, ["no tensors"]),
        ("not a dict", b"\x80\x02" + opcode_int(3) + b".", {}, ["object of type 'int'"]),
    ],
)
def test_broken_or_hostile_sizes_are_errors_not_crashes(tmp_path, case, pickled, storages, fragments):
    _refused(write_zip(tmp_path / "f.pt", pickled, storages), *fragments)


def test_compressed_storages_truncated_files_tar_archives_and_others(tmp_path):
    pickled = pickled_state_dict(("w", opcode_tensor(4)))
    _refused(write_zip(tmp_path / "c.pt", pickled, {"0": FLOATS}, compress=zipfile.ZIP_DEFLATED), "compressed")
    for name in ("tiny_zip.pt", "tiny_legacy.pt"):
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes((FILES / name).read_bytes()[:-100])
        _refused(cut)
    with tarfile.open(tmp_path / "old.tar", "w") as tar:
        for entry in ("storages", "tensors", "pickle"):
            info = tarfile.TarInfo(entry)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"\x80\x02N."))
    _refused(tmp_path / "old.tar", "tar archive", "torch < 0.4")
    legacy = (FILES / "tiny_legacy.pt").read_bytes()
    (tmp_path / "big_count.pt").write_bytes(legacy.replace(struct.pack("<q", 12), struct.pack("<q", 10**15), 1))
    _refused(tmp_path / "big_count.pt", "not the 12 its tensors declare")
    (tmp_path / "noise.bin").write_bytes(np.random.default_rng(0).bytes(256))
    assert not is_torch_file(tmp_path / "noise.bin") and not is_torch_file(tmp_path / "absent.pt")
    _refused(tmp_path / "noise.bin")


# --- weights=PATH ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, legacy", [("resnet18.pth", False), ("resnet18-legacy.th", True)])
def test_weights_path_takes_a_torch_save_file(tmp_path, name, legacy):
    """`weights=<a torch.save file>` loads as the same state dict in .npz does (any suffix)."""
    import keras_resnet_paper as krp
    from keras_resnet_paper.weights import torch_checkpoint

    source = krp.ResNet18(input_shape=(32, 32, 3), classes=7, classifier_activation=None)
    rng = np.random.default_rng(0)
    source.set_weights([rng.normal(size=w.shape).astype("f4") for w in source.get_weights()])
    state = torch_checkpoint.to_torchvision_state_dict(source)
    path = write_torch(tmp_path / name, state, legacy)
    assert is_torch_file(path)
    loaded = krp.ResNet18(weights=str(path), input_shape=(32, 32, 3), classes=7, classifier_activation=None)
    for a, b in zip(loaded.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.preprocessing.mean == pytest.approx((0.485, 0.456, 0.406))  # torchvision's convention


@pytest.mark.parametrize("depth, sha", [(20, "12fca82f"), (56, "4bfd9763")])
def test_published_cifar_nets_give_pytorchs_logits(depth, sha):
    """`krp.ResNet20/56(weights=<the published .th>)` builds option A with zero channels on both
    sides by itself and gives the logits of an independent NumPy forward of the PyTorch net."""
    import keras_resnet_paper as krp
    from keras_resnet_paper.weights import WeightsMismatchError

    path = AKAMASTER / f"resnet{depth}-{sha}.th"
    if not path.exists():
        pytest.skip("the shared akamaster checkpoints are not here")
    model = krp.get_model(f"resnet{depth}", weights=str(path), classifier_activation=None)
    assert {option_a_placement(layer) for layer in krp.iter_layers(model)} - {None} == {"both"}
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    expected = akamaster_forward(
        read_torch_file(path).tensors, x.transpose(0, 3, 1, 2).astype(np.float64), (depth - 2) // 6
    )
    got = np.asarray(model(x, training=False))
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max(), np.abs(got - expected).max()
    with pytest.raises(ValueError, match="zero_padding=.after."):
        krp.get_model(f"resnet{depth}", weights=str(path), zero_padding="after")
    with pytest.raises(WeightsMismatchError, match="zero_padding='both'"):  # a model built the other way
        krp.load_weights(krp.cifar_resnet(depth), str(path))
