"""`load_weights`: recognise what `weights=` names, fetch it, and hand it to the right reader.

`weights` is a registry tag such as ``"imagenet"`` (the release's file is fetched once and checked
against its pinned hash, see `download`) or a path to a file in one of these formats:

- HDF5 in the keras.applications (Keras 2) layout (`keras_applications_h5`);
- a Keras 3 ``.weights.h5`` written by this package (`keras3_h5`);
- a torchvision/timm-layout state dict in ``.safetensors``, ``.npz`` or a file ``torch.save``
  wrote (``.pth``, ``.pt``, ``.th``, ``.bin``, ...: zip or legacy, recognised by content and read by
  `torch_format` without torch) (`torch_checkpoint`).

Whatever the source, the whole file is read and matched against the model before a single
variable is assigned: a mismatch raises `WeightsMismatchError` naming the first mismatching layer,
and the model is untouched. Only safe readers are used (h5py, NumPy with ``allow_pickle=False``,
the safetensors reader of `safetensors_io`, `torch_format`'s restricted unpickler, which builds
only records of its own and refuses every other global). The loaded model gets a
`preprocessing` attribute: the input convention of the weights (`conventions.Preprocessing`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from typing import Any

import h5py

from keras_resnet_paper.validation import check_bool
from keras_resnet_paper.weights.architecture import Architecture, check_model, leaf_by_name
from keras_resnet_paper.weights.conventions import CAFFE, TORCH, Preprocessing
from keras_resnet_paper.weights.download import cache_folder, fetch_file
from keras_resnet_paper.weights.errors import WeightsFileError, WeightsMismatchError
from keras_resnet_paper.weights.keras3_h5 import load_keras3_weights
from keras_resnet_paper.weights.keras_applications_h5 import load_keras_applications_h5
from keras_resnet_paper.weights.releases import Release, available_weights, get_release, is_registered_tag
from keras_resnet_paper.weights.torch_checkpoint import (
    SOURCE_LAYOUTS,
    checkpoint_metadata,
    checkpoint_zero_padding,
    load_torchvision_weights,
    resolve_source_layout,
)
from keras_resnet_paper.weights.torch_format import is_torch_file

log = logging.getLogger(__name__)

__all__ = [
    "ResolvedWeights",
    "resolve_weights",
    "detect_format",
    "locate_weights",
    "fetch_release",
    "required_architecture",
    "load_weights",
]

#: The input convention that goes with each file format when no release names it: every
#: keras.applications ResNet file is the Caffe models' convention, every torchvision/timm one the torch one.
FORMAT_PREPROCESSING: dict[str, Preprocessing | None] = {
    "keras_applications_h5": CAFFE,
    "keras3_weights_h5": None,
    "torch_checkpoint": TORCH,
}
TORCH_SUFFIXES = (".safetensors", ".npz")
PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl")


def detect_h5_layout(path: str) -> str:
    """'keras_applications_h5' (Keras 2 layout) or 'keras3_weights_h5' (Keras 3 save_weights)."""
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            if "layer_names" in root.attrs or "layer_names0" in root.attrs:
                return "keras_applications_h5"
            if "layers" in f or "vars" in f:
                return "keras3_weights_h5"
    except (OSError, KeyError) as err:
        raise WeightsFileError(f"Cannot read {path!r} as HDF5 (truncated or corrupt?): {err}") from None
    raise WeightsFileError(
        f"{path!r} is an HDF5 file in neither known layout (no 'layer_names' attribute of a "
        "keras.applications/Keras 2 weights file, no 'layers' group of a Keras 3 .weights.h5)."
    )


def detect_format(path: str) -> str:
    """'keras_applications_h5', 'keras3_weights_h5' or 'torch_checkpoint', from the file's name and
    first bytes; a file that cannot be read as what it claims is a `WeightsFileError` naming it."""
    if os.path.getsize(path) == 0:
        raise WeightsFileError(f"Cannot read {path!r}: the file is empty (an interrupted download or copy?).")
    lower = path.lower()
    if lower.endswith(TORCH_SUFFIXES) or is_torch_file(path):
        checkpoint_metadata(path)  # reads and checks the container's header
        return "torch_checkpoint"
    if lower.endswith(PICKLE_SUFFIXES):
        raise WeightsFileError(
            f"{path!r} is not a file torch.save wrote (a zip archive with data.pkl, or the legacy stream), "
            "and other pickles are never loaded: save the state dict with torch.save, as safetensors or as .npz."
        )
    if not h5py.is_hdf5(path):
        raise WeightsFileError(
            f"Cannot read {path!r}: it is not an HDF5 file (.h5, .weights.h5), nor a .safetensors or .npz checkpoint."
        )
    return detect_h5_layout(path)


@dataclasses.dataclass(frozen=True)
class ResolvedWeights:
    """What a `weights=` argument means for one model, worked out once: the release (for a tag),
    the local file (a path; a release's file once `fetched`), its format, the `Architecture` the
    weights need of the builder, and their input convention. The builders and `load_weights` use
    only this (docs/DESIGN.md, 'The order in which a model's options are resolved')."""

    weights: Any = None
    release: Release | None = None
    path: str | None = None
    file_format: str | None = None
    source_layout: str | None = None
    architecture: Architecture = Architecture()
    preprocessing: Preprocessing | None = None

    def fetched(
        self, include_top: bool = True, *, base_url: str | None = None, cache_dir: str | None = None
    ) -> ResolvedWeights:
        """The same, with a release's file fetched (once; hash-checked) and its format checked
        against the release's `layout`."""
        if self.release is None or self.path is not None:
            return self
        path = fetch_release(self.release, include_top, base_url=base_url, cache_dir=cache_dir)
        file_format = detect_format(path)
        if LAYOUT_FORMATS[self.release.layout] != file_format:
            raise WeightsFileError(
                f"{path!r} should hold {self.release.model}/{self.release.tag} as a {self.release.layout} file, "
                f"but it is a {file_format} file; delete it so that it is fetched again."
            )
        return dataclasses.replace(self, path=path, file_format=file_format)


#: The file format each release layout is published in.
LAYOUT_FORMATS = {
    "keras_applications_h5": "keras_applications_h5",
    "torchvision": "torch_checkpoint",
    "akamaster_cifar": "torch_checkpoint",
}


def resolve_weights(
    weights: Any, model_name: str | None = None, *, source_layout: str | None = None
) -> ResolvedWeights:
    """Resolve `weights` (None, a registered tag of `model_name`, or a path) without fetching:
    a tag's release and what it needs; a file's format (read now: an unreadable file is a
    `WeightsFileError` before anything is built) and what its layout needs."""
    if source_layout is not None and (weights is None or is_registered_tag(weights)):
        raise _layout_error(source_layout, weights)
    if weights is None:
        return ResolvedWeights()
    if is_registered_tag(weights):
        release = get_release(model_name, weights)
        return ResolvedWeights(weights, release, architecture=release.architecture, preprocessing=release.preprocessing)
    if not isinstance(weights, (str, os.PathLike)) or not os.path.isfile(weights):
        tags = sorted({t for tags in available_weights().values() for t in tags})
        raise ValueError(
            f"weights={weights!r} is neither None, a registered tag ({', '.join(tags)}: "
            "keras_resnet_paper.weights.available_weights()) nor the path of an existing weights file."
        )
    path = os.fspath(weights)
    file_format = detect_format(path)
    if file_format != "torch_checkpoint":
        if source_layout is not None:
            raise _layout_error(source_layout, weights)
        return ResolvedWeights(
            path, path=path, file_format=file_format, preprocessing=FORMAT_PREPROCESSING[file_format]
        )
    layout = resolve_source_layout(path, source_layout)
    needs = Architecture(stride_in_1x1=SOURCE_LAYOUTS[layout], zero_padding=checkpoint_zero_padding(path))
    return ResolvedWeights(path, None, path, file_format, layout, needs, TORCH)


def _layout_error(source_layout: str, weights: Any) -> ValueError:
    return ValueError(
        f"source_layout={source_layout!r} applies to torchvision/timm checkpoints "
        f"(.safetensors, .npz, torch.save files), not to weights={weights!r}."
    )


def locate_weights(
    weights: Any,
    *,
    model_name: str | None = None,
    include_top: bool = True,
    base_url: str | None = None,
    cache_dir: str | None = None,
) -> tuple[str, Release | None]:
    """(local path, release or None) for a registry tag (fetched, hash-checked) or a file path."""
    resolved = resolve_weights(weights, model_name).fetched(include_top, base_url=base_url, cache_dir=cache_dir)
    return resolved.path, resolved.release


def fetch_release(
    release: Release, include_top: bool = True, *, base_url: str | None = None, cache_dir: str | None = None
) -> str:
    """The local path of a release's file (with or without its top), fetched once."""
    return fetch_file(release.file(include_top), release.base_url, base_url=base_url, cache_dir=cache_dir)


def required_architecture(
    weights: Any, model_name: str | None = None, source_layout: str | None = None
) -> Architecture:
    """What `weights` need of the builder's arguments (an empty `Architecture` if nothing)."""
    return resolve_weights(weights, model_name, source_layout=source_layout).architecture


def _check_release(model, release: Release, include_top: bool) -> None:
    """Refuse a built model that the release's shapes would not catch (geometry, classes)."""
    check_model(model, release.architecture, f"Weights {release.model}/{release.tag}")
    top = leaf_by_name(model).get("predictions")
    if include_top and top is not None and top.units != release.num_classes:
        raise WeightsMismatchError(
            f"Weights {release.model}/{release.tag} with include_top=True need "
            f"classes={release.num_classes}, got {top.units}; use include_top=False for a new head."
        )


def _read_into(model, resolved: ResolvedWeights) -> None:
    """Read the resolved file with the reader of its format into `model` (all or nothing)."""
    if resolved.file_format == "torch_checkpoint":
        load_torchvision_weights(model, resolved.path, source_layout=resolved.source_layout)
    elif resolved.file_format == "keras_applications_h5":
        load_keras_applications_h5(model, resolved.path)
    else:
        load_keras3_weights(model, resolved.path)


def _forget_unpinned(release: Release | None, include_top: bool, path: str, cache_dir: str | None) -> None:
    """A downloaded file with no published hash that fails its content check leaves the cache, so
    the next try fetches it again instead of failing on the same bytes."""
    file = None if release is None else release.file(include_top)
    cached = os.path.join(cache_folder(cache_dir), file.file_name) if file is not None else None
    if file is not None and file.file_hash is None and os.path.abspath(path) == os.path.abspath(cached):
        log.warning("Removing %s from the weights cache: it failed its content check.", path)
        with contextlib.suppress(OSError):
            os.remove(path)


def load_weights(
    model,
    weights,
    *,
    model_name: str | None = None,
    include_top: bool = True,
    source_layout: str | None = None,
    release: Release | None = None,
    base_url: str | None = None,
    cache_dir: str | None = None,
):
    """Load `weights` (None, a registry tag such as "imagenet", a file path, or `ResolvedWeights`)
    into `model`.

    `model_name` picks the release of a tag (default: the model's name); `release` names the
    release a local file is (its architecture is checked, its preprocessing attached). For a
    torchvision/timm checkpoint, `source_layout` is "torchvision" (stride on the 3x3, the default)
    or "caffe". `base_url` and `cache_dir` as in `download.fetch_file`. Returns the model, with
    `model.preprocessing` set to the weights' input convention (None if unknown).
    """
    check_bool("include_top", include_top)
    resolved = (
        weights
        if isinstance(weights, ResolvedWeights)
        else resolve_weights(weights, model_name or model.name, source_layout=source_layout)
    )
    if release is not None:
        resolved = dataclasses.replace(resolved, release=release, preprocessing=release.preprocessing)
    if resolved.weights is None:
        return model
    if resolved.release is not None:  # checked before the download
        _check_release(model, resolved.release, include_top)
    resolved = resolved.fetched(include_top, base_url=base_url, cache_dir=cache_dir)
    try:
        _read_into(model, resolved)
    except WeightsFileError:
        _forget_unpinned(resolved.release, include_top, resolved.path, cache_dir)
        raise
    model.preprocessing = resolved.preprocessing
    return model
