"""Shortcut connections (Sec. 3.3; docs/paper.md, 'Shortcut options (Sec. 3.3)').

Option A is the parameter-free identity shortcut that subsamples with stride 2 and pads the
extra channels with zeros where the dimensions increase; B projects (1x1 conv + BN) only where
they increase; C projects on every shortcut.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_resnet_paper.models.spec import SHORTCUT_OPTIONS

#: Where option A's zero channels go: after the input's, or half before and half after them.
ZERO_PADDING_PLACEMENTS = ("after", "both")


@keras.saving.register_keras_serializable(package="keras_resnet_paper")
class ZeroPaddingShortcut(keras.layers.Layer):
    """Option A shortcut: keep every `strides`-th pixel and append zero channels.

    Sec. 3.3 option (A): "the shortcut still performs identity mapping, with extra zero entries
    padded for increasing dimensions"; with stride 2 where the feature map shrinks. No weights.
    Pixels 0, 2, 4, ... are kept, the same sampling grid as a stride-2 1x1 convolution.
    `placement` puts the zero channels "after" the input's (ours) or half on "both" sides (the
    published CIFAR models of akamaster/pytorch_resnet_cifar10): the same net up to the order of
    channels, but weights trained with one do not fit the other.
    """

    def __init__(
        self, filters: int, strides: int = 1, data_format: str | None = None, placement: str = "after", **kwargs
    ):
        super().__init__(**kwargs)
        if placement not in ZERO_PADDING_PLACEMENTS:
            raise ValueError(f"placement={placement!r} is not allowed; allowed: 'after', 'both'.")
        self.placement = placement
        if int(filters) < 1:
            raise ValueError(f"filters={filters!r} must be a positive integer.")
        if int(strides) < 1:
            raise ValueError(f"strides={strides!r} must be a positive integer.")
        self.filters = int(filters)
        self.strides = int(strides)
        data_format = data_format or keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"data_format={data_format!r} is not allowed; allowed: 'channels_last', 'channels_first'.")
        self.data_format = data_format

    @property
    def _channel_axis(self) -> int:
        return 1 if self.data_format == "channels_first" else 3

    def build(self, input_shape):
        channels = input_shape[self._channel_axis]
        if channels is not None and channels > self.filters:
            raise ValueError(f"ZeroPaddingShortcut cannot shrink {channels} channels to filters={self.filters}.")
        self.built = True

    def call(self, inputs):
        s = self.strides
        if s > 1:
            if self.data_format == "channels_first":
                inputs = inputs[:, :, ::s, ::s]
            else:
                inputs = inputs[:, ::s, ::s, :]
        extra = self.filters - inputs.shape[self._channel_axis]
        if extra == 0:
            return inputs
        pad = [[0, 0], [0, 0], [0, 0], [0, 0]]
        pad[self._channel_axis] = [extra // 2, extra - extra // 2] if self.placement == "both" else [0, extra]
        return ops.pad(inputs, pad)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        spatial = (2, 3) if self.data_format == "channels_first" else (1, 2)
        for axis in spatial:
            if shape[axis] is not None:
                shape[axis] = -(-shape[axis] // self.strides)
        shape[self._channel_axis] = self.filters
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, strides=self.strides, data_format=self.data_format, placement=self.placement
        )
        return config


def option_a_shortcut(x, filters: int, strides: int, data_format: str, placement: str, dtype, prefix: str):
    """Option A built from Keras' own layers, so a saved net loads with nothing but Keras.

    `{prefix}_0_subsample`: a 1x1 max-pool with stride `strides` keeps pixels 0, s, 2s, ... (the
    grid of a strided 1x1 conv); `{prefix}_0_shortcut`: the zero channels, a ZeroPadding2D on the
    channel axis turned into a spatial one by the Permute layers `{prefix}_0_to_rows` and
    `{prefix}_0_from_rows`. The same function as `ZeroPaddingShortcut` (which earlier files hold).
    """
    if placement not in ZERO_PADDING_PLACEMENTS:
        raise ValueError(f"zero_padding={placement!r} is not allowed; allowed: 'after', 'both'.")
    channels_first = data_format == "channels_first"
    if strides > 1:
        x = keras.layers.MaxPooling2D(1, strides, data_format=data_format, dtype=dtype, name=f"{prefix}_0_subsample")(x)
    extra = filters - x.shape[1 if channels_first else -1]
    if extra < 0:
        raise ValueError(f"option A cannot shrink {filters + extra} channels to {filters}.")
    if extra == 0:
        return x
    before = extra // 2 if placement == "both" else 0
    swap = (2, 1, 3) if channels_first else (1, 3, 2)  # channels to the second padded axis and back
    pad = ((before, extra - before), (0, 0)) if channels_first else ((0, 0), (before, extra - before))
    x = keras.layers.Permute(swap, dtype=dtype, name=f"{prefix}_0_to_rows")(x)
    x = keras.layers.ZeroPadding2D(pad, data_format=data_format, dtype=dtype, name=f"{prefix}_0_shortcut")(x)
    return keras.layers.Permute(swap, dtype=dtype, name=f"{prefix}_0_from_rows")(x)


def validate_shortcut(shortcut: str) -> str:
    """Return the option letter, upper-cased; ValueError if it is not A, B or C."""
    option = shortcut.upper() if isinstance(shortcut, str) else shortcut
    if option not in SHORTCUT_OPTIONS:
        raise ValueError(
            f"shortcut={shortcut!r} is not a shortcut option of the paper; allowed: 'A', 'B', 'C' "
            "(Sec. 3.3: A zero-padding identity, B projection where dimensions increase, "
            "C projection everywhere)."
        )
    return option


def needs_projection(option: str, dims_change: bool) -> bool:
    """True where the option uses a 1x1-conv projection shortcut (B where dims change, C always)."""
    return option == "C" or (option == "B" and dims_change)
