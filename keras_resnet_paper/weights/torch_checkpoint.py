"""Reader and writer of torchvision-layout ResNet checkpoints (safetensors, NumPy .npz, or a file
torch.save wrote, read by `torch_format`; no torch).

Names of a torchvision state dict and our layers:

=====================================  ==========================================
torchvision                            keras_resnet_paper
=====================================  ==========================================
``conv1.weight`` (O, I, H, W)          ``conv1_conv`` kernel (H, W, I, O)
``bn1.{weight,bias,running_mean,       ``conv1_bn`` {gamma, beta, moving_mean,
running_var}``                         moving_variance}
``layer{s}.{i}.conv{k}.weight``        ``conv{s+1}_block{i+1}_{k}_conv``
``layer{s}.{i}.bn{k}.*``               ``conv{s+1}_block{i+1}_{k}_bn``
``layer{s}.{i}.downsample.0.weight``   ``conv{s+1}_block{i+1}_0_conv`` (projection)
``layer{s}.{i}.downsample.1.*``        ``conv{s+1}_block{i+1}_0_bn``
``fc.weight`` (out, in), ``fc.bias``   ``predictions`` kernel (in, out), bias
=====================================  ==========================================

``*.num_batches_tracked`` (a training counter with no effect on the outputs) is ignored.

Numerically equivalent combinations (same outputs up to float32 rounding; logits, since torchvision
has no softmax: build with ``classifier_activation=None`` to compare logits):

- torchvision ``resnet18`` / ``resnet34`` (every release) = ``ResNet18`` / ``ResNet34`` with
  option B (the default), ``bn_epsilon=1e-5`` (the default). Basic blocks have one geometry.
- torchvision ``resnet50`` / ``resnet101`` / ``resnet152`` (every release, IMAGENET1K_V1 and V2;
  also timm's plain ``resnet50`` family) put the stride-2 of a downsampling bottleneck on the 3x3
  ("v1.5") = our builders with ``stride_in_1x1=False``, option B, ``bn_epsilon=1e-5``:
  ``source_layout="torchvision"`` (the default) and refused for a ``stride_in_1x1=True`` model.
- A port of the authors' Caffe models to torchvision names (stride on the 1x1) = the default
  ``stride_in_1x1=True``; load it with ``source_layout="caffe"``.
- The builders build the geometry of the file by themselves (`source_layout` passes through
  them); a file this package wrote records its layout (safetensors ``__metadata__``, an .npz
  entry ``__metadata__.source_layout``), so it is recognised without the argument.
- A model without a head (``include_top=False``) leaves out a checkpoint's ``fc.*`` (logged).
- Always: symmetric padding (explicit ``ZeroPadding2D`` + "valid" in our stem and stride-2 3x3,
  PyTorch's ``padding=1/3``) and the max pool's zero padding after a ReLU equal PyTorch's.
  Use the ``"torch"`` preprocessing of these weights (RGB / 255, ImageNet mean and std).
- Not equivalent, refused by the name/shape check: option A or C models, plain nets, CIFAR nets,
  ResNeXt / wide ResNets, deep-stem (v1c/v1d) variants.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from keras_resnet_paper.graph import option_a_placement
from keras_resnet_paper.weights.architecture import detect_stride_in_1x1, leaf_layers, short_name
from keras_resnet_paper.weights.assign import assign_all
from keras_resnet_paper.weights.errors import WeightsFileError, WeightsMismatchError
from keras_resnet_paper.weights.safetensors_io import (
    SafetensorsError,
    read_safetensors,
    read_safetensors_metadata,
    write_safetensors,
)
from keras_resnet_paper.weights.torch_format import inspect_torch_file, is_torch_file, read_torch_file

log = logging.getLogger(__name__)

#: Our BatchNormalization variables -> torchvision's.
BN_NAMES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
#: Stride placement each source layout uses in downsampling bottlenecks.
SOURCE_LAYOUTS = {"torchvision": False, "caffe": True}
IGNORED_SUFFIXES = ("num_batches_tracked",)
#: Entries of a checkpoint that are not tensors of the model: metadata this package writes.
METADATA_PREFIX = "__metadata__."
HEAD = ("fc.weight", "fc.bias")

_BLOCK = re.compile(r"^conv(\d+)_block(\d+)_(\d)_(conv|bn)$")


def _torch_prefix(layer_name: str) -> str | None:
    """Our layer name -> torchvision module prefix (None if it has no torchvision counterpart)."""
    if layer_name == "conv1_conv":
        return "conv1"
    if layer_name == "conv1_bn":
        return "bn1"
    if layer_name == "predictions":
        return "fc"
    m = _BLOCK.match(layer_name)
    if not m:
        return None
    stage, block, k, kind = int(m[1]), int(m[2]), int(m[3]), m[4]
    base = f"layer{stage - 1}.{block - 1}"
    if k == 0:
        return f"{base}.downsample.{0 if kind == 'conv' else 1}"
    return f"{base}.{kind}{k}"


def torchvision_mapping(model) -> dict[str, tuple[Any, str]]:
    """{torchvision tensor name: (our variable, kind)} covering every variable of `model`.

    kind is "conv" (OIHW <-> HWIO), "dense" ((out, in) <-> (in, out)) or "vector".
    Raises `WeightsMismatchError` for a layer with weights and no torchvision counterpart.
    """
    import keras

    mapping: dict[str, tuple[Any, str]] = {}
    for layer in leaf_layers(model):
        if not layer.weights:
            continue
        prefix = _torch_prefix(layer.name)
        if prefix is None:
            raise WeightsMismatchError(
                f"Layer {layer.name!r} of model {model.name!r} has no torchvision counterpart "
                "(only ImageNet ResNets with option B map onto torchvision checkpoints)."
            )
        for var in layer.weights:
            short = short_name(var.path)
            if isinstance(layer, keras.layers.BatchNormalization):
                mapping[f"{prefix}.{BN_NAMES[short]}"] = (var, "vector")
            elif short == "kernel":
                kind = "conv" if len(var.shape) == 4 else "dense"
                mapping[f"{prefix}.weight"] = (var, kind)
            else:
                mapping[f"{prefix}.{short}"] = (var, "vector")
    return mapping


def _to_keras(value: np.ndarray, kind: str) -> np.ndarray:
    if kind == "conv" and value.ndim == 4:
        return value.transpose(2, 3, 1, 0)
    if kind == "dense" and value.ndim == 2:
        return value.T
    return value


def _to_torch(value: np.ndarray, kind: str) -> np.ndarray:
    if kind == "conv":
        return value.transpose(3, 2, 0, 1)
    if kind == "dense":
        return value.T
    return value


def _npz_entries(path: str, metadata_only: bool = False) -> dict[str, np.ndarray]:
    """The arrays of an .npz file (only its metadata entries if asked), read without pickle."""
    if not zipfile.is_zipfile(path):
        raise WeightsFileError(
            f"Cannot read {path!r} as .npz: it is not a zip archive "
            f"({os.path.getsize(path)} bytes, truncated or another format)."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            names = [k for k in data.files if k.startswith(METADATA_PREFIX) or not metadata_only]
            return {k: np.asarray(data[k]) for k in names}
    except ValueError as err:
        if "pickle" not in str(err):
            raise WeightsFileError(f"Cannot read {path!r} as .npz: {err}") from None
        raise WeightsFileError(
            f"Cannot read {path!r} as .npz: it holds Python objects, which are never unpickled; "
            "save numeric arrays only, e.g. np.savez(path, **{k: v.numpy() for k, v in state_dict.items()})."
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise WeightsFileError(f"Cannot read {path!r} as .npz (truncated?): {err}") from None


def _split_metadata(entries: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    tensors = {k: v for k, v in entries.items() if not k.startswith(METADATA_PREFIX)}
    return tensors, {k[len(METADATA_PREFIX) :]: str(v) for k, v in entries.items() if k.startswith(METADATA_PREFIX)}


def _check_suffix(path: str) -> None:
    if not path.lower().endswith((".safetensors", ".npz")):
        raise WeightsFileError(
            f"{path!r}: a torchvision-layout checkpoint must be .safetensors or .npz "
            "(export a .pth with torch: safetensors.torch.save_file(state_dict) or np.savez)."
        )


def checkpoint_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata a checkpoint records (its header only is read; of a `torch.save` file, the
    object but not the storages); `WeightsFileError` if unreadable."""
    path = os.fspath(path)
    if is_torch_file(path):
        inspect_torch_file(path)
        return {}  # its plain values (epoch, accuracy) say nothing of the layout
    _check_suffix(path)
    if path.lower().endswith(".npz"):
        return _split_metadata(_npz_entries(path, metadata_only=True))[1]
    try:
        return read_safetensors_metadata(path)
    except SafetensorsError as err:
        raise WeightsFileError(f"Cannot read {path!r} as safetensors: {err}") from None


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of a .safetensors, .npz or `torch.save` checkpoint; `WeightsFileError`
    if unreadable."""
    path = os.fspath(path)
    if is_torch_file(path):
        return read_torch_file(path).tensors, {}
    _check_suffix(path)
    if path.lower().endswith(".npz"):
        return _split_metadata(_npz_entries(path))
    try:
        return read_safetensors(path), read_safetensors_metadata(path)
    except SafetensorsError as err:
        raise WeightsFileError(f"Cannot read {path!r} as safetensors: {err}") from None


def read_state_dict(source: str | os.PathLike | Mapping[str, Any]) -> dict[str, np.ndarray]:
    """{name: array} from a .safetensors file, an .npz file (allow_pickle=False) or a mapping."""
    if isinstance(source, Mapping):
        return {str(k): np.asarray(v) for k, v in source.items()}
    return read_checkpoint(source)[0]


def resolve_source_layout(
    path: str | os.PathLike, source_layout: str | None = None, metadata: Mapping[str, str] | None = None
) -> str:
    """The layout of a checkpoint: `source_layout`, else what the file records, else "torchvision"."""
    if source_layout is not None and source_layout not in SOURCE_LAYOUTS:
        raise ValueError(f"source_layout={source_layout!r}; allowed: {sorted(SOURCE_LAYOUTS)}.")
    recorded = (checkpoint_metadata(path) if metadata is None else metadata).get("source_layout")
    if recorded is not None and recorded not in SOURCE_LAYOUTS:
        raise WeightsFileError(f"{os.fspath(path)!r} records an unknown source_layout {recorded!r}.")
    if source_layout is not None and recorded is not None and source_layout != recorded:
        raise ValueError(
            f"source_layout={source_layout!r} contradicts {os.fspath(path)!r}, which "
            f"records source_layout={recorded!r}."
        )
    return source_layout or recorded or "torchvision"


def _check_geometry(model, source_layout: str) -> None:
    if source_layout not in SOURCE_LAYOUTS:
        raise ValueError(f"source_layout={source_layout!r}; allowed: {sorted(SOURCE_LAYOUTS)}.")
    stride = detect_stride_in_1x1(model)
    want = SOURCE_LAYOUTS[source_layout]
    if stride is not None and stride != want:
        raise WeightsMismatchError(
            f"A {source_layout!r}-layout bottleneck checkpoint strides on the "
            f"{'1x1' if want else '3x3'} but model {model.name!r} has stride_in_1x1={stride}: "
            f"build it with stride_in_1x1={want}" + (" (torchvision's v1.5)." if not want else ".")
        )


def _without_head(model, given: dict[str, np.ndarray], mapping: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """A model without a head (include_top=False) leaves out the checkpoint's fc.*, and logs it."""
    dropped = [name for name in HEAD if name in given and name not in mapping]
    if dropped:
        log.info(
            "Model %r has no head (include_top=False): leaving out the checkpoint's %s.", model.name, ", ".join(dropped)
        )
    return {k: v for k, v in given.items() if k not in dropped}


def _mismatch_message(model, missing, extra, misshaped) -> str:
    parts = []
    for title, items in (("missing", missing), ("unexpected", extra), ("mis-shaped", misshaped)):
        if items:
            parts.append(f"{len(items)} {title}: " + ", ".join(items[:20]) + (" ..." if len(items) > 20 else ""))
    return f"torchvision checkpoint does not match model {model.name!r}; nothing was loaded. " + "; ".join(parts)


#: The classifier of akamaster/pytorch_resnet_cifar10's CIFAR nets (torchvision's is `fc`).
CIFAR_HEAD = "linear"


def is_cifar_layout(names) -> bool:
    """Whether a state dict's names are those of the CIFAR ResNets of akamaster/pytorch_resnet_cifar10
    (`conv1`, `bn1`, `layer1..3`, `linear`; option A with zero channels on both sides)."""
    names = set(names)
    return (
        f"{CIFAR_HEAD}.weight" in names and "fc.weight" not in names and not any(n.startswith("layer4.") for n in names)
    )


def checkpoint_zero_padding(weights) -> str | None:
    """ "both" if `weights` is a checkpoint file in that CIFAR layout (its option-A zero channels
    on both sides), else None. Reads the file; an unreadable one is left to `load_weights`."""
    path = os.fspath(weights)
    if not os.path.isfile(path) or not (is_torch_file(path) or path.lower().endswith((".safetensors", ".npz"))):
        return None
    try:  # the names only where the format allows (a torch.save file: its object, not its storages)
        names = inspect_torch_file(path)[0] if is_torch_file(path) else read_checkpoint(path)[0]
    except WeightsFileError:
        return None
    return "both" if is_cifar_layout(names) else None


def _cifar_names(model, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A CIFAR-layout state dict under torchvision's names (`linear` -> `fc`), after checking that
    `model`'s option-A shortcuts put their zero channels on both sides as those nets were trained."""
    after = [layer.name for layer in leaf_layers(model) if option_a_placement(layer) == "after"]
    if after:
        raise WeightsMismatchError(
            f"A CIFAR checkpoint of akamaster/pytorch_resnet_cifar10's layout was trained with option A's zero "
            f"channels on both sides, but model {model.name!r} pads after ({after[0]}): build it with "
            "zero_padding='both' (cifar_resnet does so by itself when given the file as weights=)."
        )
    head = CIFAR_HEAD + "."
    return {("fc." + k[len(head) :] if k.startswith(head) else k): v for k, v in tensors.items()}


def convert_torchvision(model, state_dict: Mapping[str, Any] | str | os.PathLike, source_layout: str | None = None):
    """Match a torchvision-layout state dict onto `model`: [(variable, value)], nothing assigned.

    The file is read first (an unreadable one is a `WeightsFileError` naming it); then the
    geometry and every tensor are checked: `WeightsMismatchError` lists every missing, extra and
    mis-shaped tensor.
    """
    if isinstance(state_dict, Mapping):
        tensors, layout = read_state_dict(state_dict), source_layout or "torchvision"
    else:
        tensors, metadata = read_checkpoint(state_dict)
        layout = resolve_source_layout(state_dict, source_layout, metadata)
    if is_cifar_layout(tensors):
        tensors = _cifar_names(model, tensors)
    _check_geometry(model, layout)
    mapping = torchvision_mapping(model)
    given = _without_head(model, {k: v for k, v in tensors.items() if not k.endswith(IGNORED_SUFFIXES)}, mapping)
    missing = [name for name in mapping if name not in given]
    extra = [name for name in given if name not in mapping]
    misshaped = []
    assignments = []
    for name, (var, kind) in mapping.items():
        if name not in given:
            continue
        value = _to_keras(np.asarray(given[name]), kind)
        if tuple(value.shape) != tuple(var.shape):
            misshaped.append(
                f"{name}: {tuple(np.shape(given[name]))} in the checkpoint, expected "
                f"{tuple(_to_torch(np.zeros(var.shape), kind).shape)}"
            )
            continue
        assignments.append((var, value.astype(np.float32)))
    if missing or extra or misshaped:
        raise WeightsMismatchError(_mismatch_message(model, missing, extra, misshaped))
    return assignments


def load_torchvision_weights(model, source, source_layout: str | None = None):
    """Load a torchvision-layout checkpoint (path to .safetensors/.npz, or a mapping) into `model`.

    `source_layout`: "torchvision" (stride on the 3x3) or "caffe"; None: what a file records,
    else "torchvision".
    """
    where = "a state dict" if isinstance(source, Mapping) else os.fspath(source)
    assign_all(convert_torchvision(model, source, source_layout), where)
    return model


def to_torchvision_state_dict(model, include_num_batches_tracked: bool = True) -> dict[str, np.ndarray]:
    """The reverse mapping: `model`'s weights as a torchvision-layout {name: array} state dict."""
    out = {}
    for name, (var, kind) in torchvision_mapping(model).items():
        out[name] = np.ascontiguousarray(_to_torch(np.asarray(var.numpy()), kind))
        if include_num_batches_tracked and name.endswith(".running_var"):
            out[name[: -len("running_var")] + "num_batches_tracked"] = np.array(0, dtype=np.int64)
    return out


def save_torchvision_checkpoint(model, path: str | os.PathLike) -> None:
    """Export `model` as a torchvision-layout .safetensors or .npz file that records its layout."""
    state = to_torchvision_state_dict(model)
    layout = "caffe" if detect_stride_in_1x1(model) else "torchvision"
    path = os.fspath(path)
    if path.lower().endswith(".safetensors"):
        write_safetensors(
            path, state, metadata={"format": "pt", "source": "keras_resnet_paper", "source_layout": layout}
        )
    elif path.lower().endswith(".npz"):
        np.savez(path, **state, **{METADATA_PREFIX + "source_layout": np.array(layout)})
    else:
        raise ValueError(f"{path!r}: use a .safetensors or .npz file name.")
