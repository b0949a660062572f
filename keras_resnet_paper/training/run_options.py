"""The options of a run, each defined once: its name, type, allowed values, default and help.

The command line's flags are defined from `RUN_OPTIONS` (`define_flags`), their values become
`resolve_run`'s keywords through `from_flags`, and `resolve_run` checks every value with
`check` (so the Python API and the command line refuse the same values with the same message).
Only the model and the recipe, which the registries define, are not here (docs/DESIGN.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["RunOption", "RUN_OPTIONS", "MAX_INT", "define_flags", "from_flags", "check"]

#: The largest iteration count, batch or seed a run takes (TensorFlow counts steps in int32).
MAX_INT = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class RunOption:
    """One option: `name` (resolve_run's keyword), `kind` ("int", "float", "bool", "str", "enum",
    "multi"), `help`, `default`, the `flag` it has on the command line (default: `name`), its
    `choices` or `minimum`, and how a flag's value becomes the option's (`from_flag`)."""

    name: str
    kind: str
    help: str
    default: Any = None
    flag: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    from_flag: Callable[[Any], Any] | None = None
    flag_kind: str | None = None  # the flag's kind where it differs (a bool flag for a choice)
    what: str = "number"  # what a float is, in messages

    @property
    def flag_name(self) -> str:
        return self.flag or self.name

    def check(self, value: Any) -> Any:
        """`value` if allowed (None: the recipe's); a ValueError naming it and what is allowed."""
        if value is None or self.kind in ("str", "multi"):
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name}={value!r}: use True or False.")
        elif self.kind == "enum":
            if str(value).upper() not in {c.upper() for c in self.choices}:
                raise ValueError(f"{self.name}={value!r}: use one of {', '.join(self.choices)}.")
        elif self.kind == "int":
            low = int(self.minimum or 0)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_INT:
                raise ValueError(f"{self.name}={value!r}: use an integer from {low} to {MAX_INT}.")
        elif self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{self.name}={value!r}: use a finite, positive {self.what}.")
        return value


def _overrides(pairs: list[str]) -> dict[str, str]:
    from keras_resnet_paper.training.recipes import parse_overrides

    return parse_overrides(pairs)


#: Every option of a run besides the recipe and the model, as the command line and `resolve_run` know it.
RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("offline", "bool", "Train on scikit-learn's digits upsampled to 32x32 (no network); shortens the schedule at the same fractions.", False),
    RunOption("dataset", "str", "Data set (default: the recipe's): cifar10, cifar100, digits, imagenet (tfds imagenet2012), or for ImageNet-style training another tfds name (imagenette, tf_flowers), a TFRecord pattern or a folder."),
    RunOption("overrides", "multi", "Recipe field override key=value (repeatable), e.g. boundaries=400,600.", flag="override", from_flag=_overrides),
    RunOption("iterations", "int", "Total iterations; the lr boundaries move to the same fractions.", minimum=1),
    RunOption("lr", "float", "Base learning rate for the recipe's batch size.", minimum=0, what="learning rate"),
    RunOption("batch_size", "int", "Global batch (the lr scales linearly, with gradual warm-up, when it differs from the recipe's).", minimum=1),
    RunOption("holdout", "bool", "CIFAR: train on 45k and validate on the 5k holdout."),
    RunOption("augment_on", "enum", "Run CIFAR's pad/crop/flip augmentation on the accelerator.", False, flag="augment_on_device",
              choices=("host", "device"), flag_kind="bool", from_flag=lambda on_device: "device" if on_device else None),
    RunOption("recalibrate_bn", "bool", "Re-estimate BN statistics over training batches after training."),
    RunOption("eval_every", "int", "Iterations between evaluations/log rows.", minimum=1),
    RunOption("seed", "int", "Random seed.", 0, minimum=0),
    RunOption("data_dir", "str", "tensorflow-datasets data directory, or for CIFAR the original binary files (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz or their extracted folders)."),
    RunOption("ten_crop", "bool", "ImageNet: also report the 10-crop validation error at the end (Sec. 3.4).", False),
    RunOption("shortcut", "enum", "Shortcut option (Sec. 3.3, Table 3): A zero-padding identity, B projections where dimensions increase, C all projections. Default: the model's (A for CIFAR nets, B for ImageNet nets).", choices=("A", "B", "C")),
    RunOption("skip_corrupt", "bool", "Image folders and TFRecords: skip unreadable image files (and folder entries that are not images), counted in the log, instead of stopping with an error naming them.", False),
)  # fmt: skip


def define_flags(module_name: str, flag_values=None) -> None:
    """Define one absl flag per option, as flags of `module_name` (the command's own: `--help`
    lists a module's flags)."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    where = dict(flag_values=flag_values, module_name=module_name)
    for option in RUN_OPTIONS:
        name, default, text, kind = option.flag_name, option.default, option.help, option.flag_kind or option.kind
        if kind == "int":
            flags.DEFINE_integer(name, default, text, lower_bound=option.minimum, **where)
        elif kind == "float":
            flags.DEFINE_float(name, default, text, lower_bound=option.minimum, **where)
        elif kind == "bool":
            flags.DEFINE_bool(name, default, text, **where)
        elif kind == "enum":
            flags.DEFINE_enum(name, default, list(option.choices), text, case_sensitive=False, **where)
        elif kind == "multi":
            flags.DEFINE_multi_string(name, [], text, **where)
        else:
            flags.DEFINE_string(name, default, text, **where)


def from_flags(flag_values) -> dict[str, Any]:
    """`resolve_run`'s keywords from the parsed flags."""
    values = {}
    for option in RUN_OPTIONS:
        value = flag_values[option.flag_name].value
        values[option.name] = option.from_flag(value) if option.from_flag else value
    return values


def check(values: Mapping[str, Any]) -> None:
    """Check every option in `values` (resolve_run's keywords); a ValueError names the first bad one."""
    by_name = {option.name: option for option in RUN_OPTIONS}
    for name, value in values.items():
        if name in by_name and name != "shortcut":  # the shortcut is checked with its model
            by_name[name].check(value)
