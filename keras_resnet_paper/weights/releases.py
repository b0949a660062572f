"""The release registry: each published set of weights as one record, as timm's pretrained configs
and torchvision's `Weights` enums keep them.

A `Release` holds the files (name and pinned hash, with and without the classifier), where they
are published, the architecture they need (stride placement, shortcut option, BN epsilon,
option A's zero-padding placement), their input convention (`Preprocessing`), the accuracy their
source reports beside the paper's figure, their source and licence. Tags (the README's weights table):

- ``"imagenet"``: the authors' released Caffe models for ResNet-50/101/152 (through
  keras.applications: option B, stride on the first 1x1, BN epsilon 1.001e-5, Caffe
  preprocessing); torchvision's first release for ResNet-18/34, of which no authors' model exists.
- ``"imagenet1k_v1"``, ``"imagenet1k_v2"``: torchvision's releases (stride on the 3x3, "v1.5").
- ``"timm"``: timm's best plain ResNet of each depth (ResNet strikes back recipes).
- ``"cifar10"``: the CIFAR-10 nets of Sec. 4.2 trained by akamaster/pytorch_resnet_cifar10.

`registered(...)` adds or replaces records for the duration of a `with` block (a local mirror's
own files, tests).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from typing import Any

from keras_resnet_paper import names
from keras_resnet_paper.paper import CIFAR_PAPER_ERROR, IMAGENET_PAPER_ERROR
from keras_resnet_paper.weights.architecture import Architecture
from keras_resnet_paper.weights.conventions import CAFFE, TORCH, Preprocessing

__all__ = [
    "ReleaseFile",
    "hash_kind",
    "CONTENT_CHECK",
    "Release",
    "LabelSet",
    "RELEASES",
    "LABEL_SETS",
    "PRETRAINED_CONFIGS",
    "registered",
    "get_release",
    "get_label_set",
    "available_weights",
    "released_models",
    "summary",
    "is_registered_tag",
    "get_pretrained_config",
    "builder_overrides",
    "normalize_model_name",
]


#: How a file is checked: its md5 (32 hex digits), its sha256 (64), the first hex digits of its
#: sha256 in the published file name (torch.hub's check, 8 to 31 digits), or, with no hash known
#: (timm's hub files), by its content when it is loaded (`CONTENT_CHECK`).
CONTENT_CHECK = (
    "no published hash: the safetensors header is parsed, every name and shape is matched against the "
    "architecture and every value must be finite before anything is assigned"
)


@dataclasses.dataclass(frozen=True)
class ReleaseFile:
    """One published file: the name it is cached under, its pinned hash (or None, see
    `CONTENT_CHECK`) and, where it differs from that name, its path under the base URL."""

    file_name: str
    file_hash: str | None
    url_path: str | None = None

    def __post_init__(self):
        if "/" in self.file_name or "\\" in self.file_name or self.file_name in ("", ".", ".."):
            raise ValueError(f"file_name={self.file_name!r} must be a bare file name (it names the cached copy).")
        if self.file_hash is not None:
            hash_kind(self.file_hash)  # a ValueError for anything but hex digits of a known length

    @property
    def check(self) -> str:
        """How a download of this file is checked, in words."""
        return CONTENT_CHECK if self.file_hash is None else hash_kind(self.file_hash).replace("-", " ")


def hash_kind(file_hash: str) -> str:
    """ "md5" (32 hex digits), "sha256" (64) or "sha256-prefix" (8 to 31: torch.hub's file-name hash)."""
    digits = str(file_hash).lower()
    if any(c not in "0123456789abcdef" for c in digits) or not (8 <= len(digits) <= 64):
        raise ValueError(
            f"file_hash={file_hash!r}: expected hex digits: an md5 (32), a sha256 (64) or a sha256 prefix (8-31)."
        )
    if len(digits) == 32:
        return "md5"
    if len(digits) == 64:
        return "sha256"
    if len(digits) < 32:
        return "sha256-prefix"
    raise ValueError(f"file_hash={file_hash!r}: {len(digits)} hex digits is neither an md5 (32) nor a sha256 (64).")


@dataclasses.dataclass(frozen=True)
class Release:
    """One set of published weights for one model (e.g. resnet50 "imagenet")."""

    model: str
    tag: str
    top_file: ReleaseFile
    notop_file: ReleaseFile | None
    base_url: str
    layout: str  # the file's format and names: "keras_applications_h5", "torchvision", "akamaster_cifar"
    architecture: Architecture
    preprocessing: Preprocessing
    num_classes: int
    label_set: str
    top1: float  # accuracy %, single centre crop (as its source reports it)
    top5: float | None
    paper_top1_error: float | None  # the paper's figure for this net, %
    paper_top5_error: float | None
    paper_protocol: str  # where the paper's figure comes from and how it was measured
    source: str
    license: str
    note: str = ""

    def file(self, include_top: bool = True) -> ReleaseFile:
        """The file with the classifier (include_top=True) or without it."""
        if include_top or self.notop_file is None:
            return self.top_file
        return self.notop_file

    def url(self, include_top: bool = True, base_url: str | None = None) -> str:
        """Where the file is published (under `base_url` instead, for a mirror)."""
        file = self.file(include_top)
        base = base_url or self.base_url
        return base.rstrip("/") + "/" + (file.url_path or file.file_name)

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
TORCHVISION_BASE_URL = "https://download.pytorch.org/models/"
HUGGINGFACE_BASE_URL = "https://huggingface.co/"
AKAMASTER_BASE_URL = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/"

TABLE3 = "10-crop, Table 3"


def _paper_imagenet(depth: int) -> dict[str, Any]:
    top1, top5 = IMAGENET_PAPER_ERROR[depth]
    protocol = "10-crop, Table 2" if depth == 18 else TABLE3 + (", option B" if depth == 34 else "")
    return dict(paper_top1_error=top1, paper_top5_error=top5, paper_protocol=protocol)


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


def _authors(depth: int, top_md5: str, notop_md5: str, top1: float, top5: float) -> Release:
    stem = f"resnet{depth}_weights_tf_dim_ordering_tf_kernels"
    return Release(
        model=f"resnet{depth}",
        **_AUTHORS_RELEASE,
        top_file=ReleaseFile(stem + ".h5", top_md5),
        notop_file=ReleaseFile(stem + "_notop.h5", notop_md5),
        top1=top1,
        top5=top5,
        **_paper_imagenet(depth),
    )


#: torchvision's ResNets (option B, stride on the 3x3, BN epsilon 1e-5; torchvision's models/resnet.py).
TORCHVISION_ARCHITECTURE = Architecture(stride_in_1x1=False, shortcut="B", bn_epsilon=1e-5)
TORCHVISION_V1 = dataclasses.replace(TORCH, name="torchvision_v1")  # resize 256, centre 224, bilinear
TORCHVISION_V2 = dataclasses.replace(TORCH, name="torchvision_v2", resize_size=232)
#: What every torchvision-layout ImageNet release shares (torchvision's and timm's).
_TORCHVISION_LAYOUT = dict(
    notop_file=None,
    layout="torchvision",
    architecture=TORCHVISION_ARCHITECTURE,
    num_classes=1000,
    label_set="imagenet-1k",
)


def _torchvision(
    depth: int, version: int, file_name: str, top1: float, top5: float, tag: str = "", wide: bool = False
) -> Release:
    """torchvision's release of ResNet-`depth` (or of its Wide ResNet-`depth`-2, not in the paper)."""
    model = f"wide_resnet{depth}_2" if wide else f"resnet{depth}"
    enum = f"Wide_ResNet{depth}_2_Weights" if wide else f"ResNet{depth}_Weights"
    paper = dict(paper_top1_error=None, paper_top5_error=None, paper_protocol="not in the paper")
    return Release(
        model=model,
        tag=tag or f"imagenet1k_v{version}",
        top_file=ReleaseFile(file_name, file_name.rsplit("-", 1)[1].split(".")[0]),
        base_url=TORCHVISION_BASE_URL,
        preprocessing=TORCHVISION_V1 if version == 1 else TORCHVISION_V2,
        **_TORCHVISION_LAYOUT,
        top1=top1,
        top5=top5,
        **(paper if wide else _paper_imagenet(depth)),
        source=f"torchvision {enum}.IMAGENET1K_V{version}",
        license="BSD-3-Clause (torchvision)",
    )


def _timm(depth: int, timm_tag: str, top1: float, top5: float, crop_pct: float = 0.95, mean_std: float | None = None):
    """timm's `resnet{depth}.{timm_tag}`: its hub file `model.safetensors`, cached as
    `timm-resnet{depth}.{timm_tag}.safetensors`; preprocessing of its timm config at 224 (timm
    resizes to floor(224 / crop_pct))."""
    name = f"resnet{depth}.{timm_tag}"
    preprocessing = dataclasses.replace(
        TORCH, name=f"timm_{timm_tag}", crop_pct=crop_pct, resize_size=int(224 / crop_pct), interpolation="bicubic"
    )
    if mean_std is not None:  # timm's ra4 recipes: mean and std 0.5
        preprocessing = dataclasses.replace(preprocessing, mean=(mean_std,) * 3, std=(mean_std,) * 3)
    return Release(
        model=f"resnet{depth}",
        tag="timm",
        top_file=ReleaseFile(f"timm-{name}.safetensors", None, f"timm/{name}/resolve/main/model.safetensors"),
        base_url=HUGGINGFACE_BASE_URL,
        preprocessing=preprocessing,
        **_TORCHVISION_LAYOUT,
        top1=top1,
        top5=top5,
        **_paper_imagenet(depth),
        source=f"timm {name} (hub repository timm/{name}; accuracy from timm's results-imagenet.csv at 224)",
        license="Apache-2.0 (timm)",
    )


#: akamaster/pytorch_resnet_cifar10's test transform: ToTensor, then ImageNet mean and std, at 32x32.
CIFAR_TORCH = dataclasses.replace(TORCH, name="torch_cifar", input_size=(32, 32, 3), crop_pct=1.0)


def _akamaster(depth: int, file_hash: str, test_error: float) -> Release:
    return Release(
        model=f"resnet{depth}",
        tag="cifar10",
        top_file=ReleaseFile(f"resnet{depth}-{file_hash[:8]}.th", file_hash),
        notop_file=None,
        base_url=AKAMASTER_BASE_URL,
        layout="akamaster_cifar",
        architecture=Architecture(shortcut="A", bn_epsilon=1e-5, zero_padding="both"),
        preprocessing=CIFAR_TORCH,
        num_classes=10,
        label_set="cifar-10",
        top1=round(100.0 - test_error, 2),
        top5=None,
        paper_top1_error=CIFAR_PAPER_ERROR[depth],
        paper_top5_error=None,
        paper_protocol="Table 6" + (", best of 5 runs" if depth == 110 else ""),
        source="akamaster/pytorch_resnet_cifar10 (a PyTorch reimplementation of Sec. 4.2)",
        license="BSD-2-Clause (akamaster/pytorch_resnet_cifar10)",
        note="trained on all 50k training images with the paper's schedule, no 45k/5k split of its own; "
        "option A pads on both sides",
    )


#: The registered releases. Accuracies are their sources' own single-crop figures; the paper's
#: are its own (Tables 2, 3 and 6).
RELEASES: tuple[Release, ...] = (
    _authors(50, "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626", 74.9, 92.1),
    _authors(101, "f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21", 76.4, 92.8),
    _authors(152, "100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c", 76.6, 93.1),
    _torchvision(18, 1, "resnet18-f37072fd.pth", 69.758, 89.078, tag="imagenet"),
    _torchvision(34, 1, "resnet34-b627a593.pth", 73.314, 91.420, tag="imagenet"),
    _torchvision(18, 1, "resnet18-f37072fd.pth", 69.758, 89.078),
    _torchvision(34, 1, "resnet34-b627a593.pth", 73.314, 91.420),
    _torchvision(50, 1, "resnet50-0676ba61.pth", 76.130, 92.862),
    _torchvision(101, 1, "resnet101-63fe2227.pth", 77.374, 93.546),
    _torchvision(152, 1, "resnet152-394f9c45.pth", 78.312, 94.046),
    _torchvision(50, 2, "resnet50-11ad3fa6.pth", 80.858, 95.434),
    _torchvision(101, 2, "resnet101-cd907fc2.pth", 81.886, 95.780),
    _torchvision(152, 2, "resnet152-f82ba261.pth", 82.284, 96.002),
    _torchvision(50, 1, "wide_resnet50_2-95faca4d.pth", 78.468, 94.086, wide=True),
    _torchvision(50, 2, "wide_resnet50_2-9ba9bcbe.pth", 81.602, 95.758, wide=True),
    _torchvision(101, 1, "wide_resnet101_2-32ee1156.pth", 78.848, 94.284, wide=True),
    _torchvision(101, 2, "wide_resnet101_2-d733dc28.pth", 82.510, 96.020, wide=True),
    _timm(18, "a1_in1k", 71.504, 90.086),
    _timm(34, "ra4_e3600_r224_in1k", 77.492, 93.498, crop_pct=0.9, mean_std=0.5),
    _timm(50, "a1_in1k", 80.382, 94.598),
    _timm(101, "a1h_in1k", 81.950, 95.760),
    _timm(152, "a1h_in1k", 82.818, 96.124),
    _akamaster(20, "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8", 8.27),
    _akamaster(32, "d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850", 7.37),
    _akamaster(44, "014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4", 6.90),
    _akamaster(56, "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367", 6.61),
    _akamaster(110, "1d1ed7c2", 6.32),
    _akamaster(1202, "f3b1deed", 6.18),
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


def summary(release: Release) -> str:
    """One line: accuracy, the paper's figure, source and licence of `release`."""
    top5 = "" if release.top5 is None else f", top-5 {release.top5:g}%"
    paper = (
        ""
        if release.paper_top1_error is None
        else f"; paper {release.paper_top1_error:g}% error ({release.paper_protocol})"
    )
    return f"top-1 {release.top1:g}%{top5} on {release.label_set}{paper}; {release.source}; {release.license}"


def available_weights(model_name: str | None = None) -> dict[str, dict[str, str]]:
    """{model name: {weights tag: one-line summary (accuracy, the paper's figure, source, licence)}}
    of the registry; with `model_name`, that model's only, under the name as given."""
    table: dict[str, dict[str, str]] = {}
    key = None if model_name is None else normalize_model_name(model_name)
    for release in _all_releases():
        if key is None or normalize_model_name(release.model) == key:
            table.setdefault(release.model if key is None else model_name, {}).setdefault(release.tag, summary(release))
    return table if key is None else {model_name: table.get(model_name, {})}


def released_models(tag: str, label_set: str | None = None) -> list[str]:
    """The models with a release `tag` (of `label_set` only, if given: "imagenet-1k", "cifar-10"),
    shallowest first: `released_models("imagenet1k_v2")` -> ["resnet50", "resnet101", ...]."""
    models = {r.model for r in _all_releases() if r.tag == tag and label_set in (None, r.label_set)}
    return sorted(models, key=lambda m: (len(m), m))


def is_registered_tag(weights: Any) -> bool:
    """True for a registry tag such as "imagenet" (as opposed to a path or None)."""
    return isinstance(weights, str) and any(weights == r.tag for r in _all_releases())


def get_release(model_name: str, weights: str = "imagenet") -> Release:
    """The record of release `weights` of `model_name`; ValueError naming what exists if none."""
    name = normalize_model_name(model_name)
    for release in _all_releases():
        if normalize_model_name(release.model) == name and release.tag == weights:
            return release
    tags = sorted(available_weights(name)[name])
    offered = f"its tags: {tags}" if tags else "it has no registered weights"
    raise ValueError(
        f"No weights {weights!r} for model {model_name!r}; {offered} (every release: "
        "keras_resnet_paper.weights.available_weights()). Any model takes weights=None or a path to a weights file."
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
