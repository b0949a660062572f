"""Where ImageNet-style images come from: tensorflow-datasets, TFRecord shards, or a folder.

Every source yields records `(name, payload, int32 label)` that cannot fail, and `load(payload,
label) -> (encoded_bytes, label)` does what can (reading a file, parsing a tf.Example, checking its
label), inside the pipeline's guard (`decode.guarded_map`), so a failure names the example or is
skipped and counted, never dropped unseen; the pipeline decodes only the crop window. `name`
identifies the example in errors: the file path, "<shard>#<record>" for TFRecords, the tfds id.

- `TfdsSource("imagenet2012" | "imagenette" | any image-classification name)`; ImageNet needs
  its manual directory (`manual_dir`) the first time.
- `TFRecordSource(pattern)`: `image/encoded` and `image/class/label` features, the usual ImageNet
  layout. Those labels are 1-based (0 = background): pass `label_offset=-1`.
- `FolderSource(root)`: one subfolder per class (sorted names are labels 0..n-1) of image files.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Sequence

import tensorflow as tf

from keras_resnet_paper.data.tfds_prepare import prepared_builder
from keras_resnet_paper.validation import check_bool, check_int

__all__ = ["TfdsSource", "TFRecordSource", "FolderSource", "make_source", "loader", "IMAGE_EXTENSIONS", "DataWarning"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
_AUTOTUNE = tf.data.AUTOTUNE
_TFDS_HINT = (
    "pass --data_dir (data_dir=) a folder where it is already prepared, or the images as TFRecord "
    "shards or a folder of class subfolders (--dataset PATH)"
)


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
            raise ValueError(
                f"tfds set {self.name!r} has no (image, label) features; it is not an image-classification set."
            )
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

    def load(self, encoded: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The record as it is: tfds yields the encoded image and its label."""
        return encoded, label

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
        check_int("label_offset", self.label_offset)
        check_int("num_classes", self.num_classes, minimum=1, allow_none=True)
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
        self._sizes = {}
        if self.num_classes is None:
            count, smallest, largest = self._scan("train")
            if smallest < 0:
                raise ValueError(
                    f"TFRecord pattern {self._patterns['train']!r}: label {smallest} after "
                    f"label_offset={self.label_offset} is negative; labels are class indices 0..n-1 "
                    "(ImageNet's 1-based shards need label_offset=-1, 0-based ones 0)."
                )
            self.num_classes = largest + 1

    @property
    def has_validation(self) -> bool:
        return "validation" in self._files

    def _raw(self, files: list[str], *, shuffle: bool, seed: int | None) -> tf.data.Dataset:
        names = tf.data.Dataset.from_tensor_slices(files)
        if shuffle:
            names = names.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

        def read(file):
            return (
                tf.data.TFRecordDataset(file, buffer_size=8 << 20)
                .enumerate()
                .map(lambda i, record: (tf.strings.join([file, tf.strings.as_string(i)], "#"), record))
            )

        return names.interleave(read, cycle_length=min(16, len(files)), num_parallel_calls=_AUTOTUNE)

    def _scan(self, split: str) -> tuple[int, int, int]:
        """(records, smallest label, largest label) of a split, read shard by shard so that a
        truncated or damaged shard is a ValueError naming it; the count is kept for `size`."""
        spec = {"image/class/label": tf.io.FixedLenFeature([], tf.int64)}
        count, smallest, largest = 0, 2**31 - 1, -1
        for file in self._files[split]:
            labels = tf.data.TFRecordDataset(file, buffer_size=8 << 20).map(
                lambda record: tf.cast(tf.io.parse_single_example(record, spec)["image/class/label"], tf.int32),
                num_parallel_calls=_AUTOTUNE,
            )
            try:
                n, low, high = labels.reduce(
                    (0, 2**31 - 1, -1), lambda s, y: (s[0] + 1, tf.minimum(s[1], y), tf.maximum(s[2], y))
                )
            except tf.errors.OpError as err:
                reason = re.sub(r"\{\{.*?\}\}\s*", "", err.message or str(err)).strip().splitlines()[0][:200]
                raise ValueError(
                    f"TFRecord shard {file!r} cannot be read ({type(err).__name__}: {reason}); the "
                    "file is truncated, damaged or not TFRecords of tf.Examples."
                ) from None
            count, smallest, largest = count + int(n), min(smallest, int(low)), max(largest, int(high))
        self._sizes[split] = count
        return count, smallest + self.label_offset, largest + self.label_offset

    def size(self, split: str) -> int:
        if split not in self._sizes:
            self._scan(split)
        return self._sizes[split]

    def records(self, split: str, *, shuffle: bool, seed: int | None = None, input_context=None) -> tf.data.Dataset:
        files, shard_records = _shard_files(self._files[split], input_context)
        dataset = self._raw(files, shuffle=shuffle, seed=seed)
        if shard_records:
            dataset = _shard_records(dataset, input_context)
        return dataset.map(lambda name, record: (name, record, tf.constant(-1)))

    def load(self, record: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(encoded image, label + label_offset) of a serialized tf.Example; an error if the label
        is outside 0..num_classes-1."""
        spec = {
            "image/encoded": tf.io.FixedLenFeature([], tf.string),
            "image/class/label": tf.io.FixedLenFeature([], tf.int64),
        }
        ex = tf.io.parse_single_example(record, spec)
        label = tf.cast(ex["image/class/label"], tf.int32) + self.label_offset
        in_range = tf.debugging.Assert(
            tf.logical_and(label >= 0, label < self.num_classes),
            ["Label out of range 0..num_classes-1 (check label_offset, num_classes):", label],
            summarize=3,
        )
        with tf.control_dependencies([in_range]):
            return ex["image/encoded"], tf.identity(label)


class DataWarning(UserWarning):
    """Something in a data set that is used, but not as a user may expect (skipped files, empty classes)."""


def _scan(folder: str) -> list[tuple[str, str]]:
    """(path, kind) of every entry of `folder`, sorted; kind "file", "folder", "dangling" (a symbolic
    link to nothing) or "other" (not a regular file). Local folders are scanned with one stat per
    symbolic link only; other file systems (gs://, ...) through tf.io.gfile."""
    if "://" in folder:
        out = []
        for name in sorted(tf.io.gfile.listdir(folder)):
            path = os.path.join(folder, name.rstrip("/"))
            out.append((path, "folder" if tf.io.gfile.isdir(path) else "file"))
        return out
    entries = sorted(os.scandir(folder), key=lambda e: e.name)
    return [
        (
            e.path,
            "folder"
            if e.is_dir()
            else "file"
            if e.is_file()
            else "dangling"
            if e.is_symlink() and not os.path.exists(e.path)
            else "other",
        )
        for e in entries
    ]


_REASONS = {
    "folder": "a folder inside a class folder (class folders are flat)",
    "dangling": "a dangling symbolic link",
    "other": "not a regular file",
    "name": f"not an image file name ({', '.join(IMAGE_EXTENSIONS)})",
    "loose": "outside the class folders",
}


def _excluded_summary(excluded: dict[str, str], limit: int = 8) -> str:
    shown = [f"{path} ({reason})" for path, reason in list(excluded.items())[:limit]]
    more = len(excluded) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


@dataclasses.dataclass
class FolderSource:
    """A folder of class subfolders of image files (labels: sorted subfolder names of train/).

    If `root` has "train" and "val" (or "validation") subfolders, each holds the class subfolders of
    its split; otherwise every file is training data and there is no validation set.

    Nothing is left out silently: every entry that is not an image file of a class folder (another
    extension, a dangling symbolic link, a nested folder, a file beside the class folders) is an
    error naming it, or with `skip_corrupt` a `DataWarning` and an entry of `excluded` ({path:
    reason}). A class folder of val/ that train/ lacks is an error naming the class; a train/ class
    folder with no image keeps its label (labels stay the sorted folder names) and is named in a
    `DataWarning` and in `empty_classes`.
    """

    root: str
    skip_corrupt: bool = False

    def __post_init__(self):
        check_bool("skip_corrupt", self.skip_corrupt)
        root = os.path.expanduser(self.root)
        if not tf.io.gfile.isdir(root):
            raise ValueError(f"image folder {root!r} does not exist.")
        split_dirs = {"train": os.path.join(root, "train")}
        val = next((d for d in ("val", "validation") if tf.io.gfile.isdir(os.path.join(root, d))), None)
        if tf.io.gfile.isdir(split_dirs["train"]) and val:
            split_dirs["validation"] = os.path.join(root, val)
        else:
            split_dirs = {"train": root}
        self.excluded: dict[str, str] = {}
        scans = {split: _scan(folder) for split, folder in split_dirs.items()}
        self.class_names = [os.path.basename(p) for p, kind in scans["train"] if kind == "folder"]
        if not self.class_names:
            raise ValueError(f"image folder {split_dirs['train']!r} has no class subfolders.")
        self.num_classes = len(self.class_names)
        self._check_classes(split_dirs, scans)
        self._files = {split: self._list(folder, scans[split]) for split, folder in split_dirs.items()}
        self._report(split_dirs["train"])

    def _check_classes(self, split_dirs: dict[str, str], scans: dict) -> None:
        """A validation class must be a training class: labels come from train/'s folder names."""
        if "validation" not in scans:
            return
        extra = [
            os.path.basename(p)
            for p, kind in scans["validation"]
            if kind == "folder" and os.path.basename(p) not in self.class_names
        ]
        if extra:
            raise ValueError(
                f"{split_dirs['validation']!r} has class folder(s) that {split_dirs['train']!r} lacks: "
                f"{', '.join(extra)}; labels are train/'s sorted class folders, so every validation "
                "class needs a training folder (add it, or remove the validation folder)."
            )

    def _list(self, folder: str, entries: list[tuple[str, str]]) -> tuple[list[str], list[int]]:
        paths, labels = [], []
        for path, kind in entries:
            if kind != "folder":
                self.excluded[path] = _REASONS["loose"] if kind == "file" else _REASONS[kind]
        for label, name in enumerate(self.class_names):
            class_dir = os.path.join(folder, name)
            if not tf.io.gfile.isdir(class_dir):
                continue
            for path, kind in _scan(class_dir):
                if kind == "file" and path.lower().endswith(IMAGE_EXTENSIONS):
                    paths.append(path)
                    labels.append(label)
                else:
                    self.excluded[path] = _REASONS["name" if kind == "file" else kind]
        if not paths:
            raise ValueError(f"image folder {folder!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)}).")
        return paths, labels

    def _report(self, train_dir: str) -> None:
        """The excluded files (an error without skip_corrupt) and the empty training classes."""
        if self.excluded and not self.skip_corrupt:
            one = len(self.excluded) == 1
            raise ValueError(
                f"image folder {self.root!r}: {len(self.excluded)} entr{'y is not an image' if one else 'ies are not images'} "
                f"of a class folder: {_excluded_summary(self.excluded)}; remove or fix "
                f"{'it' if one else 'them'} (or skip and count them: --skip_corrupt, skip_corrupt=True from Python)."
            )
        if self.excluded:
            warnings.warn(
                f"image folder {self.root!r}: skipping {len(self.excluded)} entr"
                f"{'y' if len(self.excluded) == 1 else 'ies'}: {_excluded_summary(self.excluded)}.",
                DataWarning,
                stacklevel=4,
            )
        present = set(self._files["train"][1])
        self.empty_classes = tuple(n for i, n in enumerate(self.class_names) if i not in present)
        if self.empty_classes:
            labels = ", ".join(f"{self.class_names.index(n)} ({n!r})" for n in self.empty_classes)
            warnings.warn(
                f"image folder {train_dir!r}: class folder(s) without an image keep their label "
                f"(labels are the sorted folder names): {labels}.",
                DataWarning,
                stacklevel=4,
            )

    @property
    def has_validation(self) -> bool:
        return "validation" in self._files

    def size(self, split: str) -> int:
        return len(self._files[split][0])

    def records(self, split: str, *, shuffle: bool, seed: int | None = None, input_context=None) -> tf.data.Dataset:
        paths, labels = self._files[split]
        dataset = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int32)))
        if input_context is not None and input_context.num_input_pipelines > 1:
            dataset = _shard_records(dataset, input_context)
        if shuffle:
            dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        return dataset.map(lambda path, label: (path, path, label))

    def load(self, path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(the file's bytes, label): read where a failure is caught and names the file."""
        return tf.io.read_file(path), label


def loader(source):
    """`source.load`, or the identity for a source object without one (records already hold the
    encoded image and its label)."""
    return getattr(source, "load", lambda encoded, label: (encoded, label))


def _check_label_options(source, where: str, label_offset: int, num_classes: int | None):
    """A folder or tfds set names its own classes: label_offset and num_classes may only agree."""
    if label_offset != 0:
        raise ValueError(
            f"label_offset={label_offset!r} applies to TFRecord shards (1-based ImageNet labels: "
            f"-1), not to {where}, whose labels are 0..n-1 already."
        )
    if num_classes is not None and num_classes != source.num_classes:
        raise ValueError(f"num_classes={num_classes!r} contradicts the {source.num_classes} classes of {where}.")
    return source


def make_source(
    source,
    *,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    label_offset: int = 0,
    num_classes: int | None = None,
    skip_corrupt: bool = False,
):
    """A source object from a tfds name, a TFRecord pattern/directory, or an image folder.

    `label_offset` (TFRecord shards only) is added to every label; `num_classes` is the number of
    classes of TFRecord shards (else one more than the largest label), and must agree with a
    folder's or tfds set's own. `skip_corrupt` lets a folder skip entries that are not images.
    """
    label_offset = check_int("label_offset", label_offset)
    num_classes = check_int("num_classes", num_classes, minimum=1, allow_none=True)
    if not isinstance(source, str) or not source:
        if hasattr(source, "records") and hasattr(source, "size"):
            return source
        raise ValueError(f"source={source!r} is not allowed: use a tfds name, a TFRecord pattern or an image folder.")
    path = os.path.expanduser(source)
    if (
        any(c in path for c in "*?[{")
        or path.endswith((".tfrecord", ".tfrecords"))
        or (tf.io.gfile.isdir(path) and tf.io.gfile.glob(os.path.join(path, "train-*")))
    ):
        return TFRecordSource(path, label_offset=label_offset, num_classes=num_classes)
    if tf.io.gfile.isdir(path):
        folder = FolderSource(path, skip_corrupt=skip_corrupt)
        return _check_label_options(folder, f"image folder {source!r}", label_offset, num_classes)
    if os.sep in source or source.startswith("."):
        raise ValueError(f"source={source!r} is neither an existing folder nor a TFRecord pattern.")
    tfds_source = TfdsSource(source, data_dir=data_dir, manual_dir=manual_dir)
    return _check_label_options(tfds_source, f"tfds set {source!r}", label_offset, num_classes)
