"""Command line: train a model of the paper with one of its recipes.

    python -m keras_resnet_paper.train --recipe cifar10_paper --model resnet20 --offline
    python -m keras_resnet_paper.train --list_recipes
    python -m keras_resnet_paper.train --recipe imagenet_paper --print_recipe
    keras-resnet-paper-train --recipe cifar10_paper --model resnet110 --data_dir ~/tensorflow_datasets

Run it again with the same --model_dir to resume after an interruption.

Exit status: 0 done; 2 a command-line mistake, or --model_dir in use by another run; 3 the loss or
the weights became NaN/inf (no checkpoint of them is kept); 4 a checkpoint could not be written
(disk full or read-only; the previous one is intact); 143 stopped by SIGTERM, 130 by SIGINT, after
checkpointing the current step (run the same command to resume).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys

from absl import flags, logging

from keras_resnet_paper import cli, startup, terminal
from keras_resnet_paper.models.variants import variant_names
from keras_resnet_paper.training import run_options

#: Exit status when the loss or the weights became NaN/inf.
NON_FINITE_EXIT = 3
#: Exit status when a checkpoint could not be written (disk full or read-only).
WRITE_FAILED_EXIT = 4

FLAGS = flags.FLAGS

flags.DEFINE_string("recipe", "cifar10_paper", "Recipe name (see --list_recipes).")
flags.DEFINE_bool("list_recipes", False, "List the recipes and exit.")
flags.DEFINE_bool(
    "print_recipe",
    False,
    "Print the run exactly as it would train (recipe after --offline, --override, --iterations, --lr, --batch_size ...) and exit.",
)
flags.DEFINE_string(
    "model",
    None,
    f"Model: {', '.join(variant_names())}, or cifar_resnet<6n+2> / cifar_plain<6n+2> for any CIFAR depth "
    "(the short resnet<6n+2> too where no ImageNet net has that name). Default: the recipe's.",
)
run_options.define_flags(__name__)  # the run's options, defined once (training/run_options.py)
flags.DEFINE_enum(
    "strategy",
    "auto",
    ["auto", "default", "mirrored", "multi_worker", "tpu"],
    "Distribution: auto (every local accelerator when there are several, else one device); default (one device); mirrored (all local devices: tf.distribute.MirroredStrategy on TensorFlow, keras.distribution.DataParallel on JAX); multi_worker (several machines: MultiWorkerMirroredStrategy from TF_CONFIG on TensorFlow; processes joined by KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES and _PROCESS_ID on JAX); tpu (TensorFlow only). PyTorch: one device.",
)
flags.DEFINE_string("tpu", None, "TPU name/address for --strategy=tpu.")
flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_float16", "mixed_bfloat16"], "Precision policy.")
flags.DEFINE_integer("steps_per_execution", 1, lower_bound=1, help="Train steps per tf.function call.")
flags.DEFINE_string(
    "model_dir",
    None,
    "Checkpoints, logs, report (default runs/<recipe>/<model>, runs/<recipe>/<model>_<shortcut> with --shortcut; --offline runs are recipe cifar10_offline).",
)
flags.DEFINE_bool(
    "restart",
    False,
    "Start the run afresh: move what --model_dir holds (checkpoints, logs, run.json) to <model_dir>/previous-<n>/ first.",
)
flags.DEFINE_bool("deterministic", False, "Deterministic ops and input order (repeatable runs on one machine).")
flags.DEFINE_bool(
    "sync_bn", False, "BN statistics over the global batch across replicas (default: per replica, as in the paper)."
)
flags.DEFINE_bool("tensorboard", True, "Write TensorBoard logs (needs the tensorboard package).")
flags.DEFINE_bool(
    "framework_logs",
    False,
    "Show TensorFlow's own start-up and C++ log lines (hidden by default; also shown with TF_CPP_MIN_LOG_LEVEL=0).",
)
flags.DEFINE_enum(
    "verbose",
    "auto",
    ["0", "1", "2", "auto"],
    "Output: 0 silent; 1 a live progress line and one line per evaluation; 2 one line per evaluation; auto: 1 on a terminal, else 2.",
)


def resolve(flag_values=FLAGS):
    """The run the flags describe (`RunConfig`), exactly what `--print_recipe` prints and what
    trains; a bad value is a `cli.UsageError` naming it."""
    from keras_resnet_paper.training.run_config import resolve_run

    f = flag_values
    try:
        return resolve_run(f.recipe, f.model, **run_options.from_flags(f))
    except ValueError as err:
        message = str(err)
        if message.startswith(("model=", "shortcut=")):
            message = "--" + message
        raise cli.UsageError(message) from None


def runtime(flag_values=FLAGS):
    """The execution switches the flags describe (`Runtime`)."""
    from keras_resnet_paper.training.runtime import Runtime

    f = flag_values
    return Runtime(
        strategy=f.strategy,
        tpu=f.tpu,
        precision=f.precision,
        jit_compile=f.jit_compile,
        steps_per_execution=f.steps_per_execution,
        deterministic=f.deterministic,
        sync_bn=f.sync_bn,
        verbose=f.verbose if f.verbose == "auto" else int(f.verbose),
        tensorboard=f.tensorboard,
    )


def _remove_if_empty(path: str) -> None:
    """Remove a run folder this command created if the run wrote nothing into it."""
    for _, _, files in os.walk(path):
        if files:
            return
    shutil.rmtree(path, ignore_errors=True)


def main(argv) -> int:
    del argv
    from keras_resnet_paper.training import recipes as recipes_lib

    if FLAGS.list_recipes:
        for name in recipes_lib.list_recipes():
            print(f"{name:18s} {recipes_lib.RECIPES[name].description}")
        return 0
    config = resolve()
    if FLAGS.print_recipe:
        print(config.describe())
        return 0
    model_dir = FLAGS.model_dir or os.path.join(
        "runs", config.recipe.name, config.model + (f"_{config.shortcut}" if config.shortcut else "")
    )
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise cli.UsageError(f"--model_dir={model_dir!r} is a file; give a folder for the run's checkpoints and logs.")
    existed = os.path.exists(model_dir)
    from keras_resnet_paper.training.trainer import train

    if FLAGS.restart:
        _set_aside(model_dir)

    from keras_resnet_paper.training.callbacks import NonFiniteLossError, TrainingInterrupted
    from keras_resnet_paper.training.checkpoints import CheckpointWriteError, NonFiniteStateError, RunFolderBusyError

    try:
        result = train(config, model_dir=model_dir, runtime=runtime())
    except (NonFiniteLossError, NonFiniteStateError) as err:
        terminal.say(str(err))
        return NON_FINITE_EXIT
    except TrainingInterrupted as err:
        terminal.say(str(err))
        return err.exit_status
    except CheckpointWriteError as err:
        terminal.say(f"Training stopped: {err}.")
        return WRITE_FAILED_EXIT
    except RunFolderBusyError as err:
        raise cli.UsageError(err) from None
    except KeyboardInterrupt as err:  # outside training (during it, a signal checkpoints: TrainingInterrupted)
        signum = getattr(err, "signum", signal.SIGINT)
        terminal.say(_stopped_outside_training(signal.Signals(signum).name, model_dir, existed))
        return 128 + signum
    except ValueError as err:
        logging.debug("Run stopped on a ValueError", exc_info=True)
        raise cli.UsageError(err) from None
    finally:
        if not existed and os.path.isdir(model_dir):
            _remove_if_empty(model_dir)
    print(_summary(result), flush=True)
    return 0


def _stopped_outside_training(signal_name: str, model_dir: str, existed: bool) -> str:
    """What a SIGINT or SIGTERM before or after training did: nothing trained yet, or the run kept."""
    checkpoints = os.path.join(model_dir, "checkpoints")
    if not existed and not (os.path.isdir(checkpoints) and os.listdir(checkpoints)):
        return f"Stopped by {signal_name} before training started: nothing was trained."
    return (
        f"Stopped by {signal_name}: the run is kept in {model_dir}; the same command goes on from its last checkpoint."
    )


def _set_aside(model_dir: str) -> None:
    """--restart: the folder's earlier run moved whole to previous-<n>/ (one line says where)."""
    from keras_resnet_paper.training.run_identity import set_aside_run

    try:
        moved = set_aside_run(model_dir)
    except OSError as err:
        raise cli.UsageError(f"--restart: cannot move the earlier run in {model_dir} aside ({err}).") from None
    if moved:
        print(f"Restarting: the earlier run of {model_dir} is now in {moved}.", flush=True)


def _summary(result) -> str:
    """The closing lines: errors, wall time and where the logs, plots and weights are."""
    head = (
        f"Already finished: {result.model_name}, recipe {result.recipe.name}, {result.steps} iterations, "
        f"{result.wall_time_s:.0f} s; nothing trained or rewritten (more --iterations go on, --restart starts afresh)."
        if result.already_finished
        else f"Done: {result.model_name}, recipe {result.recipe.name}, {result.steps} iterations"
        f"{f' (resumed at {result.resumed_from})' if result.resumed_from else ''}, {result.wall_time_s:.0f} s."
    )
    lines = [
        head,
        f"  test top-1 error {100 * result.final['top1_error']:.2f}%, top-5 error {100 * result.final['top5_error']:.2f}%",
    ]
    for fallback in result.fallbacks:
        lines.append(f"  fallback: {fallback}")
    if result.skipped_files:
        names = sorted(result.skipped_files)
        shown = ", ".join(os.path.basename(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        lines.append(f"  skipped {len(names)} unreadable file(s) (--skip_corrupt): {shown}")
    if result.model_dir:
        for name in ("history.csv", "error_curves.png", "report.md", "best.weights.h5", "final.weights.h5"):
            for path in (os.path.join(result.model_dir, name), os.path.join(result.model_dir, "checkpoints", name)):
                if os.path.exists(path):
                    lines.append(f"  {name:<17} {path}")
    return "\n".join(lines)


def run() -> None:
    """Entry point of `python -m keras_resnet_paper.train`, `keras-resnet-paper-train` and the
    example wrappers: a quiet, interruptible start (`startup`); `--help` lists every flag; a
    mistake is one line and exit status 2."""
    try:
        startup.quiet_start()
        cli.run(main, doc=__doc__, modules=(__name__, "keras_resnet_paper.train"))
    except KeyboardInterrupt as err:  # SIGINT or SIGTERM before `main` could answer it (startup.Interrupted)
        signum = getattr(err, "signum", signal.SIGINT)
        terminal.say(startup.stopped_at_start_up(signum))
        sys.exit(128 + signum)


if __name__ == "__main__":
    run()
