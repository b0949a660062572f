"""How a run executes, as opposed to what it trains (`RunConfig`): the hardware and the output.

None of these switches changes the recipe: the strategy, the precision policy, XLA, steps per
call, determinism, synchronised BN, what is printed and what is written.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from absl import logging

__all__ = ["Runtime", "RUNTIME_OPTIONS", "seed_process"]

_VERBOSE = (0, 1, 2, "auto")


@dataclasses.dataclass(frozen=True)
class Runtime:
    """Execution switches of a run (the command line's --strategy, --precision, --jit_compile, ...).

    `deterministic=True` changes process-wide state, once, at the start of the run: it seeds
    Python, NumPy and the backend from the run's seed (`keras.utils.set_random_seed`), makes
    TensorFlow's ops deterministic (`tf.config.experimental.enable_op_determinism`, which cannot be
    undone in the process) and runs one graph op at a time (`seed_process`). Without it, nothing
    global is touched: the data order and the augmentation still follow the run's seed, the
    weights' initialisation does not.
    """

    strategy: Any = "auto"  # "auto" | "default" | "mirrored" | "multi_worker" | "tpu" | a tf.distribute.Strategy
    tpu: str | None = None
    precision: str = "float32"
    jit_compile: bool = False
    steps_per_execution: int = 1
    deterministic: bool = False
    sync_bn: bool = False
    verbose: int | str = "auto"  # 0 silent, 1 live line + a line per evaluation, 2 a line per evaluation
    tensorboard: bool = True
    write_report: bool = True

    def __post_init__(self):
        if (
            isinstance(self.steps_per_execution, bool)
            or not isinstance(self.steps_per_execution, int)
            or self.steps_per_execution < 1
        ):
            raise ValueError(f"steps_per_execution={self.steps_per_execution!r}: use 1 or more train steps per call.")
        if self.verbose not in _VERBOSE:
            raise ValueError(f"verbose={self.verbose!r}: use one of {_VERBOSE}.")
        for name in ("jit_compile", "deterministic", "sync_bn", "tensorboard", "write_report"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r}: use True or False.")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["strategy"] = self.strategy if isinstance(self.strategy, str) else type(self.strategy).__name__
        return d


#: Keyword arguments of `train()` that belong to the runtime.
RUNTIME_OPTIONS = tuple(f.name for f in dataclasses.fields(Runtime))


def seed_process(seed: int, deterministic: bool) -> None:
    """With `deterministic`: seed every RNG of the process, make TF ops deterministic and run one
    graph op at a time; without it, do nothing.

    Op determinism alone does not make a CPU training step repeatable: when independent ops of the
    compiled step run side by side they share the intra-op thread pool, and the CPU kernels'
    partial sums (the gradients of the convolutions and of batch normalization) then depend on the
    threads each one got. Measured on ResNet-20 at batch 128 on 2 cores: the same gradients came
    out in 3 different roundings in 6 calls, and two runs parted after one step; with one inter-op
    thread every call and every run is bit-identical, at no measurable cost (the net is a chain of
    ops). The inter-op setting must come before TensorFlow starts its runtime; a process that ran
    TensorFlow ops before `train()` gets a warning that repeats are not guaranteed.
    """
    if not deterministic:
        return
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    if tf.config.threading.get_inter_op_parallelism_threads() != 1:
        try:
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            logging.warning(
                "deterministic=True: TensorFlow was started before train(), so its independent ops still run "
                "side by side and runs may differ in the last bits; for bit-identical repeats call "
                "tf.config.threading.set_inter_op_parallelism_threads(1) before any TensorFlow op."
            )
