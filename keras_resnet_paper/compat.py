"""Every use of a private Keras API in the library, each with the reason it is needed.

Keras 3 has no public way to do the few things below. Each function names the upstream issue or
the missing public API it works around; `tests/test_compat.py` checks that every private name
still exists in the installed Keras (and names the Keras versions this module was checked with),
so a Keras upgrade that removes one fails there with a clear message instead of deep in a run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

__all__ = [
    "CHECKED_KERAS_VERSIONS",
    "PRIVATE_APIS",
    "ScaledLearningRate",
    "build_from_input_spec",
    "to_snake_case",
    "track_optimizer_variable",
    "vector_logs",
]

#: Keras versions this module was checked against (tests/test_compat.py).
CHECKED_KERAS_VERSIONS = ("3.15.1",)

#: (owner, private attribute, why) for every private name used here on this Keras backend
#: (`_maybe_symbolic_build` is the TensorFlow trainer's).
PRIVATE_APIS = (
    (keras.Model, "_symbolic_build", "build a compiled model from the input's spec (keras-team/keras#20585)"),
    *(
        [
            (
                keras.Model,
                "_maybe_symbolic_build",
                "stop fit() from drawing and reducing a batch (keras-team/keras#20585)",
            )
        ]
        if keras.backend.backend() == "tensorflow"
        else []
    ),
    (
        keras.optimizers.Optimizer,
        "_track_variable",
        "optimizer variables created outside build() are saved "
        "with the optimizer (no public add-a-tracked-variable API)",
    ),
    (
        keras.optimizers.Optimizer,
        "_get_current_learning_rate",
        "the learning rate the update uses, scaled by the optimizer's own variables (no public hook)",
    ),
)


def build_from_input_spec(model: keras.Model, element_spec: Any) -> bool:
    """Build a compiled model from the shapes of its input, so `fit` draws no batch to build it.

    Under a tf.distribute strategy Keras 3's `fit` otherwise takes one batch of the training input,
    reduces it across replicas and restarts the input: that reduction fails under
    MultiWorkerMirroredStrategy (keras-team/keras#20585), and the restart reshuffles the data.
    On JAX and PyTorch `fit` calls `_symbolic_build` itself, which draws a batch only for an
    unbuilt model: built here, it draws none.
    Returns False (and leaves `fit` to build the model) if this Keras lacks the private hooks.
    """
    build = getattr(model, "_symbolic_build", None)
    if build is None:
        return False
    if keras.backend.backend() != "tensorflow":  # fit calls _symbolic_build, which skips a built model
        build(data_batch=element_spec)
        return True
    if not hasattr(model, "_maybe_symbolic_build"):
        return False
    with model.distribute_strategy.scope():
        build(data_batch=element_spec)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    return True


def vector_logs(step: Callable) -> Callable:
    """Wrap a train/test step so its scalar logs have shape [1].

    Keras 3 reduces the logs of a MultiWorkerMirroredStrategy step with
    `strategy.reduce("MEAN", value, axis=0)`, which rejects scalars (keras-team/keras#20585);
    a [1] vector reduces to the mean over the workers.
    """

    def wrapped(data):
        logs = step(data)
        return {k: keras.ops.reshape(v, (1,)) if len(getattr(v, "shape", ())) == 0 else v for k, v in logs.items()}

    return wrapped


def track_optimizer_variable(optimizer: keras.optimizers.Optimizer, variable: keras.Variable) -> None:
    """Make `variable` part of the optimizer's saved state (its checkpoints and `variables`).

    Keras 3 tracks only the variables an optimizer makes in `build()` with `add_variable`; a
    variable that must exist before the optimizer is built (so callbacks can set it) needs the
    private `_track_variable`.
    """
    optimizer._track_variable(variable)


class ScaledLearningRate:
    """Mixin for a Keras optimizer: the learning rate of every update is the schedule's value times
    `self.learning_rate_scale()`, and `optimizer.learning_rate` reports that product.

    Keras 3 computes the rate of an update in the private `_get_current_learning_rate`; there is
    no public hook between the schedule and the update.
    """

    def learning_rate_scale(self):  # pragma: no cover - overridden
        return 1.0

    def _get_current_learning_rate(self):
        rate = super()._get_current_learning_rate()
        return keras.ops.cast(rate, "float32") * self.learning_rate_scale()


def to_snake_case(name: str) -> str:
    """Keras 3's own conversion of a class name to the snake-case names in `.weights.h5` files
    (private `keras.src.utils.naming`; the file layout depends on it, so it must be Keras' own)."""
    from keras.src.utils.naming import to_snake_case as keras_to_snake_case

    return keras_to_snake_case(name)
