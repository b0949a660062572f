"""Training the paper's recipes: recipes, the resolved run, runtime, task, schedules, optimizer,
strategies, callbacks, trainer, report.

    from keras_resnet_paper.training import resolve_run, train
    config = resolve_run("cifar10_paper", "resnet20", offline=True)   # exactly what will run
    print(config.describe())
    result = train(config, model_dir="runs/resnet20")
"""

from keras_resnet_paper.training.bn_recalibration import recalibrate_bn
from keras_resnet_paper.training.callbacks import (
    IterationLogger,
    NanStop,
    NonFiniteLossError,
    StepCheckpoint,
    StopAtStep,
    current_step,
    latest_checkpoint,
    restore_latest,
)
from keras_resnet_paper.training.optimizer import PaperSGD
from keras_resnet_paper.training.recipes import RECIPES, Recipe, get_recipe, list_recipes, offline_variant, parse_overrides
from keras_resnet_paper.training.run_config import RunConfig, resolve_run
from keras_resnet_paper.training.runtime import Runtime
from keras_resnet_paper.training.schedules import ErrorThresholdWarmup, PaperSchedule, PlateauDecay, schedule_for_recipe
from keras_resnet_paper.training.strategies import make_strategy, per_replica_batch, resolve_options
from keras_resnet_paper.training.task import ImageClassificationTask, inference_model
from keras_resnet_paper.training.trainer import TrainResult, precision_scope, train

__all__ = [
    "ErrorThresholdWarmup", "ImageClassificationTask", "IterationLogger", "NanStop", "NonFiniteLossError", "PaperSGD",
    "PaperSchedule", "PlateauDecay", "RECIPES", "Recipe", "RunConfig", "Runtime", "StepCheckpoint", "StopAtStep",
    "TrainResult", "current_step", "get_recipe", "inference_model", "latest_checkpoint", "list_recipes",
    "make_strategy", "offline_variant", "parse_overrides", "per_replica_batch", "precision_scope", "recalibrate_bn",
    "resolve_options", "resolve_run", "restore_latest", "schedule_for_recipe", "train",
]
