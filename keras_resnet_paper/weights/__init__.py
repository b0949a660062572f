"""Pretrained weights: the release registry, one reader per file format, and `load_weights`.

Modules: `releases` (the registry of published weights), `preprocessing` (the input convention of
each release, `decode_predictions`), `keras_applications_h5` (Keras 2 / keras.applications HDF5),
`keras3_h5` (Keras 3 `.weights.h5`), `torch_checkpoint` (torchvision/timm state dicts in
safetensors or .npz; `safetensors_io` reads and writes that format), `architecture` (what weights
need of a built model), `assign` (all-or-nothing assignment), `loading` (`load_weights`).
"""

from keras_resnet_paper.weights.errors import WeightsMismatchError
from keras_resnet_paper.weights.loading import load_weights
from keras_resnet_paper.weights.releases import (
    PRETRAINED_CONFIGS,
    available_weights,
    builder_overrides,
    get_pretrained_config,
    get_weights_file,
    is_registered_tag,
)

__all__ = [
    "PRETRAINED_CONFIGS",
    "WeightsMismatchError",
    "available_weights",
    "builder_overrides",
    "get_pretrained_config",
    "get_weights_file",
    "is_registered_tag",
    "load_weights",
]
