"""CIFAR-10 and CIFAR-100 read from their original binary archives (the data of Sec. 4.2).

Machines without a network often hold `cifar-10-binary.tar.gz` / `cifar-100-binary.tar.gz` (or
their extracted folders) rather than a tensorflow-datasets cache. The binary format is a run of
fixed-size records: CIFAR-10 `<label><3072 pixel bytes>` in `data_batch_1.bin` .. `data_batch_5.bin`
and `test_batch.bin` (folder `cifar-10-batches-bin/`); CIFAR-100 `<coarse label><fine label><3072
pixel bytes>` in `train.bin` and `test.bin` (folder `cifar-100-binary/`). The pixels are the 1024
red, then 1024 green, then 1024 blue values of a 32x32 image, each plane row-major. The archive is
read as a stream, nothing is extracted to disk, and records are parsed whole-file with numpy.

    x_train, y_train, x_test, y_test = load_cifar_binary("~/downloads/cifar-10-binary.tar.gz")
    x_train, y_train, x_test, y_test = load_cifar_binary("~/downloads", "cifar100", labels="coarse")
"""

from __future__ import annotations

import dataclasses
import os
import tarfile
import zlib
from typing import Union

import numpy as np

from keras_resnet_paper.errors import DatasetUnavailableError

__all__ = [
    "CifarBinaryFormat",
    "CifarBinaryLocation",
    "CIFAR_BINARY_FORMATS",
    "find_cifar_binary",
    "is_cifar_binary_path",
    "load_cifar_binary",
]

IMAGE_SHAPE = (3, 32, 32)  # channel planes first in the file; NHWC after loading
IMAGE_BYTES = 3 * 32 * 32
LABEL_KINDS = ("fine", "coarse")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
PathLike = Union[str, "os.PathLike[str]"]


@dataclasses.dataclass(frozen=True)
class CifarBinaryFormat:
    """Where one data set's records live and how they are laid out.

    `labels` maps a label kind to (byte offset in the record, number of classes); CIFAR-10's one
    label is its "fine" label.
    """

    dataset: str
    archive: str
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    labels: dict[str, tuple[int, int]] = dataclasses.field(hash=False)

    @property
    def label_bytes(self) -> int:
        return len(self.labels)

    @property
    def record_bytes(self) -> int:
        return self.label_bytes + IMAGE_BYTES

    @property
    def files(self) -> tuple[str, ...]:
        return self.train_files + self.test_files

    @property
    def title(self) -> str:
        return "CIFAR-" + self.dataset[len("cifar") :]


CIFAR_BINARY_FORMATS = {
    "cifar10": CifarBinaryFormat(
        "cifar10",
        "cifar-10-binary.tar.gz",
        "cifar-10-batches-bin",
        tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        ("test_batch.bin",),
        {"fine": (0, 10)},
    ),
    "cifar100": CifarBinaryFormat(
        "cifar100",
        "cifar-100-binary.tar.gz",
        "cifar-100-binary",
        ("train.bin",),
        ("test.bin",),
        {"coarse": (0, 20), "fine": (1, 100)},
    ),
}


@dataclasses.dataclass(frozen=True)
class CifarBinaryLocation:
    """A found copy of one data set: an archive file, or the folder holding its .bin files."""

    format: CifarBinaryFormat
    path: str
    is_archive: bool


def _formats(dataset: str | None) -> list[CifarBinaryFormat]:
    if dataset is None:
        return list(CIFAR_BINARY_FORMATS.values())
    if dataset not in CIFAR_BINARY_FORMATS:
        raise ValueError(f"dataset={dataset!r} is not allowed; use one of {tuple(CIFAR_BINARY_FORMATS)} or None.")
    return [CIFAR_BINARY_FORMATS[dataset]]


def _archive_format(path: str, formats: list[CifarBinaryFormat]) -> CifarBinaryFormat | None:
    """The format of the archive at `path` among `formats`: by its file name, else by the folder of
    its first member (None if neither tells; with one format asked for and a name that names no
    format, that one, and reading it says what is wrong)."""
    name = os.path.basename(path)
    for fmt in CIFAR_BINARY_FORMATS.values():
        if name == fmt.archive or name.startswith(fmt.folder):
            return fmt if fmt in formats else None
    if len(formats) == 1:
        return formats[0]
    try:
        with tarfile.open(path, "r|*") as tar:  # the first header only: never a large file's data
            first = tar.next()
        top = first.name.removeprefix("./").split("/")[0] if first else None
        return next((fmt for fmt in formats if top == fmt.folder), None)
    except (tarfile.TarError, EOFError, zlib.error, OSError):
        pass
    return None


def find_cifar_binary(path: PathLike, dataset: str | None = None) -> CifarBinaryLocation | None:
    """The CIFAR binary data at `path`, or None: `path` may be the archive, its extracted folder, or
    a folder containing either (an extracted folder is preferred). `dataset` ("cifar10" or
    "cifar100") restricts the search; with None, CIFAR-10 is looked for first."""
    formats = _formats(dataset)
    path = os.path.expanduser(os.fspath(path))
    if os.path.isfile(path):
        fmt = _archive_format(path, formats)
        return CifarBinaryLocation(fmt, path, True) if fmt else None
    if not os.path.isdir(path):
        return None
    for fmt in formats:
        for folder in (path, os.path.join(path, fmt.folder)):
            if any(os.path.isfile(os.path.join(folder, name)) for name in fmt.files):
                return CifarBinaryLocation(fmt, folder, False)
        if os.path.isfile(os.path.join(path, fmt.archive)):
            return CifarBinaryLocation(fmt, os.path.join(path, fmt.archive), True)
    return None


def is_cifar_binary_path(path: PathLike) -> bool:
    """Whether `path` names CIFAR binary data: it is found there, or the path does not exist and
    ends in an archive suffix or an archive/folder name of the format (so a typo gets a clear error)."""
    path = os.path.expanduser(os.fspath(path))
    if os.path.exists(path):
        return find_cifar_binary(path) is not None
    name = os.path.basename(path.rstrip(os.sep))
    names = {n for fmt in CIFAR_BINARY_FORMATS.values() for n in (fmt.archive, fmt.folder)}
    return name in names or name.endswith(ARCHIVE_SUFFIXES)


def _read_folder(location: CifarBinaryLocation) -> dict[str, np.ndarray]:
    """{file name: its bytes} of the .bin files in an extracted folder."""
    blocks = {}
    for name in location.format.files:
        file = os.path.join(location.path, name)
        if not os.path.isfile(file):
            raise DatasetUnavailableError(
                f"{file}: missing; {location.format.title} binary data needs {', '.join(location.format.files)}."
            )
        blocks[name] = np.fromfile(file, np.uint8)
    return blocks


def _read_archive(location: CifarBinaryLocation) -> dict[str, np.ndarray]:
    """{file name: its bytes} of the .bin members of a tar(.gz) archive, read as a stream."""
    fmt = location.format
    wanted = {f"{fmt.folder}/{name}": name for name in fmt.files} | {name: name for name in fmt.files}
    blocks: dict[str, np.ndarray] = {}
    try:
        with tarfile.open(location.path, "r|*") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                if name and member.isfile() and name not in blocks:
                    blocks[name] = np.frombuffer(tar.extractfile(member).read(), np.uint8)
                    if len(blocks) == len(fmt.files):
                        break
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise ValueError(
            f"{location.path}: not a readable tar archive ({type(error).__name__}: {error}); "
            f"expected {fmt.title}'s binary archive {fmt.archive}."
        ) from None
    missing = [f"{fmt.folder}/{name}" for name in fmt.files if name not in blocks]
    if missing:
        raise DatasetUnavailableError(
            f"{location.path}: {', '.join(missing)} missing from the archive; {fmt.title} binary data "
            f"needs {', '.join(fmt.files)} in {fmt.folder}/."
        )
    return blocks


def _parse_records(raw: np.ndarray, fmt: CifarBinaryFormat, labels: str, where: str):
    """(images uint8 [N, 32, 32, 3], labels int32 [N]) of one file's bytes; ValueError naming
    `where` if it is not a whole number of records or a label is out of range."""
    if raw.size == 0 or raw.size % fmt.record_bytes:
        raise ValueError(
            f"{where}: {raw.size} bytes is not a whole, non-zero number of {fmt.record_bytes}-byte "
            f"{fmt.title} records ({fmt.label_bytes} label byte(s) + {IMAGE_BYTES} pixel bytes); "
            "the file is truncated or not in this format."
        )
    records = raw.reshape(-1, fmt.record_bytes)
    for kind, (offset, classes) in fmt.labels.items():
        bad = np.flatnonzero(records[:, offset] >= classes)
        if bad.size:
            raise ValueError(
                f"{where}: record {bad[0]} has {kind} label {records[bad[0], offset]}, outside "
                f"0..{classes - 1} ({bad.size} such records); the file is corrupt or not {fmt.title}."
            )
    images = records[:, fmt.label_bytes :].reshape(-1, *IMAGE_SHAPE).transpose(0, 2, 3, 1)  # NCHW -> NHWC
    return np.ascontiguousarray(images), records[:, fmt.labels[labels][0]].astype(np.int32)


def _where(location: CifarBinaryLocation, name: str) -> str:
    """How error messages name file `name` of `location`."""
    if location.is_archive:
        return f"{location.path}: {location.format.folder}/{name}"
    return os.path.join(location.path, name)


def _split(blocks: dict[str, np.ndarray], names: tuple[str, ...], location: CifarBinaryLocation, labels: str):
    """(images, labels) of the files `names` (a split), concatenated in order."""
    parts = [_parse_records(blocks[name], location.format, labels, _where(location, name)) for name in names]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _not_found(path: str, formats: list[CifarBinaryFormat]) -> str:
    """The one line saying that `path` holds none of `formats`, and what it should hold."""
    expanded = os.path.expanduser(path)
    if not os.path.exists(expanded):
        state = "does not exist"
    elif os.path.isfile(expanded):
        state = "is not a CIFAR binary archive (neither its name nor its members are CIFAR-10's or CIFAR-100's)"
    else:
        state = "holds no CIFAR binary data"
    expected = "; ".join(f"{f.archive} or its folder {f.folder}/ ({', '.join(f.files)})" for f in formats)
    return f"{path}: {state}; expected {expected}, or a folder containing one."


def load_cifar_binary(path: PathLike, dataset: str | None = None, *, labels: str = "fine"):
    """(x_train, y_train, x_test, y_test) of CIFAR-10/100 binary data at `path` (see
    `find_cifar_binary`): uint8 NHWC [N, 32, 32, 3] images and int32 labels. `labels`: "fine"
    (CIFAR-10's labels; CIFAR-100's 100 classes, as trained on in the library) or "coarse"
    (CIFAR-100's 20 superclasses). DatasetUnavailableError if the data are absent, ValueError if
    they are malformed; either is one line naming the file."""
    formats = _formats(dataset)
    if labels not in LABEL_KINDS:
        raise ValueError(f"labels={labels!r} is not allowed; use one of {LABEL_KINDS}.")
    location = find_cifar_binary(path, dataset)
    if location is None:
        raise DatasetUnavailableError(_not_found(os.fspath(path), formats))
    fmt = location.format
    if labels not in fmt.labels:
        raise ValueError(f"labels={labels!r} is not allowed for {fmt.dataset}; use one of {tuple(fmt.labels)}.")
    blocks = _read_archive(location) if location.is_archive else _read_folder(location)
    return (*_split(blocks, fmt.train_files, location, labels), *_split(blocks, fmt.test_files, location, labels))
