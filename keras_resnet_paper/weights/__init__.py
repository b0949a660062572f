"""Pretrained weights: the release registry, one reader per file format, and `load_weights`.

    import keras_resnet_paper as krp
    model = krp.ResNet50(weights="imagenet")           # the release's architecture, fetched once
    x = model.preprocessing(image)                     # the release's own resize, crop and mean
    krp.weights.decode_predictions(model.predict(x[None]))

Modules, one concept each: `releases` (the registry: one `Release` record per published set of
weights), `conventions` (`Preprocessing`, the input convention of a set of weights),
`preprocessing` (`preprocess_input`, `preprocessing_for`), `class_index` (`decode_predictions`),
`download` (mirror, cache, pinned hash), `architecture` (what weights need of the builder's
arguments), `keras_applications_h5`, `keras3_h5` and `torch_checkpoint` (one reader per format;
`safetensors_io` reads and writes that container; `torch_format` reads what `torch.save` writes,
without torch and without running its pickle), `assign` (all-or-nothing assignment),
`loading` (`load_weights`: which reader reads what).
"""

from keras_resnet_paper.errors import WeightsUnavailableError
from keras_resnet_paper.weights.architecture import Architecture
from keras_resnet_paper.weights.class_index import decode_predictions, load_class_index
from keras_resnet_paper.weights.conventions import CAFFE, TORCH, Preprocessing
from keras_resnet_paper.weights.download import TIMEOUT_ENV, WEIGHTS_URL_ENV, cache_folder, fetch_file
from keras_resnet_paper.weights.errors import WeightsError, WeightsFileError, WeightsMismatchError
from keras_resnet_paper.weights.loading import (
    ResolvedWeights,
    fetch_release,
    load_weights,
    locate_weights,
    required_architecture,
    resolve_weights,
)
from keras_resnet_paper.weights.preprocessing import preprocess_input, preprocessing_for, resize_and_center_crop
from keras_resnet_paper.weights.releases import (
    LABEL_SETS,
    PRETRAINED_CONFIGS,
    RELEASES,
    LabelSet,
    Release,
    ReleaseFile,
    available_weights,
    builder_overrides,
    get_label_set,
    get_pretrained_config,
    get_release,
    hash_kind,
    is_registered_tag,
    registered,
    released_models,
)
from keras_resnet_paper.weights.torch_checkpoint import (
    SOURCE_LAYOUTS,
    load_torchvision_weights,
    save_torchvision_checkpoint,
    to_torchvision_state_dict,
)
from keras_resnet_paper.weights.torch_format import TorchFile, read_torch_file

__all__ = [
    "Architecture",
    "CAFFE",
    "LABEL_SETS",
    "LabelSet",
    "PRETRAINED_CONFIGS",
    "Preprocessing",
    "RELEASES",
    "Release",
    "SOURCE_LAYOUTS",
    "ReleaseFile",
    "ResolvedWeights",
    "TORCH",
    "TorchFile",
    "TIMEOUT_ENV",
    "WEIGHTS_URL_ENV",
    "WeightsError",
    "WeightsFileError",
    "WeightsMismatchError",
    "WeightsUnavailableError",
    "available_weights",
    "builder_overrides",
    "cache_folder",
    "decode_predictions",
    "fetch_file",
    "fetch_release",
    "get_pretrained_config",
    "get_label_set",
    "get_release",
    "hash_kind",
    "is_registered_tag",
    "load_class_index",
    "load_torchvision_weights",
    "load_weights",
    "locate_weights",
    "preprocess_input",
    "preprocessing_for",
    "read_torch_file",
    "registered",
    "released_models",
    "required_architecture",
    "resize_and_center_crop",
    "resolve_weights",
    "save_torchvision_checkpoint",
    "to_torchvision_state_dict",
]
