"""Pretrained weights: the registry, its metadata, and the loaders behind `weights=`.

Every builder calls `load_weights(model, weights, model_name=..., include_top=...)` once the
model is built and `weights` is not None. `weights` is one of

- ``"imagenet"``: the ImageNet weights of keras.applications' ResNet50/101/152, which were
  converted from the authors' released Caffe models (stride on the first 1x1, option B). The file
  (top or no-top) is fetched once with `keras.utils.get_file` and checked against a pinned hash.
- a path to an HDF5 file in that keras.applications layout (a Keras 2 `save_weights` file:
  root attribute ``layer_names``, one group per layer with attribute ``weight_names``, such as
  ``conv1_conv/kernel:0``). Weights are mapped by layer name onto our (possibly nested) model;
  the conv biases of those files, which our convolutions do not have, are folded exactly into the
  following BatchNormalization's moving mean: BN(Wx + b) with mean m equals BN(Wx) with mean m - b.
- a path to a ``.weights.h5`` file written by this package (Keras 3 `model.save_weights`); it is
  checked against the model's structure first, then loaded by Keras.
- a path to a torchvision-layout checkpoint saved as ``.safetensors`` or ``.npz``
  (see `keras_resnet_paper.models.converters`).

Whatever the source, the whole file is read and matched against the model before a single
variable is assigned: a mismatch (another depth, another shortcut option, another head, a truncated
file) raises `WeightsMismatchError` naming the first mismatching layer, and the model is untouched.
Only safe readers are used (h5py, NumPy with ``allow_pickle=False``, the safetensors reader of
`safetensors_io`); nothing is unpickled.

The metadata of each release (input size, colour order, mean, crop ratio, expected accuracy, the
BN epsilon it was trained with) is kept as data in `PRETRAINED_CONFIGS`, timm-style.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import h5py
import keras
import numpy as np

from keras_resnet_paper.models.graph import iter_layers

# --------------------------------------------------------------------------------------------
# Registry and metadata (data only).
# --------------------------------------------------------------------------------------------

#: Where keras.applications publishes its ResNet ImageNet weights (keras/src/applications/resnet.py).
KERAS_APPLICATIONS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"

#: ImageNet class index used by `decode_predictions` (the file keras.applications uses).
IMAGENET_CLASS_INDEX = {
    "file_name": "imagenet_class_index.json",
    "url": "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
    "file_hash": "c2c37ea517e94d9795004a39431a14cb",
}

#: Preprocessing conventions. "caffe": the authors' Caffe models (and keras.applications' copy):
#: RGB in [0, 255] -> BGR, minus the per-channel ImageNet mean, no scaling.
#: "torch": torchvision's: RGB / 255, minus mean, divided by std.
PREPROCESSING = {
    "caffe": {
        "color_order": "BGR",
        "scale": 1.0,
        "mean": (103.939, 116.779, 123.68),  # B, G, R
        "std": None,
    },
    "torch": {
        "color_order": "RGB",
        "scale": 1.0 / 255.0,
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
    },
}

_COMMON_IMAGENET = {
    "layout": "keras_applications_h5",
    "preprocessing": "caffe",
    "input_size": (224, 224, 3),
    "crop_pct": 0.875,  # resize the shorter side to 256, centre crop 224
    "interpolation": "bilinear",
    "num_classes": 1000,
    "label_set": "imagenet-1k",
    "bn_epsilon": 1.001e-5,  # keras.applications' BN epsilon; parity is exact with it
    "stride_in_1x1": True,  # the authors' Caffe geometry
    "shortcut": "B",
    "source": "keras.applications ResNet, converted from the authors' released Caffe models",
    "license": "MIT (authors' models, github.com/KaimingHe/deep-residual-networks)",
}

#: model name -> weights tag -> metadata. Hashes are keras.applications' (md5, as `get_file` checks).
PRETRAINED_CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "resnet50": {
        "imagenet": {
            **_COMMON_IMAGENET,
            "files": {
                "top": ("resnet50_weights_tf_dim_ordering_tf_kernels.h5",
                        "2cb95161c43110f7111970584f804107"),
                "notop": ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "4d473c1dd8becc155b73f8504c6f6626"),
            },
            "top1": 74.9,  # single 224 crop, accuracy %, as keras.applications reports
            "top5": 92.1,
            "paper_top1_err_10crop": 22.85,
            "paper_top5_err_10crop": 6.71,
        }
    },
    "resnet101": {
        "imagenet": {
            **_COMMON_IMAGENET,
            "files": {
                "top": ("resnet101_weights_tf_dim_ordering_tf_kernels.h5",
                        "f1aeb4b969a6efcfb50fad2f0c20cfc5"),
                "notop": ("resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "88cf7a10940856eca736dc7b7e228a21"),
            },
            "top1": 76.4,
            "top5": 92.8,
            "paper_top1_err_10crop": 21.75,
            "paper_top5_err_10crop": 6.05,
        }
    },
    "resnet152": {
        "imagenet": {
            **_COMMON_IMAGENET,
            "files": {
                "top": ("resnet152_weights_tf_dim_ordering_tf_kernels.h5",
                        "100835be76be38e30d865e96f2aaae62"),
                "notop": ("resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "ee4c566cf9a93f14d82f913c2dc6dd0c"),
            },
            "top1": 76.6,
            "top5": 93.1,
            "paper_top1_err_10crop": 21.43,
            "paper_top5_err_10crop": 5.71,
        }
    },
}


class WeightsMismatchError(ValueError):
    """A weights file that does not fit the model; raised before anything is assigned."""


def normalize_model_name(model_name: str | None) -> str | None:
    """'ResNet50', 'resnet-50', 'resnet_50' -> 'resnet50'."""
    if model_name is None:
        return None
    return re.sub(r"[^a-z0-9]", "", str(model_name).lower())


def available_weights(model_name: str | None = None) -> dict[str, tuple[str, ...]]:
    """{model name: weights tags} of the registry (one model if `model_name` is given)."""
    table = {name: tuple(tags) for name, tags in PRETRAINED_CONFIGS.items()}
    if model_name is None:
        return table
    return {normalize_model_name(model_name): table.get(normalize_model_name(model_name), ())}


def is_registered_tag(weights: Any) -> bool:
    """True for a registry tag such as "imagenet" (as opposed to a path or None)."""
    return isinstance(weights, str) and any(weights in tags for tags in PRETRAINED_CONFIGS.values())


def get_pretrained_config(model_name: str, weights: str = "imagenet") -> dict[str, Any]:
    """The metadata of release `weights` for `model_name` (a copy); ValueError if unknown."""
    name = normalize_model_name(model_name)
    tags = PRETRAINED_CONFIGS.get(name, {})
    if weights not in tags:
        offered = ", ".join(f"{m}: {sorted(t)}" for m, t in PRETRAINED_CONFIGS.items())
        raise ValueError(
            f"No weights {weights!r} for model {model_name!r}. Available: {offered}. Any other "
            "model takes weights=None or a path to a weights file."
        )
    cfg = dict(tags[weights])
    cfg["model_name"] = name
    cfg["tag"] = weights
    cfg["url"] = KERAS_APPLICATIONS_BASE_URL
    return cfg


def builder_overrides(model_name: str | None, weights: Any) -> dict[str, Any]:
    """Builder keyword arguments a registry release needs (e.g. its BN epsilon); {} otherwise.

    Builders apply these to the arguments the user left at their defaults, so that
    `ResNet50(weights="imagenet")` is numerically the converted Caffe model.
    """
    if not is_registered_tag(weights):
        return {}
    cfg = get_pretrained_config(model_name, weights)
    return {"bn_epsilon": cfg["bn_epsilon"], "stride_in_1x1": cfg["stride_in_1x1"], "shortcut": cfg["shortcut"]}


def get_weights_file(model_name: str, weights: str = "imagenet", include_top: bool = True,
                     cache_dir: str | None = None) -> str:
    """Download (once, hash-checked) the registry file and return its local path.

    The file names and cache folder are keras.applications' own, so a file keras.applications
    already downloaded (``~/.keras/models``) is reused without network access.
    """
    cfg = get_pretrained_config(model_name, weights)
    file_name, file_hash = cfg["files"]["top" if include_top else "notop"]
    return keras.utils.get_file(
        file_name,
        cfg["url"] + file_name,
        cache_subdir="models",
        file_hash=file_hash,
        cache_dir=cache_dir,
    )


# --------------------------------------------------------------------------------------------
# Model introspection.
# --------------------------------------------------------------------------------------------


def leaf_layers(model) -> list:
    """All leaf layers of `model` (nested stage/block models included), in graph order."""
    return list(iter_layers(model))


def _leaf_by_name(model) -> dict:
    return {layer.name: layer for layer in leaf_layers(model)}


def _short_name(weight_name: str) -> str:
    """'conv1_conv/kernel:0' -> 'kernel'."""
    return weight_name.split("/")[-1].split(":")[0]


def detect_stride_in_1x1(model) -> bool | None:
    """Where the downsampling bottlenecks of `model` stride: True (1x1), False (3x3), None (n/a)."""
    layers = _leaf_by_name(model)
    for stage in (3, 4, 5):
        first = layers.get(f"conv{stage}_block1_1_conv")
        if first is None or f"conv{stage}_block1_3_conv" not in layers:
            continue
        return tuple(first.strides) != (1, 1)
    return None


def model_bn_epsilon(model) -> float | None:
    for layer in leaf_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            return float(layer.epsilon)
    return None


# --------------------------------------------------------------------------------------------
# Assigning matched arrays (all-or-nothing).
# --------------------------------------------------------------------------------------------


def _mismatch(source: str, model, problems: list[tuple[str, str]]) -> WeightsMismatchError:
    first_layer, first_reason = problems[0]
    lines = [f"  {name}: {reason}" for name, reason in problems[1:11]]
    more = len(problems) - 11
    if more > 0:
        lines.append(f"  ... and {more} more")
    rest = ("\nOther mismatches:\n" + "\n".join(lines)) if lines else ""
    return WeightsMismatchError(
        f"Weights {source!r} do not match model {model.name!r}: first mismatching layer "
        f"{first_layer!r}: {first_reason}. Nothing was loaded (check depth, shortcut option, "
        f"include_top/classes).{rest}"
    )


def assign_all(assignments: list[tuple[Any, np.ndarray]]) -> None:
    """Assign (variable, value) pairs; restores the previous values if any assignment fails."""
    backup = [(var, np.array(var.numpy())) for var, _ in assignments]
    try:
        for var, value in assignments:
            var.assign(np.asarray(value, dtype=var.dtype))
    except Exception:
        for var, value in backup:
            var.assign(value)
        raise


# --------------------------------------------------------------------------------------------
# keras.applications (Keras 2 `save_weights`) HDF5 layout.
# --------------------------------------------------------------------------------------------


def _h5_attr_list(group, name: str) -> list[str]:
    """A string-list attribute, possibly chunked as name0, name1, ... (Keras 2 convention)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


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
        raise WeightsMismatchError(
            f"Cannot read weights file {path!r} as HDF5 (truncated or corrupt?): {err}"
        ) from err
    raise WeightsMismatchError(
        f"{path!r} is an HDF5 file in neither known layout (no 'layer_names' attribute of a "
        "keras.applications/Keras 2 weights file, no 'layers' group of a Keras 3 .weights.h5)."
    )


def read_keras_applications_h5(path: str) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """Read a Keras 2 layout weights file: (layer order, {layer: {short weight name: array}})."""
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            order = _h5_attr_list(root, "layer_names")
            arrays: dict[str, dict[str, np.ndarray]] = {}
            for layer_name in order:
                group = root[layer_name]
                names = _h5_attr_list(group, "weight_names")
                if names:
                    arrays[layer_name] = {_short_name(n): np.asarray(group[n]) for n in names}
    except (OSError, KeyError, ValueError) as err:
        raise WeightsMismatchError(
            f"Cannot read weights file {path!r} (truncated or corrupt?): {err}. Nothing was loaded."
        ) from err
    return [n for n in order if n in arrays], arrays


def _bn_after(conv_name: str) -> str | None:
    return conv_name[: -len("_conv")] + "_bn" if conv_name.endswith("_conv") else None


def match_by_name(model, order: list[str], arrays: dict[str, dict[str, np.ndarray]],
                  source: str) -> list[tuple[Any, np.ndarray]]:
    """Match {layer: {weight: array}} onto the model's layers by name.

    Conv biases absent from the model are folded into the following BN's moving mean. Returns the
    assignments; raises `WeightsMismatchError` (listing the problems in model order) on mismatch.
    """
    problems: list[tuple[str, str]] = []
    values: dict[int, tuple[Any, np.ndarray]] = {}
    folds: list[tuple[str, str, np.ndarray]] = []  # (conv, bn, bias)
    layers = [layer for layer in leaf_layers(model) if layer.weights]
    by_name = {layer.name: layer for layer in layers}
    for layer in layers:
        entry = arrays.get(layer.name)
        if entry is None:
            problems.append((layer.name, "has weights in the model but none in the file"))
            continue
        own = {_short_name(v.path if hasattr(v, "path") else v.name): v for v in layer.weights}
        missing = sorted(set(own) - set(entry))
        extra = sorted(set(entry) - set(own))
        if "bias" in extra and "kernel" in own and "bias" not in own:
            extra.remove("bias")
            bn = _bn_after(layer.name)
            if bn is None or bn not in by_name or bn not in arrays:
                problems.append((layer.name, "the file has a conv bias the model lacks and there "
                                             "is no following BatchNormalization to fold it into"))
            else:
                folds.append((layer.name, bn, entry["bias"]))
        if missing or extra:
            problems.append((layer.name, f"weights differ: model has {sorted(own)}, file has "
                                         f"{sorted(entry)}"))
            continue
        for short, var in own.items():
            value = entry[short]
            if tuple(value.shape) != tuple(var.shape):
                problems.append((layer.name, f"'{short}' has shape {tuple(value.shape)} in the "
                                             f"file but {tuple(var.shape)} in the model"))
                break
            values[id(var)] = (var, value)
    for name in order:
        if name not in by_name:
            problems.append((name, "is in the file but not in the model"))
    for conv, bn, bias in folds:
        var = next(v for v in by_name[bn].weights if _short_name(v.path) == "moving_mean")
        if id(var) in values and values[id(var)][1].shape == bias.shape:
            mean = values[id(var)][1].astype(np.float64) - bias.astype(np.float64)
            values[id(var)] = (var, mean.astype(np.float32))
        elif not any(p[0] in (bn, conv) for p in problems):
            problems.append((conv, f"bias of shape {bias.shape} cannot fold into {bn}"))
    if problems:
        raise _mismatch(source, model, problems)
    return list(values.values())


def load_keras_applications_h5(model, path: str) -> None:
    """Load a keras.applications-layout HDF5 file onto `model` by layer name (all or nothing)."""
    order, arrays = read_keras_applications_h5(path)
    assign_all(match_by_name(model, order, arrays, source=os.fspath(path)))


# --------------------------------------------------------------------------------------------
# Keras 3 `.weights.h5` files.
# --------------------------------------------------------------------------------------------


def _snake(name: str) -> str:
    try:
        from keras.src.utils.naming import to_snake_case
    except ImportError:  # pragma: no cover - private helper moved
        name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
        return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    return to_snake_case(name)


def keras3_layout(model, prefix: str = "layers") -> list[tuple[str, str, list[tuple]]]:
    """(h5 group, layer name, variable shapes) of every layer, as Keras 3 `save_weights` writes."""
    out, used = [], {}
    for layer in model.layers:
        key = _snake(layer.__class__.__name__)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        path = f"{prefix}/{key}"
        if isinstance(layer, keras.Model) and hasattr(layer, "layers"):
            out.extend(keras3_layout(layer, f"{path}/layers"))
        else:
            out.append((f"{path}/vars", layer.name, [tuple(v.shape) for v in layer.variables]))
    return out


def _keras3_file_layout(path: str) -> dict[str, list[tuple]]:
    found: dict[str, list[tuple]] = {}
    try:
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if name.startswith("layers/") and name.endswith("/vars") and isinstance(obj, h5py.Group):
                    found[name] = [tuple(obj[str(i)].shape) for i in range(len(obj))]
            f.visititems(visit)
    except (OSError, KeyError) as err:
        raise WeightsMismatchError(
            f"Cannot read weights file {path!r} (truncated or corrupt?): {err}. Nothing was loaded."
        ) from err
    return found


def load_keras3_weights(model, path: str) -> None:
    """Check a Keras 3 `.weights.h5` file against the model's structure, then load it."""
    expected = keras3_layout(model)
    found = _keras3_file_layout(path)
    problems = []
    for group, layer_name, shapes in expected:
        got = found.pop(group, None)
        if got is None:
            if shapes:
                problems.append((layer_name, "has weights in the model but none in the file"))
        elif got != shapes:
            problems.append((layer_name, f"variable shapes {got} in the file, {shapes} in the model"))
    for group, shapes in found.items():
        if shapes:
            problems.append((group, "is in the file but not in the model"))
    if problems:
        raise _mismatch(os.fspath(path), model, problems)
    backup = [(v, np.array(v.numpy())) for v in model.weights]
    try:
        model.load_weights(path)
    except Exception as err:
        for var, value in backup:
            var.assign(value)
        raise WeightsMismatchError(f"Keras could not load {path!r}: {err}. Nothing was loaded.") from err


# --------------------------------------------------------------------------------------------
# Entry point for the builders.
# --------------------------------------------------------------------------------------------


def check_release_compatible(model, cfg: dict[str, Any], include_top: bool) -> None:
    """Refuse a model whose geometry silently differs from the release (shapes cannot tell)."""
    stride = detect_stride_in_1x1(model)
    if stride is not None and stride != cfg["stride_in_1x1"]:
        raise WeightsMismatchError(
            f"Weights {cfg['model_name']}/{cfg['tag']} were trained with stride_in_1x1="
            f"{cfg['stride_in_1x1']} but the model has stride_in_1x1={stride}; build it with "
            f"stride_in_1x1={cfg['stride_in_1x1']}."
        )
    if include_top:
        top = _leaf_by_name(model).get("predictions")
        if top is not None and top.units != cfg["num_classes"]:
            raise WeightsMismatchError(
                f"Weights {cfg['model_name']}/{cfg['tag']} with include_top=True need "
                f"classes={cfg['num_classes']}, got {top.units}; use include_top=False for a new head."
            )
    eps = model_bn_epsilon(model)
    if eps is not None and not np.isclose(eps, cfg["bn_epsilon"], rtol=1e-6, atol=0):
        import warnings

        warnings.warn(
            f"BatchNormalization epsilon is {eps} but {cfg['model_name']}/{cfg['tag']} used "
            f"{cfg['bn_epsilon']}; outputs will differ slightly from the release "
            f"(build with bn_epsilon={cfg['bn_epsilon']}).",
            stacklevel=3,
        )


def load_weights(model, weights, *, model_name: str | None = None, include_top: bool = True,
                 cache_dir: str | None = None, source_layout: str | None = None):
    """Load `weights` (None, a registry tag such as "imagenet", or a file path) into `model`.

    The format of a path is recognised from the file: HDF5 in the keras.applications (Keras 2)
    layout or the Keras 3 `.weights.h5` layout, or a torchvision-layout state dict in a
    ``.safetensors`` or ``.npz`` file (bottleneck nets: `source_layout` "torchvision" = stride
    on the 3x3, the default, or "caffe"). Returns the model.
    """
    if weights is None:
        return model
    if is_registered_tag(weights):
        cfg = get_pretrained_config(model_name or model.name, weights)
        check_release_compatible(model, cfg, include_top)
        load_keras_applications_h5(model, get_weights_file(cfg["model_name"], weights,
                                                           include_top, cache_dir))
        return model
    path = os.fspath(weights)
    if not os.path.exists(path):
        raise ValueError(
            f"weights={weights!r} is neither None, a registered tag "
            f"({sorted({t for tags in PRETRAINED_CONFIGS.values() for t in tags})}) nor an "
            "existing file."
        )
    lower = path.lower()
    if lower.endswith((".safetensors", ".npz")):
        from keras_resnet_paper.models import converters

        converters.load_torchvision_weights(model, path, source_layout=source_layout or "torchvision")
        return model
    if detect_h5_layout(path) == "keras_applications_h5":
        load_keras_applications_h5(model, path)
    else:
        load_keras3_weights(model, path)
    return model


def write_keras_applications_h5(path: str, layers: list[tuple[str, dict[str, np.ndarray]]]) -> None:
    """Write [(layer name, {short weight name: array})] in the Keras 2 / keras.applications layout.

    Weight names are written as ``layer/short:0`` like Keras 2 did; layers without weights get an
    empty ``weight_names``. Used to export weights and to build test fixtures.
    """
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode("utf8") for name, _ in layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for name, weights in layers:
            group = f.create_group(name)
            names = [f"{name}/{short}:0" for short in weights]
            group.attrs["weight_names"] = [n.encode("utf8") for n in names]
            for full, value in zip(names, weights.values()):
                group.create_dataset(full, data=np.asarray(value))


def model_to_keras_applications_layout(model) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The weights of `model` (leaf layers, in order) as [(layer name, {short name: array})]."""
    return [(layer.name, {_short_name(v.path): np.asarray(v.numpy()) for v in layer.weights})
            for layer in leaf_layers(model)]
