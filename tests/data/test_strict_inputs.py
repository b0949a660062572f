"""Issue 14, data side: no file left out without a word, no hopeless input searched forever.

Every file here is written by the test in its real format (JPEG, WebP with and without alpha,
animated WebP, a JPEG with an EXIF orientation tag, dangling symbolic links, TFRecord shards).
"""

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from image_files import encode, make_folder, photo, write
from PIL import Image

from keras_resnet_paper import data
from keras_resnet_paper.data.decode import guarded_map
from keras_resnet_paper.data.sources import DataWarning, FolderSource

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = (240, 250)


def _all_corrupt(root: str) -> str:
    for c in range(2):
        for n in range(3):
            write(os.path.join(root, f"class_{c}", f"{n}.jpg"), encode(photo(n, *SIZE), "corrupt"))
    return root


def test_every_file_corrupt_with_explicit_mean_is_an_error_not_a_hang(tmp_path):
    root = _all_corrupt(str(tmp_path / "hopeless"))
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {HERE!r})
        import tensorflow as tf
        from keras_resnet_paper import data
        strict = data.imagenet_datasets({root!r}, 2, seed=0, mean=[0, 0, 0])
        try:
            next(iter(strict.train))
        except tf.errors.InvalidArgumentError as err:
            print("STRICT:", "Corrupt or unreadable image" in str(err))
        d = data.imagenet_datasets({root!r}, 2, seed=0, mean=[0, 0, 0], skip_corrupt=True)
        try:
            next(iter(d.train))
        except tf.errors.InvalidArgumentError as err:
            print("ERROR:", "No readable image" in str(err), "class_1/2.jpg" in str(err), d.skipped)
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env)
    assert "STRICT: True" in done.stdout and "ERROR: True True" in done.stdout, done.stdout + done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) >= 6  # every file met was counted (prefetching may read on)


def test_hopeless_validation_and_mean_image_are_errors(tmp_path):
    root = str(tmp_path / "split")
    make_folder(os.path.join(root, "train"), classes=2, per_class=2, size=SIZE)
    _all_corrupt(os.path.join(root, "val"))
    d = data.imagenet_datasets(root, 2, seed=0, mean=[0, 0, 0], skip_corrupt=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="No readable image in a whole pass"):
        list(d.validation)
    with pytest.raises(tf.errors.InvalidArgumentError, match="No readable image"):
        data.mean_image(_all_corrupt(str(tmp_path / "bad")), skip_corrupt=True)


def test_guarded_map_refuses_an_infinite_stream():
    stream = tf.data.Dataset.from_tensor_slices((["a"], [b"x"])).repeat()
    with pytest.raises(ValueError, match="finite"):
        guarded_map(stream, lambda n, e: (e,), skip_corrupt=True)


@pytest.mark.parametrize("kind", ["webp", "webp_alpha"])
def test_still_webp_decodes_like_pil(kind):
    encoded = encode(photo(3, 40, 56), kind)
    image = data.decode_rgb(tf.constant(encoded)).numpy()
    reference = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))
    assert image.shape == (40, 56, 3)
    np.testing.assert_array_equal(image, reference)  # same libwebp: exact; alpha dropped as PIL does
    window = data.decode_window(tf.constant(encoded), lambda shape: tf.constant([4, 6, 20, 30])).numpy()
    np.testing.assert_array_equal(window, image[4:24, 6:36])


def test_animated_webp_is_named_or_skipped_and_counted(tmp_path):
    root = str(tmp_path / "anim")
    make_folder(root, classes=2, per_class=2, size=SIZE)
    animated = write(os.path.join(root, "class_1", "moving.webp"), encode(photo(7, *SIZE), "webp_animated"))
    still = write(os.path.join(root, "class_1", "still.webp"), encode(photo(8, *SIZE), "webp_alpha"))
    strict = data.imagenet_datasets(root, 5, seed=0, mean=[0, 0, 0], deterministic=True)
    assert strict.train_size == 6  # both .webp files are listed
    with pytest.raises(tf.errors.InvalidArgumentError, match="moving.webp"):
        next(iter(strict.train))
    lenient = data.imagenet_datasets(root, 5, seed=0, mean=[0, 0, 0], deterministic=True, skip_corrupt=True)
    list(lenient.train.take(3))  # 15 images: every file met at least twice
    assert set(lenient.skipped_files) == {animated} and still not in lenient.skipped_files


def _odd_folder(root: str) -> dict[str, str]:
    """A class folder with a text file, a dangling link, a nested folder and a loose file."""
    make_folder(root, classes=2, per_class=2, size=SIZE)
    odd = {
        write(os.path.join(root, "class_0", "notes.txt"), b"not an image"): "not an image file name",
        write(os.path.join(root, "class_1", "nested", "deep.jpg"), encode(photo(5, *SIZE), "jpeg")): None,
        write(os.path.join(root, "README.jpg"), encode(photo(6, *SIZE), "jpeg")): "outside the class folders",
    }
    link = os.path.join(root, "class_1", "gone.jpg")
    os.symlink(os.path.join(root, "nowhere.jpg"), link)
    odd[link] = "a dangling symbolic link"
    odd[os.path.join(root, "class_1", "nested")] = "a folder inside a class folder"
    del odd[os.path.join(root, "class_1", "nested", "deep.jpg")]
    return odd


def test_files_a_folder_leaves_out_are_an_error_without_skip_corrupt(tmp_path):
    root = str(tmp_path / "odd")
    odd = _odd_folder(root)
    with pytest.raises(ValueError) as err:
        data.imagenet_datasets(root, 2, seed=0, mean=[0, 0, 0])
    message = str(err.value)
    assert "4 entries" in message and "skip_corrupt=True" in message
    for path, reason in odd.items():
        assert f"{path} ({reason}" in message


def test_files_a_folder_leaves_out_are_counted_with_skip_corrupt(tmp_path):
    root = str(tmp_path / "odd")
    odd = _odd_folder(root)
    with pytest.warns(DataWarning, match="skipping 4 entries"):
        d = data.imagenet_datasets(root, 2, seed=0, mean=[0, 0, 0], skip_corrupt=True)
    assert d.train_size == 4 and set(d.excluded_files) == set(odd)
    assert d.skipped == 4 and set(d.skipped_files) == set(odd)
    assert all(reason in d.excluded_files[path] for path, reason in odd.items())


def test_classes_only_in_val_are_an_error_naming_them(tmp_path):
    root = str(tmp_path / "split")
    make_folder(os.path.join(root, "train"), classes=2, per_class=2, size=SIZE)
    make_folder(os.path.join(root, "val"), classes=2, per_class=1, size=SIZE)
    write(os.path.join(root, "val", "zebra", "0.jpg"), encode(photo(1, *SIZE), "jpeg"))
    write(os.path.join(root, "val", "aardvark", "0.jpg"), encode(photo(2, *SIZE), "jpeg"))
    with pytest.raises(ValueError, match=r"lacks: aardvark, zebra"):
        FolderSource(root)


def test_an_empty_class_folder_keeps_its_label_and_is_named(tmp_path):
    root = str(tmp_path / "empty")
    make_folder(root, classes=2, per_class=2, size=SIZE)
    os.makedirs(os.path.join(root, "class_0b_empty"))
    with pytest.warns(DataWarning, match=r"1 \('class_0b_empty'\)"):
        source = FolderSource(root)
    assert source.class_names == ["class_0", "class_0b_empty", "class_1"]
    assert source.num_classes == 3 and source.empty_classes == ("class_0b_empty",)
    labels = sorted(int(label) for _, _, label in source.records("train", shuffle=False))
    assert labels == [0, 0, 2, 2]


def test_exif_orientation_is_ignored_pixels_as_stored():
    array = photo(4, 30, 50)
    encoded = encode(array, "exif_rotated")
    assert Image.open(io.BytesIO(encoded)).getexif()[0x0112] == 6
    image = data.decode_rgb(tf.constant(encoded)).numpy()
    assert image.shape == (30, 50, 3)  # not (50, 30, 3): the tag is not applied
    assert np.abs(image.astype(float) - array).mean() < 6


def test_label_options_honoured_for_shards_refused_for_folders(tmp_path):
    root = str(tmp_path / "folder")
    make_folder(root, classes=2, per_class=1, size=SIZE)
    with pytest.raises(ValueError, match=r"label_offset=-1 applies to TFRecord shards"):
        data.imagenet_datasets(root, 2, mean=[0, 0, 0], label_offset=-1)
    with pytest.raises(ValueError, match=r"num_classes=5 contradicts the 2 classes"):
        data.imagenet_datasets(root, 2, mean=[0, 0, 0], num_classes=5)
    assert data.imagenet_datasets(root, 2, mean=[0, 0, 0], num_classes=2).num_classes == 2


def _shard(path: str, labels) -> str:
    with tf.io.TFRecordWriter(path) as writer:
        for i, label in enumerate(labels):
            feature = {
                "image/encoded": tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[encode(photo(i, *SIZE), "jpeg")])
                ),
                "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return path


def test_negative_or_out_of_range_shard_labels_are_errors(tmp_path):
    zero_based = _shard(str(tmp_path / "zero.tfrecord"), [0, 1, 2])
    with pytest.raises(ValueError, match=r"label -1 after label_offset=-1 is negative"):
        data.imagenet_datasets(zero_based, 2, mean=[0, 0, 0], label_offset=-1)
    d = data.imagenet_datasets(zero_based, 3, mean=[0, 0, 0], num_classes=2, deterministic=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label out of range\):\] \[.*zero.tfrecord#2"):
        next(iter(d.train))
    ok = data.imagenet_datasets(zero_based, 3, mean=[0, 0, 0], num_classes=3, augment="none")
    assert sorted(next(iter(ok.train))[1].numpy()) == [0, 1, 2]


def test_non_finite_mean_and_arrays_are_refused(tmp_path):
    root = str(tmp_path / "folder")
    make_folder(root, classes=2, per_class=1, size=SIZE)
    with pytest.raises(ValueError, match=r"mean holds 1 non-finite"):
        data.imagenet_datasets(root, 2, mean=[np.nan, 0, 0])
    x = np.zeros((4, 8, 8, 3), np.float32)
    x[1, 2, 3, 0] = np.inf
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"x_train holds 1 non-finite"):
        data.cifar_datasets((x, y, np.zeros_like(x[:2]), y[:2]), 2)
    with pytest.raises(ValueError, match=r"y_train holds negative labels"):
        data.cifar_datasets((np.zeros((4, 8, 8, 3), np.uint8), y - 1, np.zeros((2, 8, 8, 3), np.uint8), y[:2]), 2)


def test_a_truncated_shard_is_an_error_naming_it(tmp_path):
    for split in ("train", "validation"):
        root = tmp_path / split
        root.mkdir()
        shards = {s: _shard(str(root / f"{s}-00000-of-00001"), [0, 1, 0, 1]) for s in ("train", "validation")}
        whole = open(shards[split], "rb").read()
        with open(shards[split], "wb") as f:
            f.write(whole[: len(whole) - 3000])
        with pytest.raises(ValueError, match=rf"TFRecord shard '{shards[split]}' cannot be read \(DataLossError"):
            data.imagenet_datasets(str(root), 2, mean=[0, 0, 0], num_classes=2)
