"""SGD with momentum and Caffe-style weight decay (the paper's optimizer).

The paper's weight decay 1e-4 is an L2 penalty: its gradient `wd * w` is added to the loss
gradient *before* the momentum update (as in Caffe):

    g' = g + wd * w;   v = momentum * v - lr * g';   w = w + v

Keras 3's `weight_decay=` argument is decoupled (AdamW-style `w -= lr * wd * w` outside the
momentum) and is a different algorithm; `PaperSGD` keeps Keras's own `weight_decay` off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import keras
from keras import ops

from keras_resnet_paper.compat import ScaledLearningRate, track_optimizer_variable

__all__ = ["PaperSGD"]


@keras.saving.register_keras_serializable(package="keras_resnet_paper")
class PaperSGD(ScaledLearningRate, keras.optimizers.SGD):
    """SGD + momentum + L2 coupled into the gradient, with lr multipliers for callbacks.

    Args:
      learning_rate: float or schedule (e.g. `PaperSchedule`).
      momentum: 0.9 in the paper.
      l2: weight decay coefficient added to the gradient (1e-4 in the paper).
      exclude_bn_and_bias: leave BN gamma/beta and biases (every 1-D variable) out of the decay.
      exclude_patterns: regular expressions; variables whose path matches are not decayed.

    The effective lr is `schedule(iterations) * lr_multiplier * warmup_factor`; both multipliers
    are optimizer variables (saved in checkpoints) set by `PlateauDecay` and
    `ErrorThresholdWarmup`.
    """

    def __init__(
        self,
        learning_rate=0.1,
        momentum: float = 0.9,
        l2: float = 1e-4,
        exclude_bn_and_bias: bool = False,
        exclude_patterns: Iterable[str] = (),
        nesterov: bool = False,
        name: str = "paper_sgd",
        **kwargs,
    ):
        if kwargs.get("weight_decay"):
            raise ValueError("PaperSGD: use l2= (coupled, Caffe style); Keras's weight_decay is decoupled.")
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, name=name, **kwargs)
        self.l2 = float(l2)
        self.exclude_bn_and_bias = bool(exclude_bn_and_bias)
        self.exclude_patterns = tuple(exclude_patterns)
        self._exclude_re = [re.compile(p) for p in self.exclude_patterns]
        with keras.name_scope(self.name):
            self.lr_multiplier = keras.Variable(
                1.0, name="lr_multiplier", dtype="float32", trainable=False, aggregation="only_first_replica"
            )
            self.warmup_factor = keras.Variable(
                1.0, name="warmup_factor", dtype="float32", trainable=False, aggregation="only_first_replica"
            )
        track_optimizer_variable(self, self.lr_multiplier)
        track_optimizer_variable(self, self.warmup_factor)

    def learning_rate_scale(self):
        """The plateau decay and the warm-up, applied on top of the schedule."""
        return self.lr_multiplier * self.warmup_factor

    def decays(self, variable) -> bool:
        """Whether the L2 term applies to `variable`."""
        if self.l2 == 0:
            return False
        if self.exclude_bn_and_bias and len(variable.shape) <= 1:
            return False
        path = getattr(variable, "path", None) or variable.name
        return not any(r.search(path) for r in self._exclude_re)

    def update_step(self, gradient, variable, learning_rate):
        if self.decays(variable):
            gradient = ops.add(
                ops.cast(gradient, variable.dtype), ops.multiply(ops.cast(self.l2, variable.dtype), variable)
            )
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config.pop("weight_decay", None)
        config.update(
            l2=self.l2,
            exclude_bn_and_bias=self.exclude_bn_and_bias,
            exclude_patterns=list(self.exclude_patterns),
        )
        return config
