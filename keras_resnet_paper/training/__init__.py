"""Training the paper's recipes: recipes, the resolved run, runtime, task, schedules, optimizer,
strategies, callbacks, trainer, report.

    from keras_resnet_paper.training import resolve_run, train
    config = resolve_run("cifar10_paper", "resnet20", offline=True)   # exactly what will run
    print(config.describe())
    result = train(config, model_dir="runs/resnet20")

Every name is imported on first use: the optimizer, the schedules, the callbacks and the task are
pure Keras and import on any Keras backend without TensorFlow; `train` and the strategies bring in
TensorFlow (tf.data feeds every backend, `tf.distribute` is TensorFlow's), see `backends`.
"""

from __future__ import annotations

from keras_resnet_paper.lazy_imports import lazy_names

#: public name -> the module of this package that defines it
_NAMES = {
    "recalibrate_bn": "bn_recalibration",
    **{
        name: "callbacks"
        for name in (
            "IterationLogger",
            "NanStop",
            "NonFiniteLossError",
            "StepCheckpoint",
            "StopAtStep",
            "current_step",
            "latest_checkpoint",
            "restore_latest",
        )
    },
    "PaperSGD": "optimizer",
    **{
        name: "recipes"
        for name in ("RECIPES", "Recipe", "get_recipe", "list_recipes", "offline_variant", "parse_overrides")
    },
    "RunConfig": "run_config",
    "resolve_run": "run_config",
    "Runtime": "runtime",
    **{name: "schedules" for name in ("ErrorThresholdWarmup", "PaperSchedule", "PlateauDecay", "schedule_for_recipe")},
    **{name: "strategies" for name in ("make_strategy", "per_replica_batch", "resolve_options")},
    "ImageClassificationTask": "task",
    "inference_model": "task",
    **{name: "trainer" for name in ("TrainResult", "precision_scope", "train")},
    **{name: "backends" for name in ("BACKEND_SUPPORT", "current_backend")},
}

__all__ = sorted(_NAMES)  # noqa: PLE0605 (a list, built from the table above)


__getattr__, __dir__ = lazy_names(__name__, _NAMES, globals())
