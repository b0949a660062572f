"""Augmentation of the paper as Keras layers, run inside the model on the accelerator.

Written with `keras.ops` and `keras.random` only: they import and run on every Keras backend
(TensorFlow, JAX, PyTorch) without TensorFlow, and compile with the model's step. The tf.data
versions of the same augmentation (per-example seeds, on the host) are in `augment`.
"""

from __future__ import annotations

import keras

from keras_resnet_paper.validation import check_int, check_seed

__all__ = ["PadCropFlip"]


@keras.saving.register_keras_serializable(package="keras_resnet_paper")
class PadCropFlip(keras.layers.Layer):
    """CIFAR augmentation (docs/paper.md, 'CIFAR-10 training'; Sec. 4.2) inside the model.

    With training=True each example is zero-padded by `padding` pixels, cropped back to its size at
    a random offset and flipped horizontally with probability 1/2; at inference it is the identity.
    Expects NHWC, mean-subtracted images (the padding is then the mean colour). `padding` is an
    int >= 0; `seed` None or an int >= 0 (TypeError for another type, ValueError out of range).
    """

    def __init__(self, padding: int = 4, seed: int | None = None, **kwargs):
        padding = check_int("padding", padding, minimum=0)
        seed = check_seed("seed", seed)
        super().__init__(**kwargs)
        self.padding = padding
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.padding == 0:
            return inputs
        ops = keras.ops
        p = self.padding
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        padded = ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]])
        offsets = keras.random.randint((batch, 2), 0, 2 * p + 1, seed=self.seed_generator)
        flips = keras.random.uniform((batch,), seed=self.seed_generator) < 0.5
        rows = offsets[:, 0:1] + ops.arange(height)[None, :]  # [B, H]
        cols = offsets[:, 1:2] + ops.arange(width)[None, :]  # [B, W]
        cols = ops.where(flips[:, None], ops.flip(cols, axis=1), cols)
        out = ops.take_along_axis(padded, ops.cast(rows, "int32")[:, :, None, None], axis=1)
        return ops.take_along_axis(out, ops.cast(cols, "int32")[:, None, :, None], axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "seed": self.seed}
