"""Training the paper's recipes: recipes, schedules, optimizer, strategies, callbacks, trainer.

    from keras_resnet_paper.training import train, get_recipe
    result = train("cifar10_paper", "resnet20", model_dir="runs/resnet20", offline=True)
"""

from keras_resnet_paper.training.bn_recalibration import recalibrate_bn
from keras_resnet_paper.training.callbacks import (
    IterationLogger,
    NanStop,
    NonFiniteLossError,
    StepCheckpoint,
    StopAtStep,
    latest_checkpoint,
    restore_latest,
)
from keras_resnet_paper.training.optimizer import PaperSGD
from keras_resnet_paper.training.recipes import RECIPES, Recipe, get_recipe, list_recipes, parse_overrides
from keras_resnet_paper.training.schedules import ErrorThresholdWarmup, PaperSchedule, PlateauDecay, schedule_for_recipe
from keras_resnet_paper.training.strategies import make_strategy, per_replica_batch, resolve_options
from keras_resnet_paper.training.trainer import TrainResult, build_model, offline_recipe, precision_scope, train

__all__ = [
    "ErrorThresholdWarmup", "IterationLogger", "NanStop", "NonFiniteLossError", "PaperSGD", "PaperSchedule",
    "PlateauDecay", "RECIPES", "Recipe", "StepCheckpoint", "StopAtStep", "TrainResult", "build_model",
    "get_recipe", "latest_checkpoint", "list_recipes", "make_strategy", "offline_recipe", "parse_overrides",
    "per_replica_batch", "precision_scope", "recalibrate_bn", "resolve_options", "restore_latest",
    "schedule_for_recipe", "train",
]
