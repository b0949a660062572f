"""Where ImageNet-style images come from: tensorflow-datasets, TFRecord shards, or a folder.

Every source yields encoded (undecoded) examples `(name, encoded_bytes, int32 label)`, so the
pipeline decodes only the crop window. `name` identifies the example in errors: the file path,
"<shard>#<record>" for TFRecords, the tfds id for tensorflow-datasets.

- `TfdsSource("imagenet2012" | "imagenette" | any image-classification name)`; ImageNet needs
  its manual directory (`manual_dir`) the first time.
- `TFRecordSource(pattern)`: `image/encoded` and `image/class/label` features, the usual ImageNet
  layout. Those labels are 1-based (0 = background): pass `label_offset=-1`.
- `FolderSource(root)`: one subfolder per class (sorted names are labels 0..n-1) of image files.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import tensorflow as tf

from keras_resnet_paper.data.tfds_prepare import prepared_builder

__all__ = ["TfdsSource", "TFRecordSource", "FolderSource", "make_source", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
_AUTOTUNE = tf.data.AUTOTUNE
_TFDS_HINT = ("pass --data_dir (data_dir=) a folder where it is already prepared, or the images as TFRecord "
              "shards or a folder of class subfolders (--dataset PATH)")


def _shard_files(files: Sequence[str], input_context) -> tuple[list[str], bool]:
    """This worker's files, and whether records still need sharding (fewer files than workers)."""
    files = list(files)
    if input_context is None or input_context.num_input_pipelines == 1:
        return files, False
    n, i = input_context.num_input_pipelines, input_context.input_pipeline_id
    if len(files) >= n:
        return files[i::n], False
    return files, True


def _shard_records(dataset: tf.data.Dataset, input_context) -> tf.data.Dataset:
    return dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)


@dataclasses.dataclass
class TfdsSource:
    """A tensorflow-datasets image-classification set by name."""

    name: str
    data_dir: str | None = None
    manual_dir: str | None = None

    def __post_init__(self):
        self._builder = prepared_builder(self.name, self.data_dir, self.manual_dir, hint=_TFDS_HINT)
        features = self._builder.info.features
        keys = self._builder.info.supervised_keys
        if keys is not None and len(keys) == 2:
            self._image_key, self._label_key = keys
        elif "image" in features and "label" in features:
            self._image_key, self._label_key = "image", "label"
        else:
            raise ValueError(f"tfds set {self.name!r} has no (image, label) features; it is not an image-classification set.")
        self.num_classes = int(features[self._label_key].num_classes)
        splits = list(self._builder.info.splits.keys()) if self._builder.info.splits else []
        self._train_split = "train"
        self._validation_split = next((s for s in ("validation", "test") if s in splits), None)
        if splits and self._validation_split is None:  # e.g. tf_flowers: a fixed 10% of train
            self._train_split, self._validation_split = "train[:90%]", "train[90%:]"
        elif not splits:  # not generated (or mocked): assume the usual names
            self._validation_split = "validation"

    @property
    def has_validation(self) -> bool:
        return self._validation_split is not None

    def size(self, split: str) -> int:
        split_name = self._train_split if split == "train" else self._validation_split
        try:
            return int(self._builder.info.splits[split_name].num_examples)
        except KeyError:
            return int(self.records(split, shuffle=False).reduce(0, lambda n, _: n + 1))

    def records(self, split: str, *, shuffle: bool, seed: int | None = None, input_context=None) -> tf.data.Dataset:
        import tensorflow_datasets as tfds

        read_config = tfds.ReadConfig(
            input_context=input_context, shuffle_seed=seed, add_tfds_id=True, interleave_cycle_length=16
        )
        dataset = self._builder.as_dataset(
            split=self._train_split if split == "train" else self._validation_split,
            shuffle_files=shuffle,
            read_config=read_config,
            decoders={self._image_key: tfds.decode.SkipDecoding()},
        )
        image_key, label_key = self._image_key, self._label_key
        return dataset.map(
            lambda ex: (ex["tfds_id"], ex[image_key], tf.cast(ex[label_key], tf.int32)), num_parallel_calls=_AUTOTUNE
        )


@dataclasses.dataclass
class TFRecordSource:
    """TFRecord shards of tf.Examples with `image/encoded` and `image/class/label`.

    `pattern` is a glob; "{split}" in it becomes "train" / "validation". A directory stands for the
    usual ImageNet layout "train-*-of-*" / "validation-*-of-*". Without either, all files are
    training data and there is no validation set.
    """

    pattern: str
    label_offset: int = 0
    num_classes: int | None = None

    def __post_init__(self):
        path = os.path.expanduser(self.pattern)
        if tf.io.gfile.isdir(path):
            path = os.path.join(path, "{split}-*")
        self._patterns = {"train": path.replace("{split}", "train")}
        if "{split}" in path:
            self._patterns["validation"] = path.replace("{split}", "validation")
        self._files = {}
        for split, pattern in self._patterns.items():
            files = sorted(tf.io.gfile.glob(pattern))
            if not files:
                raise ValueError(f"TFRecord pattern {pattern!r} ({split}) matches no files.")
            self._files[split] = files
        if self.num_classes is None:
            labels = self._labels("train")
            self.num_classes = int(labels.reduce(tf.constant(-1), tf.maximum).numpy()) + 1
        self._sizes = {}

    @property
    def has_validation(self) -> bool:
        return "validation" in self._files

    def _raw(self, files: list[str], *, shuffle: bool, seed: int | None) -> tf.data.Dataset:
        names = tf.data.Dataset.from_tensor_slices(files)
        if shuffle:
            names = names.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

        def read(file):
            return tf.data.TFRecordDataset(file, buffer_size=8 << 20).enumerate().map(
                lambda i, record: (tf.strings.join([file, tf.strings.as_string(i)], "#"), record)
            )

        return names.interleave(read, cycle_length=min(16, len(files)), num_parallel_calls=_AUTOTUNE)

    def _labels(self, split: str) -> tf.data.Dataset:
        spec = {"image/class/label": tf.io.FixedLenFeature([], tf.int64)}
        return self._raw(self._files[split], shuffle=False, seed=None).map(
            lambda name, record: tf.cast(tf.io.parse_single_example(record, spec)["image/class/label"], tf.int32)
            + self.label_offset,
            num_parallel_calls=_AUTOTUNE,
        )

    def size(self, split: str) -> int:
        if split not in self._sizes:
            self._sizes[split] = int(self._labels(split).reduce(0, lambda n, _: n + 1))
        return self._sizes[split]

    def records(self, split: str, *, shuffle: bool, seed: int | None = None, input_context=None) -> tf.data.Dataset:
        files, shard_records = _shard_files(self._files[split], input_context)
        dataset = self._raw(files, shuffle=shuffle, seed=seed)
        if shard_records:
            dataset = _shard_records(dataset, input_context)
        spec = {
            "image/encoded": tf.io.FixedLenFeature([], tf.string),
            "image/class/label": tf.io.FixedLenFeature([], tf.int64),
        }
        offset = self.label_offset

        def parse(name, record):
            ex = tf.io.parse_single_example(record, spec)
            return name, ex["image/encoded"], tf.cast(ex["image/class/label"], tf.int32) + offset

        return dataset.map(parse, num_parallel_calls=_AUTOTUNE)


@dataclasses.dataclass
class FolderSource:
    """A folder of class subfolders of image files (labels: sorted subfolder names).

    If `root` has "train" and "val" (or "validation") subfolders, each holds the class subfolders of
    its split; otherwise every file is training data and there is no validation set.
    """

    root: str

    def __post_init__(self):
        root = os.path.expanduser(self.root)
        if not tf.io.gfile.isdir(root):
            raise ValueError(f"image folder {root!r} does not exist.")
        split_dirs = {"train": os.path.join(root, "train")}
        val = next((d for d in ("val", "validation") if tf.io.gfile.isdir(os.path.join(root, d))), None)
        if tf.io.gfile.isdir(split_dirs["train"]) and val:
            split_dirs["validation"] = os.path.join(root, val)
        else:
            split_dirs = {"train": root}
        self.class_names = sorted(
            d.rstrip("/") for d in tf.io.gfile.listdir(split_dirs["train"]) if tf.io.gfile.isdir(os.path.join(split_dirs["train"], d))
        )
        if not self.class_names:
            raise ValueError(f"image folder {split_dirs['train']!r} has no class subfolders.")
        self.num_classes = len(self.class_names)
        self._files = {split: self._list(folder) for split, folder in split_dirs.items()}

    @property
    def has_validation(self) -> bool:
        return "validation" in self._files

    def _list(self, folder: str) -> tuple[list[str], list[int]]:
        paths, labels = [], []
        for label, name in enumerate(self.class_names):
            class_dir = os.path.join(folder, name)
            if not tf.io.gfile.isdir(class_dir):
                continue
            for file in sorted(tf.io.gfile.listdir(class_dir)):
                if file.lower().endswith(IMAGE_EXTENSIONS):
                    paths.append(os.path.join(class_dir, file))
                    labels.append(label)
        if not paths:
            raise ValueError(f"image folder {folder!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)}).")
        return paths, labels

    def size(self, split: str) -> int:
        return len(self._files[split][0])

    def records(self, split: str, *, shuffle: bool, seed: int | None = None, input_context=None) -> tf.data.Dataset:
        paths, labels = self._files[split]
        dataset = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int32)))
        if input_context is not None and input_context.num_input_pipelines > 1:
            dataset = _shard_records(dataset, input_context)
        if shuffle:
            dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        return dataset.map(lambda path, label: (path, tf.io.read_file(path), label), num_parallel_calls=_AUTOTUNE)


def make_source(source, *, data_dir: str | None = None, manual_dir: str | None = None, label_offset: int = 0,
                num_classes: int | None = None):
    """A source object from a tfds name, a TFRecord pattern/directory, or an image folder."""
    if not isinstance(source, str) or not source:
        if hasattr(source, "records") and hasattr(source, "size"):
            return source
        raise ValueError(f"source={source!r} is not allowed: use a tfds name, a TFRecord pattern or an image folder.")
    path = os.path.expanduser(source)
    if any(c in path for c in "*?[{") or path.endswith((".tfrecord", ".tfrecords")) or (
        tf.io.gfile.isdir(path) and tf.io.gfile.glob(os.path.join(path, "train-*"))
    ):
        return TFRecordSource(path, label_offset=label_offset, num_classes=num_classes)
    if tf.io.gfile.isdir(path):
        return FolderSource(path)
    if os.sep in source or source.startswith("."):
        raise ValueError(f"source={source!r} is neither an existing folder nor a TFRecord pattern.")
    return TfdsSource(source, data_dir=data_dir, manual_dir=manual_dir)
