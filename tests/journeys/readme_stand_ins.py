"""Stand-ins for what the README's Python blocks say they need, as low as possible: tfds's
`mock_data` for the tensorflow-datasets sets, files in their real formats at the README's paths
(`PATHS`, replaced by the test), and a real HTTP mirror on 127.0.0.1 serving randomised ResNet-50
weights in keras.applications' layout and a class index, registered with their hashes as the
"imagenet" release of ResNet-50 (`KERAS_RESNET_PAPER_WEIGHTS_URL` points at it).

Imported by the script test_readme_python.py runs in a fresh interpreter, with tests/data and
tests/weights on its path (the helpers are imported there, not by pytest's import of `PATHS`)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os

#: The README's placeholders for the user's own files -> where the stand-in is, below the test's folder.
PATHS = {
    "/data/cifar-10-binary.tar.gz": "cifar/cifar-10-binary.tar.gz",
    "/data/tfrecords": "tfrecords",
    "/data/photos": "photos",
    "/data/flowers": "flowers",
    "photo.jpg": "photo.jpg",
}


def _tfrecords(folder: str) -> None:
    """train-*/validation-* shards of tf.Examples, labels from 1 (as ImageNet's TFRecords)."""
    import tensorflow as tf
    from image_files import encode, photo

    for split, count in (("train", 6), ("validation", 2)):
        os.makedirs(folder, exist_ok=True)
        with tf.io.TFRecordWriter(os.path.join(folder, f"{split}-00000-of-00001")) as writer:
            for i in range(count):
                feature = {
                    "image/encoded": tf.train.Feature(
                        bytes_list=tf.train.BytesList(value=[encode(photo(i, 64, 80), "jpeg")])
                    ),
                    "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1 + i % 3])),
                }
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def _files(root: str) -> None:
    from cifar_binary_files import write_cifar10_binary
    from image_files import encode, make_folder, photo, write

    write_cifar10_binary(os.path.join(root, "cifar"))
    _tfrecords(os.path.join(root, "tfrecords"))
    for split in ("train", "val"):
        make_folder(os.path.join(root, "photos", split), classes=3, per_class=2)
    for c in range(5):  # five kinds of flower, plain JPEGs as a user has them
        for n in range(3):
            write(os.path.join(root, "flowers", f"kind_{c}", f"{n}.jpg"), encode(photo(10 * c + n, 90, 120), "jpeg"))
    from sklearn.datasets import load_sample_image

    write(os.path.join(root, "photo.jpg"), encode(load_sample_image("china.jpg"), "jpeg"))


def _weights(root: str) -> dict[str, str]:
    """Stand-in ResNet-50 "imagenet" files and the class index: {file name: path}."""
    from weights_files import keras_applications_reference

    from keras_resnet_paper import weights as weights_lib

    release = weights_lib.get_release("resnet50", "imagenet")
    paths = {}
    for include_top, record in ((True, release.top_file), (False, release.notop_file)):
        paths[record.file_name] = os.path.join(root, record.file_name)
        keras_applications_reference(50, include_top, paths[record.file_name], seed=int(include_top))
    index = os.path.join(root, "imagenet_class_index.json")
    with open(index, "w") as f:
        json.dump({str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}, f)
    paths["imagenet_class_index.json"] = index
    return paths


def enter(root: str) -> contextlib.ExitStack:
    """Make every stand-in below `root` and put the mocks and the mirror in place until the
    returned stack is closed (the end of the script)."""
    import tensorflow_datasets as tfds
    from http_mirror import Mirror
    from weights_files import sha256

    from keras_resnet_paper import weights as weights_lib

    _files(root)
    paths = _weights(root)
    stack = contextlib.ExitStack()
    stack.enter_context(tfds.testing.mock_data(num_examples=4))
    mirror = stack.enter_context(Mirror({name: open(path, "rb").read() for name, path in paths.items()}))
    os.environ[weights_lib.WEIGHTS_URL_ENV] = mirror.url
    release = weights_lib.get_release("resnet50", "imagenet")

    def pinned(record):
        return dataclasses.replace(record, file_hash=sha256(paths[record.file_name]))

    labels = weights_lib.get_label_set()
    stack.enter_context(
        weights_lib.registered(
            dataclasses.replace(release, top_file=pinned(release.top_file), notop_file=pinned(release.notop_file)),
            dataclasses.replace(labels, class_index=pinned(labels.class_index)),
        )
    )
    return stack
