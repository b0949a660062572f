"""Models of the paper: builders, named constructors, blocks, shortcuts, graph helpers."""

from keras_resnet_paper.graph import feature_extractor, find_layer, iter_layers, stage_outputs
from keras_resnet_paper.models import zoo
from keras_resnet_paper.models.blocks import BlockOptions, basic_block, bottleneck_block
from keras_resnet_paper.models.cifar import cifar_resnet
from keras_resnet_paper.models.imagenet import imagenet_resnet
from keras_resnet_paper.models.shortcuts import ZeroPaddingShortcut
from keras_resnet_paper.models.transfer import (
    backbone_stages,
    freeze_backbone,
    frozen_stages,
    parameter_counts,
    recompute_bn_statistics,
    unfreeze,
)
from keras_resnet_paper.models.variants import Variant, find_variant, register_variant
from keras_resnet_paper.models.zoo import *  # noqa: F403 - one constructor per registered network

__all__ = [
    "BlockOptions",
    "Variant",
    "ZeroPaddingShortcut",
    "backbone_stages",
    "basic_block",
    "bottleneck_block",
    "cifar_resnet",
    "feature_extractor",
    "find_layer",
    "find_variant",
    "freeze_backbone",
    "frozen_stages",
    "imagenet_resnet",
    "iter_layers",
    "parameter_counts",
    "recompute_bn_statistics",
    "register_variant",
    "stage_outputs",
    "unfreeze",
]
__all__ += zoo.__all__
