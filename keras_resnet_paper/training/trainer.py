"""`train(recipe, model_name, ...)`: the paper's recipes with `model.fit`, on any strategy.

Iterations are optimizer steps; one Keras "epoch" is one evaluation interval (`eval_every`
iterations), so the schedule, logs and plots are all in iterations, as in the paper.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import time
from typing import Any, Sequence

import keras
import tensorflow as tf
from absl import logging

from keras_resnet_paper import compat
from keras_resnet_paper.evaluation.topk import TopKError
from keras_resnet_paper.training import callbacks as cbs
from keras_resnet_paper.training.bn_recalibration import bn_layers, recalibrate_bn as _recalibrate_bn
from keras_resnet_paper.training.optimizer import PaperSGD
from keras_resnet_paper.training.progress import TrainingProgress
from keras_resnet_paper.training.recipes import RECIPES, Recipe, get_recipe
from keras_resnet_paper.training.report import load_run
from keras_resnet_paper.training.schedules import ErrorThresholdWarmup, PlateauDecay, schedule_for_recipe
from keras_resnet_paper.training.strategies import is_chief, make_strategy, per_replica_batch, resolve_options

__all__ = ["train", "TrainResult", "build_model", "check_model_name", "precision_scope", "offline_recipe", "set_determinism"]

OFFLINE_DATASET = "digits"


@dataclasses.dataclass
class TrainResult:
    model: keras.Model
    recipe: Recipe
    model_name: str
    model_dir: str | None
    history: list[dict]  # one row per evaluation (iteration, loss, top1_error, val_top1_error, ...)
    final: dict[str, float]  # test top1_error/top5_error/loss at the end
    steps: int
    resumed_from: int
    wall_time_s: float
    fallbacks: tuple[str, ...] = ()
    report: dict | None = None


@contextlib.contextmanager
def precision_scope(policy: str):
    """Set the global Keras dtype policy inside the block and restore it afterwards."""
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def set_determinism(seed: int, deterministic: bool) -> None:
    """Seed Python/NumPy/TF; with `deterministic`, also make TF ops deterministic."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


_NAME = re.compile(r"^(resnet|plain)(\d+)$")


def check_model_name(name: Any) -> str:
    """The normalised model name ("ResNet-20" -> "resnet20"), or a ValueError naming what is allowed:
    a model of the zoo (`krp.MODELS`) or a CIFAR net resnet/plain<6n+2> (Sec. 4.2)."""
    from keras_resnet_paper.models import MODELS

    if not isinstance(name, str):
        raise ValueError(f"model={name!r} is not a model name; use one of {sorted(MODELS)} or resnet/plain<6n+2>.")
    key = name.lower().replace("-", "").replace("_", "")
    m = _NAME.match(key)
    if key in MODELS or (m and int(m.group(2)) >= 8 and (int(m.group(2)) - 2) % 6 == 0):
        return key
    raise ValueError(
        f"model={name!r} is not a model of the paper; use one of {', '.join(sorted(MODELS))}, "
        "or resnet<6n+2> / plain<6n+2> for any CIFAR depth (8, 14, 20, ...)."
    )


def build_model(name: str, *, classes: int, input_shape: Sequence[int], **kwargs: Any) -> keras.Model:
    """A model of the paper by name ("resnet20", "plain56", "resnet50"); any 6n+2 depth for CIFAR.

    CIFAR depths not in the paper's table (e.g. "resnet8", "resnet14") are built with
    `cifar_resnet(depth, residual)`.
    """
    from keras_resnet_paper.models import MODELS, cifar_resnet, get_model

    key = check_model_name(name)
    if key in MODELS:
        return get_model(key, classes=classes, input_shape=tuple(input_shape), **kwargs)
    m = _NAME.match(key)
    return cifar_resnet(int(m.group(2)), m.group(1) == "resnet", classes=classes, input_shape=tuple(input_shape), **kwargs)


def offline_recipe(recipe: Recipe) -> Recipe:
    """`recipe` on the offline digits data (`cifar10_offline`'s length), its lr boundaries at the
    same fractions of the run (Sec. 4.2's 32k/48k of 64k become 50% and 75%)."""
    if recipe.dataset == OFFLINE_DATASET:
        return recipe
    ref = RECIPES["cifar10_offline"]
    short = recipe.shortened(ref.iterations) if not recipe.plateau else recipe.replace(
        iterations=ref.iterations, plateau_patience=2,
    )
    return short.replace(
        dataset=OFFLINE_DATASET, name=f"{recipe.name}+offline", holdout=False,
        eval_every=ref.eval_every, checkpoint_every=ref.checkpoint_every,
    )


def _fit_eval_every(iterations: int, eval_every: int) -> int:
    e = max(1, min(eval_every, iterations))
    while iterations % e:
        e -= 1
    return e


CIFAR_DATASETS = ("cifar10", "cifar100", "digits")


def _load_data(recipe, batch_size, *, seed, deterministic, data_dir, input_context=None, augment=None, source=None):
    """The recipe's data: `cifar_datasets` for cifar10/cifar100/digits (or an array `source`),
    `imagenet_datasets` otherwise ("imagenet" is tfds "imagenet2012"; any other name, TFRecord
    pattern or folder is passed on as the source)."""
    from keras_resnet_paper import data as data_lib

    if source is None and recipe.dataset not in CIFAR_DATASETS and not data_lib.is_cifar_binary_path(recipe.dataset):
        if not hasattr(data_lib, "imagenet_datasets"):
            raise ValueError(
                f"dataset={recipe.dataset!r} needs keras_resnet_paper.data.imagenet_datasets, which this "
                f"installation lacks; CIFAR-style data sets are {CIFAR_DATASETS}."
            )
        return data_lib.imagenet_datasets(
            source="imagenet2012" if recipe.dataset == "imagenet" else recipe.dataset,
            batch_size=batch_size, seed=seed, input_context=input_context, deterministic=deterministic,
            data_dir=data_dir,
        )
    return data_lib.cifar_datasets(
        source=source if source is not None else recipe.dataset,
        batch_size=batch_size,
        holdout=recipe.holdout,
        augment=augment or recipe.augment,
        seed=seed,
        input_context=input_context,
        deterministic=deterministic,
        data_dir=data_dir,
    )


def _test_set(data):
    """The set the final errors are reported on: CIFAR's test set, ImageNet's validation set."""
    test = getattr(data, "test", None)
    return test if test is not None else data.validation


def _progress(verbose: int | str, total: int) -> list[keras.callbacks.Callback]:
    """verbose 0: nothing; 1 or "auto": a live line on a terminal and a line per evaluation;
    2: a line per evaluation only."""
    if verbose not in (0, 1, 2, "auto"):
        raise ValueError(f"verbose={verbose!r}: use 0 (silent), 1 or 'auto' (live line), 2 (a line per evaluation).")
    if verbose == 0:
        return []
    return [TrainingProgress(total, interactive=False if verbose == 2 else None)]


def train(
    recipe: Recipe | str = "cifar10_paper",
    model_name: str | None = None,
    *,
    model_dir: str | None = None,
    strategy: str | tf.distribute.Strategy = "auto",
    batch_size: int | None = None,
    lr: float | None = None,
    iterations: int | None = None,
    jit_compile: bool = False,
    precision: str = "float32",
    steps_per_execution: int = 1,
    deterministic: bool = False,
    seed: int = 0,
    offline: bool = False,
    data_dir: str | None = None,
    data_source: Any = None,
    holdout: bool | None = None,
    augment: str | None = None,
    recalibrate_bn: bool | None = None,
    eval_every: int | None = None,
    input_shape: Sequence[int] | None = None,
    model_kwargs: dict | None = None,
    label: str | None = None,
    verbose: int | str = "auto",
    write_report: bool = True,
    tensorboard: bool = True,
    sync_bn: bool = False,
    ten_crop: bool = False,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    overrides: dict | None = None,
) -> TrainResult:
    """Train `model_name` with `recipe`, resuming from `model_dir`'s checkpoint if there is one.

    Args mirror the CLI flags (`python -m keras_resnet_paper.train --help`). `batch_size` is the
    global batch; if it differs from the recipe's, the lr is scaled linearly with a gradual
    warm-up. `iterations` shortens (or lengthens) the run with the lr boundaries at the same
    fractions. `data_source` replaces the recipe's data set (any `cifar_datasets` source, e.g. a
    (x_train, y_train, x_test, y_test) tuple). `sync_bn` computes BN statistics over the global
    batch across replicas (the paper's BN, like Caffe's, is per device: off by default).
    `ten_crop` adds the 10-crop errors of the validation images (Sec. 3.4, the protocol of Tables
    2-3) to `final` as `ten_crop_top1_error` / `ten_crop_top5_error` (ImageNet-style data only).
    Raises `NonFiniteLossError` if the loss diverges.
    """
    t0 = time.time()
    if batch_size is not None and batch_size <= 0:
        raise ValueError(f"batch_size={batch_size}: the global batch must be a positive number of images.")
    if steps_per_execution < 1:
        raise ValueError(f"steps_per_execution={steps_per_execution}: use 1 or more train steps per call.")
    if iterations is not None and iterations <= 0:
        raise ValueError(f"iterations={iterations}: use a positive number of iterations.")
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if overrides:
        recipe = recipe.replace(**overrides)
    if offline:
        new = offline_recipe(recipe)
        if new is not recipe:
            logging.info(
                "--offline: training on scikit-learn digits (32x32) with %s shortened to %d iterations "
                "(lr boundaries %s, evaluation every %d).", recipe.name, new.iterations, new.boundaries, new.eval_every,
            )
        recipe = new
    if iterations is not None and iterations != recipe.iterations:
        recipe = recipe.shortened(iterations)
    changes = {}
    if lr is not None:
        changes["base_lr"] = lr
    if holdout is not None:
        changes["holdout"] = holdout
    if augment is not None:
        changes["augment"] = augment
    if recalibrate_bn is not None:
        changes["recalibrate_bn"] = recalibrate_bn
    if eval_every is not None:
        changes["eval_every"] = eval_every
        changes["checkpoint_every"] = min(recipe.checkpoint_every, eval_every)
    recipe = recipe.replace(**changes) if changes else recipe
    E = _fit_eval_every(recipe.iterations, recipe.eval_every)
    if E != recipe.eval_every:
        logging.info("eval_every %d does not divide %d iterations; using %d.", recipe.eval_every, recipe.iterations, E)
        recipe = recipe.replace(eval_every=E)
    model_name = check_model_name(model_name or recipe.model)
    global_batch = batch_size or recipe.batch_size

    set_determinism(seed, deterministic)
    if isinstance(strategy, str):
        strategy = make_strategy(strategy)
    options = resolve_options(strategy, jit_compile, precision)
    chief = is_chief()
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if model_dir and os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ValueError(f"model_dir={model_dir!r} is a file; give a folder for the run's checkpoints and logs.")
    ckpt_dir = os.path.join(model_dir, "checkpoints") if model_dir else None

    # ---------------------------------------------------------------- data
    data_kwargs = dict(seed=seed, deterministic=deterministic, data_dir=data_dir, source=data_source)
    data = _load_data(recipe, global_batch, **data_kwargs)
    if ten_crop and getattr(data, "validation_images", None) is None:
        raise ValueError(
            f"ten_crop=True needs an ImageNet-style data set with validation images; recipe {recipe.name!r} "
            f"trains on {recipe.dataset!r}. Allowed: recipes whose data come from `imagenet_datasets`."
        )
    if strategy.num_replicas_in_sync > 1:
        per_replica_batch(global_batch, strategy)  # ValueError if the global batch does not split

        def train_fn(skip):
            """Each worker reads its shard in per-replica batches; its replicas take consecutive
            batches, so one step sees the same images as one device with the global batch."""

            def fn(ctx):
                d = _load_data(recipe, global_batch, input_context=ctx, **data_kwargs)  # batches per replica
                return d.train.skip(skip * (ctx.num_replicas_in_sync // ctx.num_input_pipelines))

            return strategy.distribute_datasets_from_function(fn)

    else:

        def train_fn(skip):
            return _load_data(recipe, global_batch, **data_kwargs).train.skip(skip) if skip else data.train

    eval_ds = data.validation if data.validation is not None else _test_set(data)
    shape = tuple(input_shape) if input_shape else tuple(data.train.element_spec[0].shape[1:])

    # ---------------------------------------------------------------- model and optimizer
    scale = global_batch / recipe.batch_size
    schedule = schedule_for_recipe(recipe, global_batch)
    if scale != 1:
        logging.info(
            "Global batch %d vs recipe %d: lr scaled linearly %g -> %g with %d warm-up iterations.",
            global_batch, recipe.batch_size, recipe.base_lr, schedule.peak_lr, schedule.warmup_steps,
        )
    with precision_scope(options.precision), strategy.scope():
        model = build_model(model_name, classes=data.num_classes, input_shape=shape, **(model_kwargs or {}))
        if sync_bn and strategy.num_replicas_in_sync > 1:
            for layer in bn_layers(model):  # BN statistics over the global batch, not per replica
                layer.synchronized = True
        if getattr(data, "augmentation", None) is not None:
            inputs = keras.Input(shape)
            model = keras.Model(inputs, model(data.augmentation(inputs)), name=model.name)
        optimizer = PaperSGD(
            schedule,
            momentum=recipe.momentum,
            l2=recipe.weight_decay,
            exclude_bn_and_bias=recipe.exclude_bn_and_bias_from_weight_decay,
        )
        if options.precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=[TopKError(1), TopKError(5)],
            jit_compile=options.jit_compile,
            steps_per_execution=steps_per_execution,
        )
        optimizer.build(model.trainable_variables)
        if not compat.build_from_input_spec(model, data.train.element_spec):
            logging.warning("This Keras cannot build a model from its input spec (see compat.py); fit() builds it.")
        if multi_worker:
            model.train_step = compat.vector_logs(model.train_step)
            model.test_step = compat.vector_logs(model.test_step)

    # ---------------------------------------------------------------- callbacks and resume
    if model_dir:  # only now: a run that fails on its arguments or data leaves no folder behind
        os.makedirs(model_dir, exist_ok=True)
    nan = cbs.NanStop()
    stateful = []
    lr_callbacks = []
    if recipe.plateau:
        plateau = PlateauDecay(
            monitor="val_top1_error", factor=recipe.lr_decay, patience=recipe.plateau_patience,
            min_delta=recipe.plateau_min_delta, min_lr=recipe.min_lr,
        )
        stateful.append(plateau)
        lr_callbacks.append(plateau)
    if recipe.uses_warmup(model_name) and recipe.warmup_lr is not None:
        lr_callbacks.append(ErrorThresholdWarmup(recipe.warmup_lr / recipe.base_lr, recipe.warmup_error))
    checkpoint = None
    start = 0
    if ckpt_dir:
        checkpoint = cbs.StepCheckpoint(
            ckpt_dir, save_freq=recipe.checkpoint_every, monitor="val_top1_error", stateful=stateful, write=chief
        )
        state = cbs.restore_latest(model, ckpt_dir)
        if state is not None:
            checkpoint.set_state(state)
            start = int(state["step"])
            print(f"Resuming from step {start} of {recipe.iterations} ({ckpt_dir}).", flush=True)
    callbacks = [cbs.IterationLogger(), *_progress(verbose, recipe.iterations), nan, *lr_callbacks]
    if model_dir and chief:  # log rows before the checkpoint: a kill between them repeats a row, never loses one
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(model_dir, "history.csv"), append=True))
        if tensorboard and importlib.util.find_spec("tensorboard") is not None:
            callbacks.append(keras.callbacks.TensorBoard(os.path.join(model_dir, "tensorboard"), update_freq="epoch"))
        elif tensorboard:
            logging.warning("TensorBoard logs skipped: the `tensorboard` package is not installed (pip install tensorboard).")
        cbs.atomic_write_text(os.path.join(model_dir, "recipe.json"), json.dumps(
            {**recipe.to_dict(), "model": model_name, "global_batch": global_batch, "precision": options.precision,
             "jit_compile": options.jit_compile, "replicas": strategy.num_replicas_in_sync}, indent=1))
    if checkpoint:
        callbacks.append(checkpoint)
    callbacks += [cbs.StopAtStep(recipe.iterations), *extra_callbacks]

    # ---------------------------------------------------------------- fit, in at most two segments
    total_epochs = recipe.iterations // E
    history: list[dict] = []
    segments = []
    if start < recipe.iterations:
        k, r = divmod(start, E)
        if r:
            segments.append((start, k, k + 1, E - r))
            k += 1
        if k < total_epochs:
            segments.append((k * E, k, total_epochs, E))
    for skip, first_epoch, last_epoch, steps in segments:
        h = model.fit(
            train_fn(skip),
            initial_epoch=first_epoch,
            epochs=last_epoch,
            steps_per_epoch=steps,
            validation_data=eval_ds,
            callbacks=callbacks,
            verbose=0,  # TrainingProgress prints instead of Keras' progress bar
            shuffle=False,  # the input pipeline shuffles (seeded, resumable)
        )
        n = len(h.epoch)
        history += [{k: float(v[i]) for k, v in h.history.items()} for i in range(n)]
        if nan.nan_step is not None or model.stop_training and cbs.current_step(model) < recipe.iterations:
            break
    if nan.nan_step is not None:
        raise cbs.NonFiniteLossError(nan.nan_step, nan.nan_value)
    steps_done = cbs.current_step(model)

    if recipe.recalibrate_bn:
        # Global training batches, not the per-replica stream: every replica/worker sets the same values.
        _recalibrate_bn(model, data.train, recipe.recalibrate_bn_batches)
    final = model.evaluate(_test_set(data), verbose=0, return_dict=True)
    final = {k: float(v) for k, v in final.items()}
    if ten_crop:
        from keras_resnet_paper.evaluation.ten_crop import evaluate_ten_crop

        crops = evaluate_ten_crop(model, data.validation_images, mean=data.mean)
        final.update({f"ten_crop_{k}": float(v) for k, v in crops.items()})
    if model_dir and chief:
        model.save_weights(os.path.join(model_dir, "final.weights.h5"))
        history = load_run(model_dir)["history"] or history
    result = TrainResult(
        model=model, recipe=recipe, model_name=model_name, model_dir=model_dir, history=history, final=final,
        steps=steps_done, resumed_from=start, wall_time_s=time.time() - t0, fallbacks=options.fallbacks,
    )
    if model_dir and chief and write_report:
        from keras_resnet_paper.training.report import write_report as _write

        result.report = _write(result, label=label)
    return result
