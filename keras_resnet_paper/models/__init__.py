"""Models of the paper: builders, named constructors, blocks, shortcuts, graph helpers.

Names are imported on first use (`lazy_imports`): `models.ResNet50` brings in Keras, while the
registry of networks (`models.variants`) and the tables (`models.spec`) need nothing but Python,
so a command can list its models and start quietly before the framework loads.
"""

from __future__ import annotations

from keras_resnet_paper.lazy_imports import lazy_names
from keras_resnet_paper.models.variants import VARIANTS, Variant, find_variant, register_variant

#: public name -> the module that defines it (relative to this package, or the whole name)
_NAMES = {
    **{
        name: "keras_resnet_paper.graph" for name in ("feature_extractor", "find_layer", "iter_layers", "stage_outputs")
    },
    **{name: "blocks" for name in ("BlockOptions", "basic_block", "bottleneck_block")},
    "cifar_resnet": "cifar",
    "imagenet_resnet": "imagenet",
    "ZeroPaddingShortcut": "shortcuts",
    **{
        name: "transfer"
        for name in (
            "backbone_stages",
            "freeze_backbone",
            "frozen_stages",
            "parameter_counts",
            "recompute_bn_statistics",
            "unfreeze",
        )
    },
    **{name: "zoo" for name in ("MODELS", "build_variant", "constructor_of", "get_model", "resolve_model_name")},
    **{variant.constructor: "zoo" for variant in VARIANTS.values()},  # one constructor per registered network
}

__all__ = ["Variant", "find_variant", "register_variant", *sorted(_NAMES)]  # noqa: PLE0604
__getattr__, __dir__ = lazy_names(__name__, _NAMES, globals())
