"""The release registry: each published set of weights as one record, as timm's pretrained configs
and torchvision's `Weights` enums keep them.

A `Release` holds the files (name and pinned hash, with and without the classifier), where they
are published, the architecture they need (stride placement, shortcut option, BN epsilon), their
input convention (`Preprocessing`), the accuracy they should reach, their source and licence.

The ImageNet releases are keras.applications' ResNet-50/101/152, converted from the authors'
released Caffe models: option B shortcuts (Sec. 3.3), the stride of a downsampling bottleneck on
its first 1x1, BN epsilon 1.001e-5, Caffe preprocessing. `registered(...)` adds or replaces
records for the duration of a `with` block (a local mirror's own files, tests).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from typing import Any

from keras_resnet_paper.models import names
from keras_resnet_paper.weights.architecture import Architecture
from keras_resnet_paper.weights.conventions import CAFFE, Preprocessing

__all__ = [
    "ReleaseFile",
    "Release",
    "LabelSet",
    "RELEASES",
    "LABEL_SETS",
    "PRETRAINED_CONFIGS",
    "registered",
    "get_release",
    "get_label_set",
    "available_weights",
    "is_registered_tag",
    "get_pretrained_config",
    "builder_overrides",
    "normalize_model_name",
]


@dataclasses.dataclass(frozen=True)
class ReleaseFile:
    """One published file: its name and pinned hash (md5: 32 hex digits, sha256: 64)."""

    file_name: str
    file_hash: str


@dataclasses.dataclass(frozen=True)
class Release:
    """One set of published weights for one model (e.g. resnet50 "imagenet")."""

    model: str
    tag: str
    top_file: ReleaseFile
    notop_file: ReleaseFile | None
    base_url: str
    layout: str
    architecture: Architecture
    preprocessing: Preprocessing
    num_classes: int
    label_set: str
    top1: float  # accuracy %, single centre crop (as its source reports it)
    top5: float
    paper_top1_error_10crop: float | None  # Table 3 of the paper, 10-crop testing, %
    paper_top5_error_10crop: float | None
    source: str
    license: str

    def file(self, include_top: bool = True) -> ReleaseFile:
        """The file with the classifier (include_top=True) or without it."""
        if include_top or self.notop_file is None:
            return self.top_file
        return self.notop_file

    def url(self, include_top: bool = True, base_url: str | None = None) -> str:
        """Where the file is published (under `base_url` instead, for a mirror)."""
        base = base_url or self.base_url
        return base.rstrip("/") + "/" + self.file(include_top).file_name

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict (nested records as dicts too)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class LabelSet:
    """The classes a release predicts: a name and the class index file ({"0": [wnid, name], ...})."""

    name: str
    class_index: ReleaseFile
    base_url: str


#: The class index keras.applications' `decode_predictions` uses, with its pinned md5.
LABEL_SETS: tuple[LabelSet, ...] = (
    LabelSet(
        "imagenet-1k",
        ReleaseFile("imagenet_class_index.json", "c2c37ea517e94d9795004a39431a14cb"),
        "https://storage.googleapis.com/download.tensorflow.org/data/",
    ),
)

#: Where keras.applications publishes its ResNet ImageNet weights (keras/src/applications/resnet.py).
KERAS_APPLICATIONS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"

_AUTHORS_RELEASE = dict(
    tag="imagenet",
    base_url=KERAS_APPLICATIONS_BASE_URL,
    layout="keras_applications_h5",
    architecture=Architecture(stride_in_1x1=True, shortcut="B", bn_epsilon=1.001e-5),
    preprocessing=CAFFE,
    num_classes=1000,
    label_set="imagenet-1k",
    source="keras.applications ResNet, converted from the authors' released Caffe models",
    license="MIT (authors' models, github.com/KaimingHe/deep-residual-networks)",
)


def _keras_file(depth: int, suffix: str, file_hash: str) -> ReleaseFile:
    return ReleaseFile(f"resnet{depth}_weights_tf_dim_ordering_tf_kernels{suffix}.h5", file_hash)


#: The registered releases. Hashes are keras.applications' (md5); accuracies are keras.applications'
#: single-crop figures, the paper's are its 10-crop errors (Table 3).
RELEASES: tuple[Release, ...] = (
    Release(
        model="resnet50",
        **_AUTHORS_RELEASE,
        top_file=_keras_file(50, "", "2cb95161c43110f7111970584f804107"),
        notop_file=_keras_file(50, "_notop", "4d473c1dd8becc155b73f8504c6f6626"),
        top1=74.9,
        top5=92.1,
        paper_top1_error_10crop=22.85,
        paper_top5_error_10crop=6.71,
    ),
    Release(
        model="resnet101",
        **_AUTHORS_RELEASE,
        top_file=_keras_file(101, "", "f1aeb4b969a6efcfb50fad2f0c20cfc5"),
        notop_file=_keras_file(101, "_notop", "88cf7a10940856eca736dc7b7e228a21"),
        top1=76.4,
        top5=92.8,
        paper_top1_error_10crop=21.75,
        paper_top5_error_10crop=6.05,
    ),
    Release(
        model="resnet152",
        **_AUTHORS_RELEASE,
        top_file=_keras_file(152, "", "100835be76be38e30d865e96f2aaae62"),
        notop_file=_keras_file(152, "_notop", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
        top1=76.6,
        top5=93.1,
        paper_top1_error_10crop=21.43,
        paper_top5_error_10crop=5.71,
    ),
)

#: The built-in records as nested dicts, {model: {tag: record as a dict}} (timm's shape).
PRETRAINED_CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    model: {r.tag: r.to_dict() for r in RELEASES if r.model == model}
    for model in dict.fromkeys(r.model for r in RELEASES)
}

_OVERRIDES: contextvars.ContextVar[tuple[Release | LabelSet, ...]] = contextvars.ContextVar("releases", default=())


@contextlib.contextmanager
def registered(*records: Release | LabelSet) -> Iterator[None]:
    """Within the block, `records` are registered, replacing any record of the same model and tag
    (or label set name): a mirror's own files, or files generated by tests.

        with registered(dataclasses.replace(get_release("resnet50"), top_file=..., notop_file=...)):
            model = ResNet50(weights="imagenet")
    """
    for record in records:
        if not isinstance(record, (Release, LabelSet)):
            raise ValueError(f"registered() takes Release or LabelSet records; got {record!r}.")
    token = _OVERRIDES.set(tuple(records) + _OVERRIDES.get())
    try:
        yield
    finally:
        _OVERRIDES.reset(token)


def _all_releases() -> tuple[Release, ...]:
    """Overrides first: the first record of a (model, tag) wins."""
    return tuple(r for r in _OVERRIDES.get() if isinstance(r, Release)) + RELEASES


def get_label_set(name: str = "imagenet-1k") -> LabelSet:
    """The label set `name` (overrides first); ValueError naming the known ones."""
    known = tuple(r for r in _OVERRIDES.get() if isinstance(r, LabelSet)) + LABEL_SETS
    for label_set in known:
        if label_set.name == name:
            return label_set
    raise ValueError(f"label_set={name!r}; known: {sorted({ls.name for ls in known})}.")


def normalize_model_name(model_name: str | None) -> str | None:
    """'ResNet50', 'resnet-50', 'resnet_50' -> 'resnet50' (`models.names`, the one spelling)."""
    return None if model_name is None else names.normalize_model_name(str(model_name))


def available_weights(model_name: str | None = None) -> dict[str, tuple[str, ...]]:
    """{model name: weights tags} of the registry (one model if `model_name` is given)."""
    table: dict[str, tuple[str, ...]] = {}
    for release in _all_releases():
        if release.tag not in table.get(release.model, ()):
            table[release.model] = table.get(release.model, ()) + (release.tag,)
    if model_name is None:
        return table
    name = normalize_model_name(model_name)
    return {name: table.get(name, ())}


def is_registered_tag(weights: Any) -> bool:
    """True for a registry tag such as "imagenet" (as opposed to a path or None)."""
    return isinstance(weights, str) and any(weights == r.tag for r in _all_releases())


def get_release(model_name: str, weights: str = "imagenet") -> Release:
    """The record of release `weights` of `model_name`; ValueError naming what exists if none."""
    name = normalize_model_name(model_name)
    for release in _all_releases():
        if release.model == name and release.tag == weights:
            return release
    offered = ", ".join(f"{m}: {list(t)}" for m, t in available_weights().items())
    raise ValueError(
        f"No weights {weights!r} for model {model_name!r}. Available: {offered}. Any other model "
        "takes weights=None or a path to a weights file."
    )


def get_pretrained_config(model_name: str, weights: str = "imagenet") -> dict[str, Any]:
    """`get_release(...)` as a plain dict, with its `preprocessing` kept as the record."""
    release = get_release(model_name, weights)
    return {**release.to_dict(), "preprocessing": release.preprocessing}


def builder_overrides(model_name: str | None, weights: Any) -> dict[str, Any]:
    """The builder arguments release `weights` needs ({} for None or a path).

    The builders apply them by themselves; passing them again is allowed (equal values).
    """
    if not is_registered_tag(weights):
        return {}
    return get_release(model_name, weights).architecture.builder_arguments()
