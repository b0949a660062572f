"""ImageNet-style pipelines on generated files: folder, TFRecord and tfds sources; odd files."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from image_files import KINDS, encode, make_folder, photo
from PIL import Image

from keras_resnet_paper import data


def _example(encoded: bytes, label: int) -> bytes:
    feature = {
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("folder"))
    make_folder(os.path.join(root, "train"), classes=3, per_class=4, size=(260, 300))
    make_folder(os.path.join(root, "val"), classes=3, per_class=2, size=(260, 300))
    return root


@pytest.fixture(scope="module")
def corrupt_folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("corrupt"))
    make_folder(root, classes=2, per_class=3, corrupt=True, size=(240, 250))
    return root


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_decodes_to_rgb(kind):
    array = photo(1, 48, 64)
    encoded = encode(array, kind)
    image = data.decode_rgb(tf.constant(encoded)).numpy()
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    reference = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"), np.float32)
    assert np.abs(image - reference).mean() < 6  # IDCT and chroma upsampling differ a little; a channel mix-up is ~50+
    if kind == "gray":
        np.testing.assert_array_equal(image[..., 0], image[..., 1])
    # fused decode-and-crop (JPEG) or decode-then-slice gives the same pixels as a full decode
    window = data.decode_window(tf.constant(encoded), lambda shape: tf.constant([5, 7, 20, 30])).numpy()
    np.testing.assert_array_equal(window, image[5:25, 7:37])


def test_folder_pipeline_shapes_labels_and_validation(folder):
    d = data.imagenet_datasets(folder, 4, seed=0, deterministic=True)
    assert isinstance(d, data.ImageData)
    assert d.num_classes == 3 and d.train_size == 12 and d.mean.shape == (3,)
    x, y = next(iter(d.train))
    assert x.shape == (4, 224, 224, 3) and x.dtype == tf.float32 and y.dtype == tf.int32
    assert set(y.numpy()) <= {0, 1, 2}
    assert float(tf.reduce_min(x)) >= -255 - 60 and float(tf.reduce_max(x)) <= 255 + 60
    images, labels = zip(*[(a.numpy(), b.numpy()) for a, b in d.validation])
    images, labels = np.concatenate(images), np.concatenate(labels)
    assert images.shape == (6, 224, 224, 3)
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, 2, 2])
    # validation view: shorter side 256, centre 224, mean subtracted
    first = os.path.join(folder, "val", "class_0", "000.jpg")
    decoded = data.decode_rgb(tf.io.read_file(first))
    expected = data.center_crop(data.resize_shorter_side(decoded, 256), 224).numpy() - d.mean
    np.testing.assert_allclose(images[0], expected, atol=1e-3)
    full, label = next(iter(d.validation_images))
    assert full.shape == (260, 300, 3) and full.dtype == tf.uint8 and int(label) == 0


def test_same_seed_same_batches_and_other_seed_differs(folder):
    def first(seed, **kw):
        d = data.imagenet_datasets(folder, 4, seed=seed, deterministic=True, mean=[0, 0, 0], **kw)
        return np.stack([x.numpy() for x, _ in d.train.take(2)])

    a = first(1)
    np.testing.assert_array_equal(a, first(1))
    assert not np.array_equal(a, first(2))
    assert first(1, augment="inception").shape == a.shape


def test_train_none_is_the_validation_view(folder):
    d = data.imagenet_datasets(folder, 2, seed=0, augment="none", mean=[0, 0, 0])
    x = next(iter(d.train))[0].numpy()
    assert x.min() >= -1e-3 and x.max() <= 255 + 1e-3


def test_pixel_mean_option(folder):
    pixel = data.mean_image(folder, image_size=224, max_images=5)
    assert pixel.shape == (224, 224, 3) and 0 < pixel.mean() < 255
    d = data.imagenet_datasets(folder, 2, seed=0, mean="pixel")
    assert d.mean.shape == (224, 224, 3)
    with pytest.raises(ValueError, match="mean='median'"):
        data.imagenet_datasets(folder, 2, mean="median")
    with pytest.raises(ValueError, match="augment='alexnet'"):
        data.imagenet_datasets(folder, 2, augment="alexnet")


def test_corrupt_file_error_names_it(corrupt_folder):
    d = data.imagenet_datasets(corrupt_folder, 7, seed=0, mean=[0, 0, 0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="zz_corrupt.jpg"):
        next(iter(d.train))


def test_corrupt_file_skipped_and_counted(corrupt_folder):
    d = data.imagenet_datasets(corrupt_folder, 3, seed=0, mean=[0, 0, 0], skip_corrupt=True, deterministic=True)
    assert d.train_size == 7 and d.validation is None
    batches = list(d.train.take(4))  # 12 images: every file at least once, the corrupt one skipped
    assert all(x.shape == (3, 224, 224, 3) for x, _ in batches)
    assert d.skipped >= 1 and set(d.skipped_files) == {os.path.join(corrupt_folder, "class_0", "zz_corrupt.jpg")}


def test_tfrecord_shards_with_label_offset(tmp_path):
    for split, n in (("train", 6), ("validation", 2)):
        for shard in range(2):
            path = str(tmp_path / f"{split}-{shard:05d}-of-00002")
            with tf.io.TFRecordWriter(path) as writer:
                for i in range(n // 2):
                    kind = KINDS[(shard + i) % len(KINDS)]
                    writer.write(_example(encode(photo(shard * 10 + i, 240, 320), kind), 1 + (i % 2)))
    d = data.imagenet_datasets(str(tmp_path), 2, seed=0, label_offset=-1, mean=[0, 0, 0])
    assert d.num_classes == 2 and d.train_size == 6
    labels = np.concatenate([y.numpy() for _, y in d.train.take(6)])
    assert set(labels) == {0, 1}
    assert sum(int(x.shape[0]) for x, _ in d.validation) == 2
    pattern = data.imagenet_datasets(str(tmp_path / "{split}-*"), 2, seed=0, label_offset=-1, mean=[0, 0, 0])
    assert pattern.validation is not None and pattern.num_classes == 2


def test_tfrecord_corrupt_record_is_named(tmp_path):
    path = str(tmp_path / "data.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(_example(encode(photo(0, 240, 320), "jpeg"), 0))
        writer.write(_example(encode(photo(1, 240, 320), "corrupt"), 1))
    d = data.imagenet_datasets(path, 2, seed=0, mean=[0, 0, 0], deterministic=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"data.tfrecord#1"):
        next(iter(d.train))


def test_input_context_shards_files(folder):
    ctx = [tf.distribute.InputContext(2, i, 2) for i in range(2)]
    seen = []
    for c in ctx:
        d = data.imagenet_datasets(folder, 4, seed=0, input_context=c, mean=[0, 0, 0], augment="none", lighting=False)
        assert d.train.element_spec[0].shape[0] == 2
        seen.append({v.numpy().tobytes() for v, _ in d.validation.unbatch()})
    assert not seen[0] & seen[1] and len(seen[0]) + len(seen[1]) == 6


def test_tfds_source_under_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=8):
        d = data.imagenet_datasets(
            "imagenette", 4, seed=0, mean=[0, 0, 0], image_size=64, eval_side=72, scale_range=(72, 96), shuffle_buffer=8
        )
        x, y = next(iter(d.train))
        assert x.shape == (4, 64, 64, 3) and y.dtype == tf.int32 and d.num_classes == 10
        v, _ = next(iter(d.validation))
        assert v.shape[1:] == (64, 64, 3)


def test_bad_sources_fail_early(tmp_path):
    with pytest.raises(ValueError, match="matches no files"):
        data.imagenet_datasets(str(tmp_path / "none-*.tfrecord"), 2)
    with pytest.raises(ValueError, match="no class subfolders"):
        data.imagenet_datasets(str(tmp_path), 2)
    with pytest.raises(ValueError, match="image_size=300"):
        data.imagenet_datasets(str(tmp_path), 2, image_size=300)


def _guard_stream(kinds):
    names = [f"file{i}_{kind}" for i, kind in enumerate(kinds)]
    encoded = [encode(photo(i, 24, 32), kind) for i, kind in enumerate(kinds)]
    return tf.data.Dataset.from_tensor_slices((names, encoded))


def test_guarded_map_counts_every_corrupt_file_even_the_last():
    from keras_resnet_paper.data.decode import CorruptCounter, guarded_map

    kinds = ["jpeg", "corrupt", "corrupt", "png", "cmyk", "corrupt"]
    counter = CorruptCounter()
    out = guarded_map(_guard_stream(kinds), lambda n, e: (data.decode_rgb(e), n), skip_corrupt=True, counter=counter)
    numbers = [int(n) for _, n in out]
    assert numbers == [0, 3, 4] and counter.count == 3
    assert counter.files == {"file1_corrupt": 1, "file2_corrupt": 1, "file5_corrupt": 1}
    with pytest.raises(tf.errors.InvalidArgumentError, match="file2_corrupt"):
        list(
            guarded_map(
                _guard_stream(["jpeg", "gray", "corrupt"]), lambda n, e: (data.decode_rgb(e),), skip_corrupt=False
            )
        )
    with pytest.raises(tf.errors.InvalidArgumentError, match="file1_corrupt, file2_corrupt"):
        list(guarded_map(_guard_stream(kinds[:4]), lambda n, e: (data.decode_rgb(e),), skip_corrupt=False))


def test_train_pipeline_scale_and_flip_end_to_end(tmp_path):
    # a PNG (decoded exactly) whose red channel is x and green channel is y, both 0..255
    height, width = 300, 400
    y, x = np.mgrid[0:height, 0:width]
    array = np.stack([x * 255 / (width - 1), y * 255 / (height - 1), np.zeros_like(x)], -1).round().astype(np.uint8)
    (tmp_path / "a").mkdir()
    Image.fromarray(array).save(tmp_path / "a" / "0.png")
    d = data.imagenet_datasets(str(tmp_path), 32, seed=0, mean=[0, 0, 0], lighting=False)
    images = next(iter(d.train))[0].numpy()
    green_span = images[:, -1, :, 1].mean(1) - images[:, 0, :, 1].mean(1)  # bottom row minus top row
    window_height = green_span / 255 * (height - 1) * 224 / 223
    side = 224 * height / window_height
    assert side.min() > 250 and side.max() < 490 and side.max() - side.min() > 60
    red_slope = images[:, :, -1, 0].mean(1) - images[:, :, 0, 0].mean(1)  # right column minus left column
    flipped = np.mean(red_slope < 0)
    assert 0.15 < flipped < 0.85


def test_imagenet2012_defaults_under_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=4):
        d = data.imagenet_datasets(batch_size=2, seed=0, shuffle_buffer=4)  # what the trainer calls
        x, y = next(iter(d.train))
        assert x.shape == (2, 224, 224, 3) and d.num_classes == 1000
        np.testing.assert_array_equal(d.mean, data.IMAGENET_CHANNEL_MEAN)


def test_add_per_channel_equals_broadcast_add():
    from keras_resnet_paper.data.imagenet import add_per_channel

    image = np.random.default_rng(0).normal(size=(7, 5, 3)).astype("float32")
    values = np.array([1.5, -2.0, 3.25], np.float32)
    np.testing.assert_allclose(
        add_per_channel(tf.constant(image), tf.constant(values)).numpy(), image + values, rtol=1e-6
    )
