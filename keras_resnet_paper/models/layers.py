"""The layer factory shared by every builder: conv without bias, BN, ReLU, padding (Sec. 3.4).

One `LayerFactory` carries the settings that every layer of a model shares (data format,
dtype policy, BN momentum/epsilon, initialiser), so blocks and stems stay free of plumbing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras


@dataclasses.dataclass(frozen=True)
class LayerFactory:
    """Builds the layers of one model with consistent settings.

    Sec. 3.4: "batch normalization (BN) right after each convolution and before activation";
    convolutions carry no bias because the BN that follows has its own shift.
    """

    data_format: str = "channels_last"
    dtype: Any = None
    bn_momentum: float = 0.9
    bn_epsilon: float = 1e-5
    kernel_initializer: Any = "he_normal"

    @property
    def channel_axis(self) -> int:
        return 1 if self.data_format == "channels_first" else -1

    def conv(self, filters: int, kernel_size: int, strides: int = 1, *, name: str, padding: str = "same"):
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            data_format=self.data_format,
            dtype=self.dtype,
            name=name,
        )

    def bn(self, *, name: str, zero_gamma: bool = False):
        return keras.layers.BatchNormalization(
            axis=self.channel_axis,
            momentum=self.bn_momentum,
            epsilon=self.bn_epsilon,
            gamma_initializer="zeros" if zero_gamma else "ones",
            dtype=self.dtype,
            name=name,
        )

    def relu(self, *, name: str):
        return keras.layers.Activation("relu", dtype=self.dtype, name=name)

    def pad(self, amount: int, *, name: str):
        return keras.layers.ZeroPadding2D(amount, data_format=self.data_format, dtype=self.dtype, name=name)

    def conv_bn(self, x, filters: int, kernel_size: int, strides: int, prefix: str, *, zero_gamma: bool = False):
        """conv -> BN, with Caffe/torchvision geometry for strided k>1 convs.

        A strided k x k conv gets an explicit symmetric ZeroPadding2D((k-1)//2) and "valid"
        padding (named `{prefix}_pad`), so converted weights see the same pixels as in the
        authors' release; stride-1 convs use "same", which is symmetric for odd k.
        """
        if strides > 1 and kernel_size > 1:
            x = self.pad((kernel_size - 1) // 2, name=f"{prefix}_pad")(x)
            x = self.conv(filters, kernel_size, strides, name=f"{prefix}_conv", padding="valid")(x)
        else:
            x = self.conv(filters, kernel_size, strides, name=f"{prefix}_conv")(x)
        return self.bn(name=f"{prefix}_bn", zero_gamma=zero_gamma)(x)

    def channels(self, x) -> int:
        return x.shape[self.channel_axis]
