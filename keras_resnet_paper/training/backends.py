"""The Keras backend a run trains on (TensorFlow, JAX or PyTorch) and what each one offers.

Keras reads the backend once, at import, from `KERAS_BACKEND` (or ~/.keras/keras.json). The
models, `PaperSGD`, the schedules, the callbacks and `data.PadCropFlip` are pure Keras and run on
all three; tf.data is the input pipeline everywhere (Keras feeds its batches to every backend);
how the step is compiled and spread over devices is the backend's:

    feature                  tensorflow                 jax                           torch
    one device               yes                        yes                           yes
    all local devices        MirroredStrategy           keras.distribution            -
    several machines         MultiWorkerMirrored        keras.distribution processes  -
    TPU (--strategy=tpu)     TPUStrategy                TPU cores are local devices   -
    XLA                      --jit_compile              always (every step is jitted) -

A strategy a backend lacks is a ValueError saying which backend has it. Several machines on JAX:
`distribution.make_distribution("multi_worker")` (the cluster from Keras' environment variables,
as `TF_CONFIG` on TensorFlow). On JAX and PyTorch,
`train()` hides the accelerators from TensorFlow (tf.data runs on the host) so that TensorFlow does
not take their memory; see `data_on_host`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import keras
from absl import logging

__all__ = [
    "BACKENDS",
    "BACKEND_SUPPORT",
    "current_backend",
    "data_on_host",
    "is_chief",
    "is_tf_strategy",
    "make_strategy",
    "resolve_options",
    "run_scope",
    "as_strategy",
    "run_environment",
    "agreement",
]

BACKENDS = ("tensorflow", "jax", "torch")

#: --strategy -> the backends that run it
BACKEND_SUPPORT = {
    "auto": BACKENDS,
    "default": BACKENDS,
    "mirrored": ("tensorflow", "jax"),
    "multi_worker": ("tensorflow", "jax"),
    "tpu": ("tensorflow",),
}

_HINTS = {("tpu", "jax"): "JAX sees a TPU's cores as local devices, use --strategy=auto or mirrored"}


def current_backend() -> str:
    """The Keras backend of this process ("tensorflow", "jax" or "torch")."""
    return keras.backend.backend()


def _check_supported(strategy: str, backend: str) -> None:
    allowed = BACKEND_SUPPORT.get(strategy)
    if allowed is None:
        raise ValueError(f"--strategy={strategy!r}; choose one of {tuple(BACKEND_SUPPORT)}.")
    if backend not in allowed:
        others = " or ".join(f"KERAS_BACKEND={b}" for b in allowed)
        hint = _HINTS.get((strategy, backend), "it trains on one device there (--strategy=default)")
        raise ValueError(f"--strategy={strategy} runs on {others}, not on the {backend} backend: {hint}.")


def data_on_host() -> None:
    """On JAX and PyTorch: keep TensorFlow (tf.data) off the GPUs before it first touches them, so
    the backend has their memory. This is process-wide, like the backend choice itself; a warning
    if TensorFlow was already initialised."""
    if current_backend() == "tensorflow":
        return
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError as err:  # TensorFlow already made its devices in this process
        logging.warning("tf.data may hold GPU memory: TensorFlow was initialised before training (%s).", err)


def make_strategy(name: str = "auto", tpu: str | None = None) -> Any:
    """`--strategy` `name` on this backend: a `tf.distribute.Strategy` on TensorFlow, a
    `distribution.KerasDistribution` on JAX and PyTorch (PyTorch: one device)."""
    backend = current_backend()
    _check_supported(name, backend)
    if backend == "tensorflow":
        from keras_resnet_paper.training.strategies import make_strategy as make_tf_strategy

        return make_tf_strategy(name, tpu=tpu)
    from keras_resnet_paper.training.distribution import KerasDistribution, make_distribution

    if backend == "torch":
        return KerasDistribution(None, "default")
    return make_distribution(name)


def is_tf_strategy(strategy: Any) -> bool:
    """Whether `strategy` is a tf.distribute.Strategy (only on the TensorFlow backend)."""
    if current_backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.Strategy)


def as_strategy(strategy: Any) -> Any:
    """A `Runtime.strategy` object as the trainer uses it: a tf.distribute.Strategy on TensorFlow,
    a `keras.distribution.Distribution` (JAX) wrapped in a `KerasDistribution`."""
    from keras_resnet_paper.training.distribution import KerasDistribution

    if isinstance(strategy, KerasDistribution) or is_tf_strategy(strategy):
        return strategy
    if isinstance(strategy, keras.distribution.Distribution) and current_backend() == "jax":
        return KerasDistribution(strategy, "mirrored")
    raise ValueError(
        f"strategy={strategy!r} does not run on the {current_backend()} backend; give a --strategy "
        "name, a tf.distribute.Strategy (TensorFlow) or a keras.distribution.Distribution (JAX)."
    )


def run_scope(strategy: Any) -> contextlib.AbstractContextManager:
    """What the whole run executes in: the keras.distribution scope on JAX (variables, fit and
    evaluate laid out over the devices); nothing on TensorFlow, whose strategy Keras keeps in the model."""
    return contextlib.nullcontext() if is_tf_strategy(strategy) else strategy.scope()


def _on_accelerator(backend: str) -> bool:
    if backend == "jax":
        return any(not d.startswith("cpu") for d in keras.distribution.list_devices())
    import torch

    return torch.cuda.is_available()


def resolve_options(strategy: Any, jit_compile: bool, precision: str, sync_bn: bool = False):
    """XLA and precision checked against the strategy and the devices (`strategies.RunOptions`),
    each fallback logged. TensorFlow: `strategies.resolve_options`. JAX compiles every step with
    XLA whatever `jit_compile` says (an eager JAX step is a debugging mode, tens of times slower);
    PyTorch runs eagerly (`jit_compile`, torch.compile, falls back: Keras 3.15's layers make Dynamo
    recompile past its limit). On JAX with several devices
    BN statistics are over the global batch (a fallback note: TensorFlow's are per replica)."""
    from keras_resnet_paper.training import strategies

    if is_tf_strategy(strategy):
        return strategies.resolve_options(strategy, jit_compile, precision)
    if precision not in strategies.PRECISIONS:
        raise ValueError(f"--precision={precision!r}; choose one of {strategies.PRECISIONS}.")
    backend = current_backend()
    notes = []
    if precision == "mixed_float16" and not _on_accelerator(backend):
        notes.append("mixed_float16 on CPU runs but is emulated and slow; use a GPU for speed.")
    if backend == "torch" and jit_compile:
        notes.append(
            "--jit_compile (torch.compile) is off on the torch backend: Dynamo recompiles Keras' layers "
            "past its limit and the step compiles for minutes; the step runs eagerly."
        )
        jit_compile = False
    if backend == "jax" and strategy.num_replicas_in_sync > 1 and not sync_bn:
        notes.append(
            "BN statistics are over the global batch on JAX's data parallelism (as --sync_bn), "
            "not per replica as on TensorFlow's mirrored strategy."
        )
    for note in notes:
        logging.warning("%s", note)
    return strategies.RunOptions(
        jit_compile=True if backend == "jax" else jit_compile, precision=precision, fallbacks=tuple(notes)
    )


def is_chief() -> bool:
    """True on the process that writes logs, checkpoints and the report: TF_CONFIG's chief
    (worker 0) on TensorFlow; process 0 on JAX (after `make_strategy` joined its cluster); the
    one process on PyTorch."""
    if current_backend() == "jax":
        import jax

        return jax.process_index() == 0
    if current_backend() != "tensorflow":
        return True
    from keras_resnet_paper.training.strategies import is_chief as tf_is_chief

    return tf_is_chief()


def agreement(model: keras.Model | None = None) -> Callable[[bool], bool]:
    """A function of a flag: whether it is true on any process of the run, every process calling
    it at the same step. Over the workers of `model`'s TensorFlow multi-worker strategy (an
    all-reduce) or the processes of a multi-process JAX run (an all-gather); else the flag itself.
    Lets every process stop at the step where one of them was told to (a signal), rather than one
    stopping while the others wait for it in the next step's collective."""
    backend = current_backend()
    if backend == "tensorflow" and model is not None:
        from keras_resnet_paper.training.strategies import worker_agreement

        return worker_agreement(getattr(model, "distribute_strategy", None))
    if backend == "jax":
        import jax

        if jax.process_count() > 1:
            import numpy as np
            from jax.experimental import multihost_utils

            return lambda flag: bool(np.asarray(multihost_utils.process_allgather(np.int32(flag))).any())
    return bool


def _devices(strategy: Any) -> tuple[list[str], list[str]]:
    """(the devices the run's replicas use, the accelerators' model names) on this backend."""
    backend = current_backend()
    if is_tf_strategy(strategy):
        import tensorflow as tf

        names = [
            tf.config.experimental.get_device_details(g).get("device_name", "GPU")
            for g in tf.config.list_physical_devices("GPU")
        ]
        return [str(d) for d in strategy.extended.worker_devices], names
    if backend == "jax":
        import jax

        devices = (
            list(strategy.distribution.device_mesh.devices.flatten())
            if strategy.distribution is not None
            else [keras.distribution.list_devices()[0]]
        )  # Keras' names: "cpu:0", "gpu:1", ...
        return [str(d) for d in devices], sorted({d.device_kind for d in jax.devices() if d.platform != "cpu"})
    import torch

    if torch.cuda.is_available():
        return ["cuda:0"], [torch.cuda.get_device_name(0)]
    return ["cpu"], []


def run_environment(strategy: Any) -> dict:
    """What run.json records beside the run: the backend, the devices and accelerators the run
    used, its replicas, and the machine and package versions (`machine.describe_machine`)."""
    from keras_resnet_paper.machine import describe_machine

    devices, accelerators = _devices(strategy)
    return {
        "backend": current_backend(),
        "devices": devices,
        "accelerators": accelerators,
        "replicas": int(strategy.num_replicas_in_sync),
        **describe_machine(),
    }
