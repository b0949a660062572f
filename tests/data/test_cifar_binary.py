"""CIFAR-10/100 read from the original binary archives (Sec. 4.2 data without tfds)."""

import gzip
import json
import os

import numpy as np
import pytest
from cifar_binary_files import (
    cifar10_arrays,
    cifar10_files,
    cifar100_arrays,
    write_cifar10_binary,
    write_cifar100_binary,
    write_tree,
)

from keras_resnet_paper import data
from keras_resnet_paper.errors import DatasetUnavailableError


def _assert_same(arrays, expected):
    assert [a.dtype for a in arrays] == [np.uint8, np.int32, np.uint8, np.int32]
    for got, want in zip(arrays, expected):
        np.testing.assert_array_equal(got, want)


def _one_line_error(kind, fn, *args, **kwargs):
    with pytest.raises(kind) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_cifar10_archive_pixels_channels_and_labels(tmp_path):
    path = write_cifar10_binary(tmp_path, n_per_batch=4)
    arrays = data.load_cifar_binary(path)
    x_train, y_train, x_test, y_test = arrays
    assert x_train.shape == (20, 32, 32, 3) and x_test.shape == (4, 32, 32, 3)
    assert x_train.flags["C_CONTIGUOUS"] and x_train.flags["WRITEABLE"]
    # the first file's first bytes are the red plane: a red image comes out red in NHWC
    assert (x_train[0] == (255, 0, 0)).all() and (x_train[1] == (0, 255, 0)).all() and (x_train[2] == (0, 0, 255)).all()
    rows, cols = np.mgrid[0:32, 0:32]
    np.testing.assert_array_equal(x_train[3][..., 0], 8 * rows)  # red = 8 * row: rows are not transposed
    np.testing.assert_array_equal(x_train[3][..., 1], 8 * cols)
    assert (x_train[3][..., 2] == 3).all() and (x_train[7][..., 2] == 7).all()  # batches in order
    np.testing.assert_array_equal(y_train[:6], [1, 4, 7, 0, 3, 6])
    _assert_same(arrays, cifar10_arrays(n_per_batch=4))


def test_archive_folder_and_parent_folder_give_the_same_arrays(tmp_path):
    archive = write_cifar10_binary(tmp_path / "a", archive=True)
    folder = write_cifar10_binary(tmp_path / "b", archive=False)
    assert os.path.basename(folder) == "cifar-10-batches-bin"
    expected = cifar10_arrays()
    for path in (archive, folder, tmp_path / "a", tmp_path / "b", str(tmp_path / "b") + "/"):
        _assert_same(data.load_cifar_binary(path), expected)
        assert data.find_cifar_binary(path).format.dataset == "cifar10"
    # a download folder holding both the archive and the extracted folder reads the folder
    write_cifar10_binary(tmp_path / "b", archive=True)
    assert not data.find_cifar_binary(tmp_path / "b").is_archive
    # an archive under another name is recognised by its members
    renamed = tmp_path / "a" / "download.tgz"
    os.rename(archive, renamed)
    assert data.find_cifar_binary(renamed).format.dataset == "cifar10"
    _assert_same(data.load_cifar_arrays(str(renamed)), expected)


def test_cifar100_fine_and_coarse_labels(tmp_path):
    archive = write_cifar100_binary(tmp_path, n_train=7, n_test=3)
    fine = data.load_cifar_binary(archive)
    _assert_same(fine, cifar100_arrays(7, 3, "fine"))
    assert fine[1][0] == 99  # fine labels span 0..99
    coarse = data.load_cifar_binary(tmp_path, "cifar100", labels="coarse")
    _assert_same(coarse, cifar100_arrays(7, 3, "coarse"))
    np.testing.assert_array_equal(coarse[1], fine[1] // 5)
    folder = write_cifar100_binary(tmp_path / "x", n_train=7, n_test=3, archive=False)
    _assert_same(data.load_cifar_binary(folder, "cifar100"), fine)
    cifar10 = write_cifar10_binary(tmp_path)
    assert "for cifar10" in _one_line_error(ValueError, data.load_cifar_binary, cifar10, labels="coarse")
    assert "labels='super'" in _one_line_error(ValueError, data.load_cifar_binary, archive, labels="super")
    assert "dataset='cifar1000'" in _one_line_error(ValueError, data.load_cifar_binary, archive, "cifar1000")


def test_truncated_and_corrupt_files_name_the_file(tmp_path):
    folder = write_cifar10_binary(tmp_path / "f", archive=False)
    batch = os.path.join(folder, "data_batch_2.bin")
    with open(batch, "r+b") as f:
        f.truncate(3 * 3073 - 100)
    message = _one_line_error(ValueError, data.load_cifar_binary, folder)
    assert batch in message and "9119 bytes" in message and "3073-byte" in message
    files = cifar10_files()
    files["cifar-10-batches-bin/test_batch.bin"] = files["cifar-10-batches-bin/test_batch.bin"][:-1]
    archive = write_tree(tmp_path / "t", files, "cifar-10-binary.tar.gz")
    message = _one_line_error(ValueError, data.load_cifar_binary, archive)
    assert f"{archive}: cifar-10-batches-bin/test_batch.bin" in message and "truncated" in message
    files = cifar10_files()
    record = bytearray(files["cifar-10-batches-bin/data_batch_1.bin"])
    record[2 * 3073] = 10  # label byte of the third record
    files["cifar-10-batches-bin/data_batch_1.bin"] = bytes(record)
    message = _one_line_error(ValueError, data.load_cifar_binary, write_tree(tmp_path / "l", files, None))
    assert "data_batch_1.bin: record 2 has fine label 10, outside 0..9" in message
    empty = write_cifar100_binary(tmp_path / "e", archive=False)
    open(os.path.join(empty, "test.bin"), "wb").close()
    assert "test.bin: 0 bytes" in _one_line_error(ValueError, data.load_cifar_binary, empty)


def test_missing_batch_garbage_and_absent_data(tmp_path):
    folder = write_cifar10_binary(tmp_path / "f", archive=False)
    os.remove(os.path.join(folder, "data_batch_3.bin"))
    message = _one_line_error(DatasetUnavailableError, data.load_cifar_binary, tmp_path / "f")
    assert os.path.join(folder, "data_batch_3.bin") in message and "missing" in message
    files = cifar10_files()
    del files["cifar-10-batches-bin/data_batch_5.bin"]
    archive = write_tree(tmp_path / "m", files, "cifar-10-binary.tar.gz")
    message = _one_line_error(DatasetUnavailableError, data.load_cifar_binary, archive)
    assert archive in message and "cifar-10-batches-bin/data_batch_5.bin missing" in message
    garbage = tmp_path / "g" / "cifar-10-binary.tar.gz"
    garbage.parent.mkdir()
    garbage.write_bytes(b"<html>404 Not Found</html>" * 50)
    message = _one_line_error(ValueError, data.load_cifar_binary, garbage)
    assert str(garbage) in message and "not a readable tar archive" in message
    whole = open(write_cifar10_binary(tmp_path / "c"), "rb").read()
    cut = tmp_path / "c" / "cifar-10-binary.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])  # an interrupted download
    assert "not a readable tar archive" in _one_line_error(ValueError, data.load_cifar_binary, cut)
    not_tar = tmp_path / "n" / "cifar-100-binary.tar.gz"
    not_tar.parent.mkdir()
    not_tar.write_bytes(gzip.compress(b"x" * 5000))
    assert "not a readable tar archive" in _one_line_error(ValueError, data.load_cifar_binary, not_tar)
    message = _one_line_error(DatasetUnavailableError, data.load_cifar_binary, tmp_path / "nowhere")
    assert "does not exist" in message and "cifar-10-binary.tar.gz" in message and "cifar-100-binary/" in message
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    message = _one_line_error(DatasetUnavailableError, data.load_cifar_binary, tmp_path / "photos")
    assert "holds no CIFAR binary data" in message
    assert "is not a CIFAR binary archive" in _one_line_error(
        DatasetUnavailableError, data.load_cifar_binary, tmp_path / "photos" / "cat.jpg"
    )
    assert data.find_cifar_binary(tmp_path / "photos") is None and data.find_cifar_binary(tmp_path / "nowhere") is None


def test_cifar_datasets_from_the_archive(tmp_path):
    archive = write_cifar10_binary(tmp_path, n_per_batch=1)  # labels 1, 4, 7, 0, 3: the format says 10 classes
    d = data.cifar_datasets(archive, 2, seed=0, augment="none")
    assert d.num_classes == 10 and d.train_size == 5
    x_train, _, x_test, y_test = cifar10_arrays(n_per_batch=1)
    np.testing.assert_allclose(d.mean, x_train.mean(0), atol=1e-4)
    images, labels = (np.concatenate(t) for t in zip(*[(x.numpy(), y.numpy()) for x, y in d.test]))
    np.testing.assert_allclose(images, x_test - d.mean, atol=1e-4)
    np.testing.assert_array_equal(labels, y_test)
    by_name = data.cifar_datasets("cifar10", 2, seed=0, augment="none", data_dir=str(tmp_path))
    assert by_name.num_classes == 10 and by_name.train_size == 5
    d100 = data.cifar_datasets("cifar100", 2, data_dir=write_cifar100_binary(tmp_path, n_train=4, n_test=2))
    assert d100.num_classes == 100 and d100.train_size == 4


def test_source_routing_and_errors(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    write_cifar100_binary(tmp_path / "dl", n_train=4, n_test=2)
    write_cifar10_binary(tmp_path / "dl", n_per_batch=2)
    with tfds.testing.mock_data(num_examples=20):  # tfds answers with 20 examples
        _assert_same(data.load_cifar_arrays("cifar10", str(tmp_path / "dl")), cifar10_arrays(2))
        _assert_same(data.load_cifar_arrays("cifar100", str(tmp_path / "dl")), cifar100_arrays(4, 2))
        (tmp_path / "tfds").mkdir()  # an empty tfds data dir: the tfds path stays
        assert len(data.load_cifar_arrays("cifar10", str(tmp_path / "tfds"))[0]) == 20
        (tmp_path / "tfds" / "cifar10").mkdir()  # a tfds cache beside another set's archive
        write_cifar100_binary(tmp_path / "tfds")
        assert len(data.load_cifar_arrays("cifar10", str(tmp_path / "tfds"))[0]) == 20
        assert len(data.load_cifar_arrays("cifar10")[0]) == 20
    other = str(tmp_path / "dl" / "cifar-100-binary.tar.gz")
    message = _one_line_error(ValueError, data.load_cifar_arrays, "cifar10", other)
    assert "holds cifar100 binary data" in message and "source='cifar100'" in message
    absent = str(tmp_path / "gone" / "cifar-10-binary.tar.gz")
    assert "does not exist" in _one_line_error(DatasetUnavailableError, data.load_cifar_arrays, "cifar10", absent)
    assert "does not exist" in _one_line_error(DatasetUnavailableError, data.load_cifar_arrays, absent)
    assert "binary archive" in _one_line_error(ValueError, data.cifar_datasets, 42, 8)


def test_is_cifar_binary_path_tells_cifar_from_other_sources(tmp_path):
    archive = write_cifar10_binary(tmp_path / "dl")
    for path in (
        archive,
        tmp_path / "dl",
        write_cifar100_binary(tmp_path / "x", archive=False),
        tmp_path / "absent" / "cifar-100-binary.tar.gz",
        tmp_path / "absent" / "cifar-10-batches-bin",
    ):
        assert data.is_cifar_binary_path(path), path
    other_tar = write_tree(tmp_path / "imagenet", {"n01440764/a.JPEG": b"\xff\xd8"}, "train.tar.gz")
    for path in (other_tar, tmp_path / "imagenet", str(tmp_path / "records" / "train-*"), "imagenette/320px"):
        assert not data.is_cifar_binary_path(path), path


#: The training command's flags common to these runs (run in-process: `train_command`).
TRAIN = "--recipe cifar10_paper --model resnet8 --notensorboard --verbose 0".split()


def test_cli_trains_from_the_cifar10_archive(tmp_path, train_command):
    archive = write_cifar10_binary(tmp_path / "downloads", n_per_batch=4)
    run = train_command(
        *TRAIN,
        "--data_dir",
        archive,
        "--iterations",
        "4",
        "--eval_every",
        "2",
        "--batch_size",
        "16",
        "--model_dir",
        str(tmp_path / "run"),
    )
    assert run.returncode == 0, run.describe()
    report = json.load(open(tmp_path / "run" / "report.json"))
    assert report["dataset"] == "cifar10"


@pytest.mark.slow  # the fast suite trains through the command line once, above
def test_cli_trains_cifar100_from_a_download_folder(tmp_path, train_command):
    write_cifar100_binary(tmp_path / "downloads", n_train=8, n_test=4)
    write_cifar10_binary(tmp_path / "downloads", n_per_batch=2)
    run = train_command(
        *TRAIN,
        "--dataset",
        "cifar100",
        "--data_dir",
        str(tmp_path / "downloads"),
        "--iterations",
        "2",
        "--eval_every",
        "2",
        "--batch_size",
        "8",
        "--model_dir",
        str(tmp_path / "run"),
    )
    assert run.returncode == 0, run.describe()
    assert json.load(open(tmp_path / "run" / "report.json"))["dataset"] == "cifar100"
    h5py = pytest.importorskip("h5py")
    shapes = []
    with h5py.File(tmp_path / "run" / "final.weights.h5") as weights:
        weights.visititems(lambda name, item: shapes.append(item.shape) if isinstance(item, h5py.Dataset) else None)
    assert (64, 100) in shapes  # the classifier has CIFAR-100's 100 fine classes, not the 8 + 4 seen
