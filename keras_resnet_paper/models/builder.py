"""The one parameterised builder behind every named model (Table 1, Sec. 4.2).

`build_resnet` takes a `Network` (stem, stages, block options) and the `ModelArguments` and does
everything the two families share: input handling, the stage/block loop (flat, or nested one
Keras model per stage and per block for very deep nets), the head, and weight loading: a
release's file is fetched before anything is built, so a missing network fails at once; the
model gets `model.preprocessing`, the input convention of its weights (None without weights).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import keras

from keras_resnet_paper.models.blocks import BlockOptions, make_block
from keras_resnet_paper.models.layers import LayerFactory
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


class ModelArguments(TypedDict, total=False):
    """The arguments every builder takes (`imagenet_resnet`, `cifar_resnet`), documented once.

    include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation:
        as in keras.applications. `weights` is None, a release tag ("imagenet", "imagenet1k_v1",
        "imagenet1k_v2", "timm", "cifar10": `keras_resnet_paper.weights.available_weights()`;
        fetched once, see `keras_resnet_paper.weights.download` for the cache, KERAS_HOME and the
        mirror variable KERAS_RESNET_PAPER_WEIGHTS_URL) or a path to a weights file. Weights decide
        the arguments they need (a release its shortcut option, stride placement and BN epsilon):
        leave those unset; an explicit contradicting value is a ValueError.
    bn_momentum: BatchNormalization momentum (Keras convention: the old average's weight, in [0, 1)).
    zero_init_residual: zero gamma in each residual branch's last BN (not in the paper).
    kernel_initializer: conv initialiser; He initialisation as in Sec. 3.4.
    nested: build one Keras sub-model per stage and block (None: only for very deep nets).
    dtype: dtype policy for every layer, e.g. "mixed_float16" (None: the global policy).
    name: model name; default "resnet50", "plain34", "resnet20_cifar", ...
    """

    include_top: bool
    weights: Any
    input_tensor: Any
    input_shape: Sequence[int | None] | None
    pooling: str | None
    classes: int
    classifier_activation: Any
    bn_momentum: float
    zero_init_residual: bool
    kernel_initializer: Any
    nested: bool | None
    dtype: Any
    name: str | None


#: The defaults of `ModelArguments` (keras.applications' where it has the argument).
MODEL_ARGUMENT_DEFAULTS: dict[str, Any] = dict(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    bn_momentum=0.9,
    zero_init_residual=False,
    kernel_initializer="he_normal",
    nested=None,
    dtype=None,
    name=None,
)


def model_arguments(given: Mapping[str, Any], caller: str, **defaults: Any) -> dict[str, Any]:
    """`given` over the defaults (`MODEL_ARGUMENT_DEFAULTS`, then the family's `defaults`), each
    shared argument checked once; an unknown name is the TypeError Python gives for a keyword."""
    unknown = sorted(set(given) - set(MODEL_ARGUMENT_DEFAULTS))
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    arguments = {**MODEL_ARGUMENT_DEFAULTS, **defaults, **given}
    for flag in ("include_top", "zero_init_residual"):
        check_bool(flag, arguments[flag])
    check_bool("nested", arguments["nested"], allow_none=True)
    if arguments["include_top"]:
        arguments["classes"] = check_int("classes", arguments["classes"], minimum=1)
    check_float("bn_momentum", arguments["bn_momentum"], minimum=0.0, maximum=1.0, high_open=True)
    check_float_dtype("dtype", arguments["dtype"])
    name = arguments["name"]
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"name={name!r} must be None or a non-empty string.")
    validate_pooling(arguments["pooling"])
    return arguments


def block_options(
    residual: bool, arguments: Mapping[str, Any], architecture: Mapping[str, Any], **more: Any
) -> BlockOptions:
    """The `BlockOptions` of a net: `residual`, the shared `zero_init_residual`, what the caller and
    the weights agreed on (`architecture`: its fields that are set, but the BN epsilon) and the family's `more`."""
    agreed = {key: value for key, value in architecture.items() if key != "bn_epsilon" and value is not None}
    return BlockOptions(residual=residual, zero_init_residual=arguments["zero_init_residual"], **agreed, **more)


@dataclasses.dataclass(frozen=True)
class Network:
    """What a family's builder decides about a net: its stem, stages, block type and options, BN
    epsilon, the input size of its head (`default_size`) and its total stride (`min_size`)."""

    stem: Callable
    stages: Sequence[Stage]
    block: str
    options: BlockOptions
    bn_epsilon: float
    default_size: int
    min_size: int

    def __post_init__(self):
        if self.block not in BLOCK_TYPES:
            raise ValueError(f"block={self.block!r} is not a block type; allowed: 'basic', 'bottleneck'.")
        check_float("bn_epsilon", self.bn_epsilon, minimum=0.0, low_open=True)


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


def _stages(x, network: Network, factory: LayerFactory, nested: bool):
    """conv2_x ... : the blocks of every stage, the first of each with the stage's stride."""
    for stage in network.stages:

        def run_stage(x, stage=stage):
            for b in range(1, stage.blocks + 1):
                prefix = f"conv{stage.index}_block{b}"
                strides = stage.strides if b == 1 else 1

                def run_block(x, prefix=prefix, strides=strides):
                    return make_block(network.block, x, stage.width, strides, prefix, factory, network.options)

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


def build_resnet(network: Network, arguments: Mapping[str, Any], resolved: ResolvedWeights) -> keras.Model:
    """Build the net `network` describes with the `ModelArguments` `arguments` (`model_arguments`)
    and the weights `resolved` (`weights.loading.resolve_weights`, worked out once by the family's
    builder). The file of a release is fetched before a layer is built."""
    include_top, classes = arguments["include_top"], arguments["classes"]
    _check_head(arguments)
    data_format = keras.config.image_data_format()
    input_shape = resolve_input_shape(
        arguments["input_shape"],
        arguments["input_tensor"],
        include_top=include_top,
        default_size=network.default_size,
        min_size=network.min_size,
        pretrained=arguments["weights"] is not None,
        data_format=data_format,
    )
    resolved = resolved.fetched(include_top)  # before anything is built: no network fails at once
    dtype = arguments["dtype"]
    factory = LayerFactory(
        data_format, dtype, arguments["bn_momentum"], network.bn_epsilon, arguments["kernel_initializer"]
    )
    img_input = _image_input(arguments["input_tensor"], input_shape)
    nested = arguments["nested"]
    nested = sum(stage.blocks for stage in network.stages) > NESTED_BLOCK_THRESHOLD if nested is None else nested
    x = _stages(network.stem(img_input, factory), network, factory, nested)
    x = _head(x, include_top, arguments["pooling"], classes, arguments["classifier_activation"], data_format, dtype)
    input_tensor = arguments["input_tensor"]
    inputs = keras.utils.get_source_inputs(input_tensor) if input_tensor is not None else img_input
    model = keras.Model(inputs, x, name=arguments["name"])
    model.preprocessing = None
    return load_weights(model, resolved, include_top=include_top)


def _check_head(arguments: Mapping[str, Any]) -> None:
    """Pretrained weights with a head allow only a softmax (or no) classifier activation."""
    activation = arguments["classifier_activation"]
    if arguments["weights"] is not None and arguments["include_top"] and activation not in (None, "softmax"):
        raise ValueError(
            f"classifier_activation={activation!r}: with pretrained weights only None or 'softmax' are allowed."
        )
