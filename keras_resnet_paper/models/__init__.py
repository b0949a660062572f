"""Models of the paper: builders, named constructors, blocks, shortcuts, graph helpers."""

from keras_resnet_paper.models.blocks import basic_block, bottleneck_block
from keras_resnet_paper.models.cifar import cifar_resnet
from keras_resnet_paper.models.graph import feature_extractor, find_layer, iter_layers, stage_outputs
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
from keras_resnet_paper.models.zoo import (
    MODELS,
    Plain18,
    Plain20,
    Plain32,
    Plain34,
    Plain44,
    Plain50,
    Plain56,
    Plain101,
    Plain110,
    Plain152,
    ResNet18,
    ResNet20,
    ResNet32,
    ResNet34,
    ResNet44,
    ResNet50,
    ResNet56,
    ResNet101,
    ResNet110,
    ResNet152,
    ResNet1202,
    get_model,
    resolve_model_name,
)

__all__ = [
    "MODELS",
    "Plain18", "Plain20", "Plain32", "Plain34", "Plain44", "Plain50", "Plain56",
    "Plain101", "Plain110", "Plain152",
    "ResNet18", "ResNet20", "ResNet32", "ResNet34", "ResNet44", "ResNet50", "ResNet56",
    "ResNet101", "ResNet110", "ResNet152", "ResNet1202",
    "ZeroPaddingShortcut",
    "backbone_stages",
    "basic_block",
    "bottleneck_block",
    "cifar_resnet",
    "feature_extractor",
    "find_layer",
    "freeze_backbone",
    "frozen_stages",
    "get_model",
    "imagenet_resnet",
    "iter_layers",
    "parameter_counts",
    "recompute_bn_statistics",
    "resolve_model_name",
    "stage_outputs",
    "unfreeze",
]
