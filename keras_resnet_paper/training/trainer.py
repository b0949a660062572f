"""`train(...)`: one resolved run (`RunConfig`) on one runtime (`Runtime`), in named steps.

    strategy -> inputs -> model -> callbacks and resume -> fit -> finish

On any Keras backend (`backends`): TensorFlow runs `tf.distribute` strategies, JAX one device or
`keras.distribution` data parallelism, PyTorch one device; tf.data feeds all three.

Fault tolerance (Sec. 4.2's long schedules): one run per `model_dir` (a lock), checkpoints only of
finite, verified state, resume from the newest usable one, SIGTERM/SIGINT checkpoint and stop
(see `checkpoints` and `callbacks.SignalStop`).

Iterations are optimizer steps; one Keras "epoch" is one evaluation interval (`eval_every`
iterations), so the schedule, logs and plots are all in iterations, as in the paper (Sec. 4.2).
The model trains on logits (`task.ImageClassificationTask`); `TrainResult.model` is the trained
model with the softmax applied, for prediction, evaluation and export.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import keras
from absl import logging

from keras_resnet_paper import compat, terminal
from keras_resnet_paper.terminal import Phase
from keras_resnet_paper.training import backends, run_identity
from keras_resnet_paper.training import callbacks as cbs
from keras_resnet_paper.training import checkpoints as ckpts
from keras_resnet_paper.training.bn_recalibration import recalibrate_bn as _recalibrate_bn
from keras_resnet_paper.training.progress import PhaseSteps, TrainingProgress, batches_of
from keras_resnet_paper.training.recipes import Recipe
from keras_resnet_paper.training.run_config import RUN_OPTIONS, RunConfig, resolve_run
from keras_resnet_paper.training.runtime import RUNTIME_OPTIONS, Runtime, seed_process
from keras_resnet_paper.training.strategies import per_replica_batch, strategy_kind
from keras_resnet_paper.training.task import ImageClassificationTask, inference_model

__all__ = ["train", "TrainResult", "precision_scope", "split_options"]


@dataclasses.dataclass
class TrainResult:
    model: keras.Model  # the trained model with the classifier activation (softmax) applied
    config: RunConfig
    runtime: Runtime
    model_dir: str | None
    history: list[dict]  # one row per evaluation (iteration, loss, top1_error, val_top1_error, lr, ...)
    final: dict[str, float]  # test top1_error / top5_error / loss at the end (+ ten_crop_*)
    steps: int
    resumed_from: int
    wall_time_s: float  # this session, from the call to the result
    fallbacks: tuple[str, ...] = ()
    report: dict | None = None
    training_model: keras.Model | None = None  # the same weights, outputting logits
    earlier_wall_time_s: float = 0.0  # earlier sessions of a resumed run, each up to its last checkpoint
    skipped_files: dict[str, int] = dataclasses.field(default_factory=dict)  # skip_corrupt: file -> times skipped
    already_finished: bool = False  # the folder's run had finished: nothing was trained or rewritten

    @property
    def total_wall_time_s(self) -> float:
        """The run's time over all its sessions (an earlier session's time after its last
        checkpoint, lost to the kill, is not counted)."""
        return self.earlier_wall_time_s + self.wall_time_s

    @property
    def recipe(self) -> Recipe:
        return self.config.recipe

    @property
    def model_name(self) -> str:
        return self.config.model


@contextlib.contextmanager
def precision_scope(policy: str):
    """Set the global Keras dtype policy inside the block and restore it afterwards."""
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def split_options(
    run: RunConfig | Recipe | str, model_name: str | None, runtime: Runtime | None, options: dict[str, Any]
) -> tuple[RunConfig, Runtime]:
    """`train()`'s keyword options, split into the run (`resolve_run`) and the runtime."""
    unknown = sorted(set(options) - set(RUN_OPTIONS) - set(RUNTIME_OPTIONS))
    if unknown:
        raise TypeError(
            f"train() got unexpected options {unknown}; run options are {list(RUN_OPTIONS)}, "
            f"runtime options {list(RUNTIME_OPTIONS)}."
        )
    run_options = {k: v for k, v in options.items() if k in RUN_OPTIONS}
    runtime_options = {k: v for k, v in options.items() if k in RUNTIME_OPTIONS}
    if isinstance(run, RunConfig):
        if run_options or model_name:
            raise TypeError(f"train() got a RunConfig and run options {sorted(run_options)}: resolve them into it.")
        config = run
    else:
        config = resolve_run(run, model_name, **run_options)
    if runtime is not None and runtime_options:
        raise TypeError(f"train() got a Runtime and runtime options {sorted(runtime_options)}.")
    return config, runtime or Runtime(**runtime_options)


def _live_lines(verbose: int | str) -> bool | None:
    """Whether live lines are drawn: verbose 1 or "auto" on a terminal (None: where stdout is one)."""
    return None if verbose in (1, "auto") else False


def _progress(verbose: int | str, total: int, evaluation_batches: int | None) -> list[keras.callbacks.Callback]:
    """verbose 0: nothing; 1 or "auto": a live line on a terminal and a line per evaluation;
    2: a line per evaluation only."""
    if verbose == 0:
        return []
    return [TrainingProgress(total, interactive=_live_lines(verbose), evaluation_batches=evaluation_batches)]


# -------------------------------------------------------------------------------- the steps
def _strategy_and_options(runtime: Runtime):
    """The runtime's strategy on this Keras backend and its checked XLA/precision options."""
    if isinstance(runtime.strategy, str):
        strategy = backends.make_strategy(runtime.strategy, tpu=runtime.tpu)
    else:
        strategy = backends.as_strategy(runtime.strategy)
    return strategy, backends.resolve_options(strategy, runtime.jit_compile, runtime.precision, runtime.sync_bn)


@dataclasses.dataclass
class _Inputs:
    data: Any  # the whole data set (global batches)
    train_fn: Any  # skip -> the training stream, distributed when there are several replicas
    evaluation: Any  # a tf.data.Dataset: the validation set (else the test set) evaluated during training
    test: Any  # a tf.data.Dataset: the test set of the final evaluation


def _build_inputs(task: ImageClassificationTask, strategy, deterministic: bool) -> _Inputs:
    """The data; with several tf.distribute replicas each worker reads its shard in per-replica
    batches and its replicas take consecutive batches, so one step sees the same images as one
    device. keras.distribution (JAX) takes the global batches and splits them itself; over several
    JAX processes each reads its shard in per-process batches and evaluates its part of padded
    global batches (`distribution.evaluation_batches`)."""
    data = task.build_inputs(deterministic=deterministic)
    if task.config.ten_crop and getattr(data, "validation_images", None) is None:
        raise ValueError(
            f"ten_crop=True needs an ImageNet-style data set with validation images; recipe {task.config.recipe.name!r} "
            f"trains on {task.config.recipe.dataset!r}. Allowed: recipes whose data come from `imagenet_datasets`."
        )
    if strategy.num_replicas_in_sync > 1:
        per_replica_batch(task.config.global_batch, strategy)  # ValueError if the global batch does not split
    evaluation = data.validation if data.validation is not None else data.test
    if getattr(strategy, "num_processes", 1) > 1:
        return _multi_process_inputs(task, strategy, deterministic, data, evaluation)
    if strategy.num_replicas_in_sync > 1 and backends.is_tf_strategy(strategy):

        def train_fn(skip):
            def fn(ctx):
                stream = task.build_inputs(input_context=ctx, deterministic=deterministic).train
                return stream.skip(skip * (ctx.num_replicas_in_sync // ctx.num_input_pipelines))

            return strategy.distribute_datasets_from_function(fn)
    else:

        def train_fn(skip):
            return task.build_inputs(deterministic=deterministic).train.skip(skip) if skip else data.train

    return _Inputs(data, train_fn, evaluation, data.test)


def _multi_process_inputs(task: ImageClassificationTask, strategy, deterministic: bool, data, evaluation) -> _Inputs:
    """Several JAX processes: this process's shard of the training stream (per-process batches)
    and its part of every padded global evaluation batch."""
    from keras_resnet_paper.training.distribution import evaluation_batches

    config = task.config
    for flag, asked in (("ten_crop", config.ten_crop), ("recalibrate_bn", config.recipe.recalibrate_bn)):
        if asked:
            raise ValueError(
                f"{flag}=True is not available on multi-process JAX yet; evaluate final.weights.h5 "
                "on one machine instead."
            )
    context = strategy.input_context()
    shard = task.build_inputs(input_context=context, deterministic=deterministic).train

    def train_fn(skip):
        return shard.skip(skip) if skip else shard

    def padded(dataset):
        return evaluation_batches(dataset, config.global_batch, strategy.num_processes, strategy.process_id)

    test = padded(data.test)
    return _Inputs(data, train_fn, test if evaluation is data.test else padded(evaluation), test)


def _build_compiled_model(task, data, strategy, options, runtime: Runtime) -> keras.Model:
    """The logits model, compiled with the paper's loss, metrics and optimizer, built from the
    input's spec (no batch drawn)."""
    schedule = task.config.schedule
    if schedule.peak_lr != task.config.recipe.base_lr:
        logging.info(
            "Global batch %d vs recipe %d: lr scaled linearly %g -> %g with %d warm-up iterations.",
            task.config.global_batch,
            task.config.recipe.batch_size,
            task.config.recipe.base_lr,
            schedule.peak_lr,
            schedule.warmup_steps,
        )
    with precision_scope(options.precision), strategy.scope():
        model = task.build_model(data, sync_bn=runtime.sync_bn and strategy.num_replicas_in_sync > 1)
        optimizer = task.build_optimizer(mixed_float16=options.precision == "mixed_float16")
        # weighted: the padded evaluation batches of multi-process JAX weigh their padding 0
        model.compile(
            optimizer=optimizer,
            loss=task.build_losses(),
            weighted_metrics=task.build_metrics(),
            jit_compile=options.jit_compile,
            steps_per_execution=runtime.steps_per_execution,
        )
        optimizer.build(model.trainable_variables)
        if not compat.build_from_input_spec(model, data.train.element_spec):
            logging.warning("This Keras cannot build a model from its input spec (see compat.py); fit() builds it.")
        if backends.is_tf_strategy(strategy) and strategy_kind(strategy) == "multi_worker":
            model.train_step = compat.vector_logs(model.train_step)
            model.test_step = compat.vector_logs(model.test_step)
    return model


@dataclasses.dataclass
class _Session:
    callbacks: list
    nan: cbs.NanStop
    stop: cbs.SignalStop
    start: int
    earlier_history: list[dict]
    earlier_s: float = 0.0
    checkpoint: Any = None  # the StepCheckpoint (None without model_dir)
    run_json: str | None = None  # written by the chief


def _callbacks_and_resume(
    task,
    model,
    model_dir,
    runtime: Runtime,
    extra_callbacks,
    chief: bool,
    lock: ckpts.RunLock,
    cleanup: contextlib.ExitStack,
    environment: dict,
    evaluation_batches: int | None = None,
) -> _Session:
    """Progress, NaN stop, lr rules, logs, checkpoints and the SIGTERM/SIGINT stop (its signal
    handlers until `cleanup` closes); the model, optimizer and callback state restored from the
    newest usable checkpoint of `model_dir`, which the chief holds `lock` on (one run per folder);
    the chief writes run.json: the resolved run, the runtime and this session's `environment`."""
    config = task.config
    stateful, lr_callbacks = task.build_lr_callbacks()
    nan = cbs.NanStop(config.recipe.explode_factor)
    progress = _progress(runtime.verbose, config.recipe.iterations, evaluation_batches)
    callbacks = [cbs.IterationLogger(), *progress, nan, *lr_callbacks]
    start, earlier, earlier_s, checkpoint = 0, [], 0.0, None
    if model_dir:
        ckpt_dir = _open_run_folder(model_dir, chief, lock)
        checkpoint = cbs.StepCheckpoint(
            ckpt_dir,
            save_freq=config.recipe.checkpoint_every,
            monitor="val_top1_error",
            stateful=stateful,
            write=chief,
            health=nan,
        )
        record = {**config.to_dict(), "runtime": runtime.to_dict()}
        previous = run_identity.read_run_record(model_dir)  # checked by `train` before anything began
        state = cbs.restore_latest(model, ckpt_dir, owner=chief)
        if state is not None:
            checkpoint.set_state(state)
            start, earlier_s = int(state["step"]), checkpoint.earlier_training_s
            for callback in callbacks:
                if isinstance(callback, TrainingProgress):
                    callback.resume(earlier_s, checkpoint.best)
        if chief:  # a damaged best set aside; rows past where this run goes on (an abandoned stretch, a torn
            ckpts.set_aside_damaged_best(ckpt_dir)  # line) leave the history
            from keras_resnet_paper.training.report import truncate_history

            truncate_history(os.path.join(model_dir, "history.csv"), start)
        if state is not None:
            earlier = _earlier_history(model_dir, start)
            diverged = (previous or {}).get("diverged")
            after = f"; the run diverged at step {diverged['step']}" if diverged else ""
            terminal.say(f"Resuming from step {start} of {config.recipe.iterations} ({ckpt_dir}{after}).", sys.stdout)
        if chief:  # the log row before the checkpoint: a kill between them repeats a row, never loses one
            callbacks += _log_callbacks(model_dir, runtime)
            record.update(environment=environment, segments=run_identity.segments(previous, record, start))
            cbs.atomic_write_text(os.path.join(model_dir, "run.json"), json.dumps(record, indent=1))
        callbacks.append(checkpoint)
    stop = cleanup.enter_context(cbs.SignalStop(checkpoint))
    callbacks += [stop, cbs.StopAtStep(config.recipe.iterations), *extra_callbacks]
    run_json = os.path.join(model_dir, "run.json") if model_dir and chief else None
    return _Session(callbacks, nan, stop, start, earlier, earlier_s, checkpoint, run_json)


def _open_run_folder(model_dir: str, chief: bool, lock: ckpts.RunLock) -> str:
    """Make the run folder (only now: a run refused on its arguments or data leaves nothing), the
    chief locking and tidying it (only the chief writes); its checkpoint folder. A read-only or
    vanished folder, or no room: `CheckpointWriteError`, one line, exit 4."""
    ckpt_dir = os.path.join(model_dir, "checkpoints")
    try:
        os.makedirs(model_dir, exist_ok=True)
        if chief:
            lock.acquire()
            ckpts.remove_stale_temporaries(model_dir, ckpt_dir)
    except OSError as err:
        raise ckpts.CheckpointWriteError(f"cannot write in {model_dir} ({' '.join(str(err).split())})") from None
    return ckpt_dir


def _earlier_history(model_dir: str, start: int) -> list[dict]:
    """The evaluations a resumed run made before `start` (from its history.csv)."""
    from keras_resnet_paper.training.report import load_run

    return [row for row in load_run(model_dir)["history"] if row.get("iteration", 0) <= start]


def _log_callbacks(model_dir: str, runtime: Runtime) -> list:
    out = [keras.callbacks.CSVLogger(os.path.join(model_dir, "history.csv"), append=True)]
    if runtime.tensorboard and importlib.util.find_spec("tensorboard") is not None:
        out.append(keras.callbacks.TensorBoard(os.path.join(model_dir, "tensorboard"), update_freq="epoch"))
    elif runtime.tensorboard:
        logging.warning(
            "TensorBoard logs skipped: the `tensorboard` package is not installed (pip install tensorboard)."
        )
    return out


def _fit(model, inputs: _Inputs, session: _Session, recipe: Recipe) -> list[dict]:
    """`fit` in at most two segments (the rest of an interrupted evaluation interval, then whole
    ones), one Keras epoch per evaluation; the history rows of this process."""
    every = recipe.eval_every
    total_epochs = recipe.iterations // every
    segments = []
    if session.start < recipe.iterations:
        k, r = divmod(session.start, every)
        if r:
            segments.append((session.start, k, k + 1, every - r))
            k += 1
        if k < total_epochs:
            segments.append((k * every, k, total_epochs, every))
    history: list[dict] = []
    for skip, first_epoch, last_epoch, steps in segments:
        h = model.fit(
            inputs.train_fn(skip),
            initial_epoch=first_epoch,
            epochs=last_epoch,
            steps_per_epoch=steps,
            validation_data=inputs.evaluation,
            callbacks=session.callbacks,
            verbose=0,  # TrainingProgress prints instead of Keras' progress bar
            shuffle=False,
        )  # the input pipeline shuffles (seeded, resumable)
        history += [{k: float(v[i]) for k, v in h.history.items()} for i in range(len(h.epoch))]
        if session.nan.nan_step is not None or (model.stop_training and cbs.current_step(model) < recipe.iterations):
            break
    if session.nan.nan_step is None:
        session.stop.stop_if_asked()  # a signal during the last evaluation
    else:
        _diverged(session)
    return history


def _diverged(session: _Session) -> None:
    """Record in run.json where the run diverged and its last healthy checkpoint (a lower --lr may
    then resume from it: `run_identity`), and raise `NonFiniteLossError` saying so."""
    healthy = None
    if session.checkpoint is not None and session.checkpoint.write:  # the chief: its weights made the loss
        healthy = ckpts.set_aside_unhealthy(session.checkpoint.directory, session.nan.nan_step)
    if session.run_json and os.path.exists(session.run_json):
        try:
            record = run_identity.read_run_record(os.path.dirname(session.run_json))
        except ValueError:  # damaged meanwhile: the divergence still stops the run with its own exit
            record = {}
        record["diverged"] = {"step": session.nan.nan_step, "loss": session.nan.nan_value, "healthy_step": healthy}
        cbs.atomic_write_text(session.run_json, json.dumps(record, indent=1))
    raise cbs.NonFiniteLossError(session.nan.nan_step, session.nan.nan_value, healthy, session.nan.limit)


class _Stopped(Exception):
    """A signal came during 10-crop testing: the loop ends at its next batch."""


def _ten_crop(predictor, inputs: _Inputs, live: bool | None, stop: cbs.SignalStop) -> dict:
    """The 10-crop errors (Sec. 3.4) with their progress; a signal stops them at the next batch
    (this process's own loop, no collective), then `stop` checkpoints and raises."""
    from keras_resnet_paper.evaluation.ten_crop import evaluate_ten_crop

    images = inputs.data.validation_images
    with Phase("10-crop testing (Sec. 3.4)", batches_of(images), live=live) as phase:

        def on_images(done: int) -> None:
            phase.advance(done)
            if stop.signum is not None:
                raise _Stopped

        try:
            crops = evaluate_ten_crop(predictor, images, mean=inputs.data.mean, on_images=on_images)
        except _Stopped:
            crops = None
    stop.stop_if_asked()  # every process comes here: they agree, checkpoint and raise `TrainingInterrupted`
    return {f"ten_crop_{k}": float(v) for k, v in crops.items()}


def _finish(
    model, inputs: _Inputs, config: RunConfig, model_dir: str | None, chief: bool, live: bool | None, stop
) -> tuple[keras.Model, dict]:
    """BN re-estimation (if the recipe asks), the final test errors, the 10-crop errors (if asked),
    the final weights, each a `Phase` on a terminal; returns (the softmax model, the final metrics).
    A SIGTERM/SIGINT (`stop`) ends the run after the phase it came in: checkpointed, resumable."""
    recipe = config.recipe
    if stop.model is None:  # a resumed run with nothing left to train: fit never gave it the model
        stop.set_model(model)
    if recipe.recalibrate_bn:
        with Phase("Re-estimating the BN statistics (Sec. 3.4)", recipe.recalibrate_bn_batches, live=live) as phase:
            # Global training batches, not the per-replica stream: every replica/worker sets the same values.
            _recalibrate_bn(model, phase.steps(inputs.data.train), recipe.recalibrate_bn_batches)
        stop.stop_if_asked()
    with Phase("Evaluating on the test set", batches_of(inputs.test), live=live) as phase:
        final = model.evaluate(inputs.test, verbose=0, return_dict=True, callbacks=[PhaseSteps(phase)])
    stop.stop_if_asked()
    final = {k: float(v) for k, v in final.items()}
    predictor = inference_model(model)
    if config.ten_crop:
        final.update(_ten_crop(predictor, inputs, live, stop))
    if model_dir and chief:
        ckpts.save_weights_checked(model, os.path.join(model_dir, "final.weights.h5"))
    return predictor, final


def _finished_report(model_dir: str | None, start: int, iterations: int) -> dict | None:
    """The report of a run that had already finished (resumed at its last iteration), else None."""
    path = os.path.join(model_dir, "report.json") if model_dir else None
    if start < iterations or path is None or not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        return report if isinstance(report, dict) and report.get("test_top1_error") is not None else None
    except (OSError, ValueError):
        return None  # a damaged report: the run is evaluated and reported again


def _finished_result(report: dict, model, config, runtime, model_dir, session, options_) -> TrainResult:
    """A finished run's result from its report: its final errors and its own total time."""
    final = {
        "top1_error": report["test_top1_error"],
        "top5_error": report.get("test_top5_error"),
        "loss": report.get("test_loss"),
    }
    return TrainResult(
        model=inference_model(model),
        config=config,
        runtime=runtime,
        model_dir=model_dir,
        history=session.earlier_history,
        final={k: v for k, v in final.items() if v is not None},
        steps=cbs.current_step(model),
        resumed_from=session.start,
        wall_time_s=float(report.get("total_wall_time_s") or report.get("wall_time_s") or 0.0),
        fallbacks=options_.fallbacks,
        report=report,
        training_model=model,
        already_finished=True,
    )


def _report(result: TrainResult, chief: bool, label: str | None) -> None:
    """The run's report in its folder (the chief only, when the runtime asks for it)."""
    if result.model_dir and chief and result.runtime.write_report:
        from keras_resnet_paper.training.report import write_report

        try:
            result.report = write_report(result, label=label)
        except OSError as err:  # no room, a read-only or vanished folder: one line, exit 4
            raise ckpts.CheckpointWriteError(
                f"could not write the report in {result.model_dir} ({' '.join(str(err).split())})"
            ) from None


def _readable_data_errors():
    """`data.decode.readable_data_errors()`: tf.data's module, imported with the data, not before."""
    from keras_resnet_paper.data.decode import readable_data_errors

    return readable_data_errors()


def _set_up_process(cleanup: contextlib.ExitStack, config: RunConfig, runtime: Runtime) -> None:
    """Corrupt files met inside tf.data become a ValueError naming them (until `cleanup` closes);
    tf.data on the host; the run's seeds (and determinism, if asked)."""
    cleanup.enter_context(_readable_data_errors())
    backends.data_on_host()
    seed_process(config.seed, runtime.deterministic)


def _check_model_dir(model_dir: str | None, config: RunConfig, runtime: Runtime) -> None:
    """A file is not a run folder; a folder that holds another run is refused before anything starts."""
    if model_dir and os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ValueError(f"model_dir={model_dir!r} is a file; give a folder for the run's checkpoints and logs.")
    if model_dir and os.path.isdir(model_dir):
        run_identity.check_same_run(model_dir, {**config.to_dict(), "runtime": runtime.to_dict()})


def train(
    run: RunConfig | Recipe | str = "cifar10_paper",
    model_name: str | None = None,
    *,
    model_dir: str | None = None,
    runtime: Runtime | None = None,
    data_source: Any = None,
    input_shape: Sequence[int] | None = None,
    model_kwargs: dict | None = None,
    label: str | None = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    **options: Any,
) -> TrainResult:
    """Train a model of the paper with a recipe, resuming from `model_dir`'s checkpoint if any.

    `run` is a `RunConfig` (from `resolve_run`), or a recipe (name) that `options` such as
    `offline=True`, `iterations=`, `lr=`, `batch_size=` (the global batch), `overrides={...}`
    resolve into one; the other `options` (`strategy=`, `precision=`, `jit_compile=`,
    `deterministic=`, `verbose=`, ...) make the `Runtime`. `data_source` replaces the recipe's
    data set (e.g. an (x_train, y_train, x_test, y_test) tuple). Raises `NonFiniteLossError` if the
    loss diverges (`checkpoints.NonFiniteStateError` if the weights do first), `TrainingInterrupted`
    after checkpointing on SIGTERM/SIGINT, `checkpoints.RunFolderBusyError` if another run holds
    `model_dir`, `checkpoints.CheckpointWriteError` if a checkpoint cannot be written,
    `data.decode.CorruptDataError` (a ValueError) if an image file cannot be read (steps: module doc).
    """
    t0 = time.time()
    config, runtime = split_options(run, model_name, runtime, options)
    _check_model_dir(model_dir, config, runtime)
    # the folder lock, signal handlers and distribution scope, released on any exit
    with contextlib.ExitStack() as cleanup:
        _set_up_process(cleanup, config, runtime)
        strategy, options_ = _strategy_and_options(runtime)  # joins a multi-process JAX cluster first
        chief = backends.is_chief()
        lock = cleanup.enter_context(ckpts.RunLock(model_dir if model_dir and chief else None))  # taken at once
        cleanup.enter_context(backends.run_scope(strategy))
        with Phase(f"Loading the data and building {config.model}", live=_live_lines(runtime.verbose)):
            task = ImageClassificationTask(
                config, **dict(data_source=data_source, input_shape=input_shape, model_kwargs=model_kwargs)
            )
            inputs = _build_inputs(task, strategy, runtime.deterministic)
            model = _build_compiled_model(task, inputs.data, strategy, options_, runtime)
            environment = backends.run_environment(strategy) if model_dir and chief else {}
            session = _callbacks_and_resume(
                task, model, model_dir, runtime, extra_callbacks, chief, lock, cleanup, environment,
                batches_of(inputs.evaluation),
            )  # fmt: skip
        finished = _finished_report(model_dir, session.start, config.recipe.iterations)
        if finished is not None:  # run again when done: nothing is trained, evaluated or rewritten
            return _finished_result(finished, model, config, runtime, model_dir, session, options_)
        history = session.earlier_history + _fit(model, inputs, session, config.recipe)
        predictor, final = _finish(model, inputs, config, model_dir, chief, _live_lines(runtime.verbose), session.stop)
        result = TrainResult(
            model=predictor, config=config, runtime=runtime, model_dir=model_dir, history=history, final=final,
            steps=cbs.current_step(model), resumed_from=session.start, wall_time_s=time.time() - t0,
            fallbacks=options_.fallbacks, training_model=model, earlier_wall_time_s=session.earlier_s,
            skipped_files=dict(getattr(inputs.data, "skipped_files", {}) or {}),
        )  # fmt: skip
        _report(result, chief, label)
    return result
