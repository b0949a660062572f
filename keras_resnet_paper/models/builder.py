"""The one parameterised builder behind every named model (Table 1, Sec. 4.2).

`build_resnet` takes a stem function and a list of stages and does everything the two
families share: argument checks, input handling, the stage/block loop (flat, or nested one
Keras model per stage and per block for very deep nets), the head, and weight loading: a
release's file is fetched before anything is built, so a missing network fails at once; the
model gets `model.preprocessing`, the input convention of its weights (None without weights).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras

from keras_resnet_paper.models.blocks import make_block
from keras_resnet_paper.models.layers import LayerFactory
from keras_resnet_paper.models.shortcuts import ZERO_PADDING_PLACEMENTS, validate_shortcut
from keras_resnet_paper.models.spec import BLOCK_TYPES
from keras_resnet_paper.validation import check_bool, check_float, check_float_dtype, check_int, check_shape
from keras_resnet_paper.weights.loading import ResolvedWeights, load_weights

#: Above this many blocks a model is built nested (one sub-model per stage and per block), so
#: Keras's recursive graph walks stay far below Python's recursion limit (ResNet-1202: 600).
NESTED_BLOCK_THRESHOLD = 100

POOLING_OPTIONS = (None, "avg", "max")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage (conv2_x, conv3_x, ...): `index` in the paper's numbering, width, depth, stride."""

    index: int
    width: int
    blocks: int
    strides: int


def validate_pooling(pooling: str | None) -> str | None:
    if pooling not in POOLING_OPTIONS:
        raise ValueError(f"pooling={pooling!r} is not allowed; allowed: None, 'avg', 'max'.")
    return pooling


def resolve_input_shape(
    input_shape: Sequence[int | None] | None,
    input_tensor: Any,
    *,
    include_top: bool,
    default_size: int,
    min_size: int,
    pretrained: bool,
    data_format: str,
) -> tuple[int | None, int | None, int]:
    """The (H, W, C) or (C, H, W) input shape, validated (keras.applications conventions)."""
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(keras.ops.shape(input_tensor)[1:])
    if input_shape is None:
        size = default_size if include_top else None
        input_shape = (3, size, size) if data_format == "channels_first" else (size, size, 3)
    input_shape = check_shape("input_shape", input_shape, length=3, what="height, width, channels")
    if data_format == "channels_first":
        channels, spatial = input_shape[0], input_shape[1:]
    else:
        channels, spatial = input_shape[-1], input_shape[:2]
    if channels is None or int(channels) < 1:
        raise ValueError(f"input_shape={input_shape!r} needs a known positive number of channels.")
    if pretrained and channels != 3:
        raise ValueError(f"input_shape={input_shape!r}: pretrained weights need 3 input channels, got {channels}.")
    for dim in spatial:
        if dim is not None and dim < min_size:
            raise ValueError(
                f"input_shape={input_shape!r} is too small: spatial dimensions must be at least "
                f"{min_size} pixels for the network's total stride of {min_size} (or None)."
            )
    return input_shape


def check_builder_arguments(
    *,
    residual: Any,
    include_top: Any,
    classes: Any,
    bn_momentum: Any,
    bn_epsilon: Any,
    zero_init_residual: Any,
    nested: Any,
    dtype: Any,
    name: Any,
) -> None:
    """The arguments every builder shares, checked before anything is built (see `validation`).

    BN momentum is Keras's (the weight of the old moving average), so it lies in [0, 1).
    """
    for flag, value in (
        ("residual", residual),
        ("include_top", include_top),
        ("zero_init_residual", zero_init_residual),
    ):
        check_bool(flag, value)
    check_bool("nested", nested, allow_none=True)
    if include_top:
        check_int("classes", classes, minimum=1)
    check_float("bn_momentum", bn_momentum, minimum=0.0, maximum=1.0, high_open=True)
    check_float("bn_epsilon", bn_epsilon, minimum=0.0, low_open=True)
    check_float_dtype("dtype", dtype)
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"name={name!r} must be None or a non-empty string.")


def _head_dtype(dtype: Any) -> Any:
    """float32 for the classifier under a mixed policy (numerically safe softmax), else `dtype`."""
    policy = keras.dtype_policies.get(dtype) if dtype is not None else keras.config.dtype_policy()
    if policy.compute_dtype != policy.variable_dtype:
        return "float32"
    return dtype


def _as_submodel(x, fn: Callable, name: str):
    """Run `fn` on a fresh Input shaped like `x`, wrap it as a Keras model `name`, apply it to `x`."""
    inputs = keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype, name=f"{name}_input")
    return keras.Model(inputs, fn(inputs), name=name)(x)


def _image_input(input_tensor: Any, input_shape: tuple):
    """The model's input: a new Input, or the given Keras tensor, or an Input wrapping a tensor."""
    if input_tensor is None:
        return keras.Input(shape=input_shape, name="input_layer")
    if keras.backend.is_keras_tensor(input_tensor):
        return input_tensor
    return keras.Input(tensor=input_tensor, shape=input_shape)


def _stages(x, stages: Sequence[Stage], block: str, factory: LayerFactory, options: dict, nested: bool):
    """conv2_x ... : the blocks of every stage, the first of each with the stage's stride."""
    for stage in stages:

        def run_stage(x, stage=stage):
            for b in range(1, stage.blocks + 1):
                prefix = f"conv{stage.index}_block{b}"
                strides = stage.strides if b == 1 else 1

                def run_block(x, prefix=prefix, strides=strides):
                    return make_block(block, x, stage.width, strides, prefix, factory, **options)

                x = _as_submodel(x, run_block, prefix) if nested else run_block(x)
            return x

        x = _as_submodel(x, run_stage, f"conv{stage.index}_x") if nested else run_stage(x)
    return x


def _head(
    x, include_top: bool, pooling: str | None, classes: int, classifier_activation: Any, data_format: str, dtype: Any
):
    """Global average pool and the fc `predictions` (include_top), or the chosen pooling, or none."""
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(data_format=data_format, dtype=dtype, name="avg_pool")(x)
        return keras.layers.Dense(
            classes, activation=classifier_activation, dtype=_head_dtype(dtype), name="predictions"
        )(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(data_format=data_format, dtype=dtype, name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(data_format=data_format, dtype=dtype, name="max_pool")(x)
    return x


#: The arguments `imagenet_resnet` and `cifar_resnet` relay to `build_resnet` unchanged: the
#: keras.applications ones and the options every net shares (documented once, in `imagenet_resnet`).
SHARED_ARGUMENTS = (
    "include_top",
    "weights",
    "input_tensor",
    "input_shape",
    "pooling",
    "classes",
    "classifier_activation",
    "bn_momentum",
    "zero_init_residual",
    "kernel_initializer",
    "nested",
    "dtype",
    "name",
)


def shared_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The `SHARED_ARGUMENTS` of a builder's arguments (its `locals()`), to relay to `build_resnet`."""
    return {key: arguments[key] for key in SHARED_ARGUMENTS}


def build_resnet(
    *,
    stem: Callable,
    stages: Sequence[Stage],
    block: str,
    residual: bool,
    shortcut: str,
    stride_in_1x1: bool,
    include_top: bool,
    weights: Any,
    input_tensor: Any,
    input_shape: Sequence[int | None] | None,
    pooling: str | None,
    classes: int,
    classifier_activation: Any,
    bn_momentum: float,
    bn_epsilon: float,
    zero_init_residual: bool,
    kernel_initializer: Any,
    nested: bool | None,
    dtype: Any,
    name: str,
    default_size: int,
    min_size: int,
    resolved: ResolvedWeights,
    zero_padding: str = "after",
    bottleneck_width_factor: int = 1,
) -> keras.Model:
    """Build a ResNet/plain net from its stem and stages; see `imagenet_resnet` for the arguments.
    `resolved` is what `weights` means (`weights.loading.resolve_weights`, worked out once by the
    family's builder). Every argument is checked, and a release's file fetched, before a layer is built."""
    check_builder_arguments(
        residual=residual,
        include_top=include_top,
        classes=classes,
        bn_momentum=bn_momentum,
        bn_epsilon=bn_epsilon,
        zero_init_residual=zero_init_residual,
        nested=nested,
        dtype=dtype,
        name=name,
    )
    shortcut, weights = _check_network_arguments(
        block, shortcut, zero_padding, pooling, weights, include_top, classifier_activation
    )
    data_format = keras.config.image_data_format()
    input_shape = resolve_input_shape(
        input_shape,
        input_tensor,
        include_top=include_top,
        default_size=default_size,
        min_size=min_size,
        pretrained=weights is not None,
        data_format=data_format,
    )
    resolved = resolved.fetched(include_top)  # before anything is built: no network fails at once
    factory = LayerFactory(data_format, dtype, bn_momentum, bn_epsilon, kernel_initializer)
    options = dict(
        residual=residual,
        shortcut=shortcut,
        stride_in_1x1=stride_in_1x1,
        zero_init_residual=zero_init_residual,
        zero_padding=zero_padding,
        bottleneck_width_factor=check_int("bottleneck_width_factor", bottleneck_width_factor, minimum=1),
    )
    img_input = _image_input(input_tensor, input_shape)
    nested = sum(stage.blocks for stage in stages) > NESTED_BLOCK_THRESHOLD if nested is None else nested
    x = _stages(stem(img_input, factory), stages, block, factory, options, nested)
    x = _head(
        x, include_top, pooling, int(classes) if include_top else classes, classifier_activation, data_format, dtype
    )
    inputs = keras.utils.get_source_inputs(input_tensor) if input_tensor is not None else img_input
    model = keras.Model(inputs, x, name=name)
    model.preprocessing = None
    return load_weights(model, resolved, include_top=include_top)


def _check_network_arguments(
    block, shortcut, zero_padding, pooling, weights, include_top, classifier_activation
) -> tuple[str, Any]:
    """The block type, shortcut option, option A's placement, pooling, and the head `weights` allow:
    (the shortcut option upper-cased, `weights`)."""
    if block not in BLOCK_TYPES:
        raise ValueError(f"block={block!r} is not a block type; allowed: 'basic', 'bottleneck'.")
    shortcut = validate_shortcut(shortcut)
    if zero_padding not in ZERO_PADDING_PLACEMENTS:
        raise ValueError(f"zero_padding={zero_padding!r} is not allowed; allowed: 'after', 'both'.")
    validate_pooling(pooling)
    if weights is not None and include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            f"classifier_activation={classifier_activation!r}: with pretrained weights only None or "
            "'softmax' are allowed."
        )
    return shortcut, weights
