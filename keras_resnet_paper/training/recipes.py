"""The paper's training recipes as data (Sec. 3.4 for ImageNet, Sec. 4.2 for CIFAR-10).

A `Recipe` is a frozen dataclass: list them with `list_recipes()`, fetch one with
`get_recipe(name)`, change fields with `recipe.replace(**overrides)` (strings such as
"0.05" or "32000,48000" from the command line are converted to the field's type), and print
one with `str(recipe)` / `recipe.describe()`.

All schedules are counted in iterations (optimizer steps), as in the paper, whatever the
epoch size of the data set.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import Any

from keras_resnet_paper.data.augmentations import AUGMENT_PLACES, AUGMENTATIONS, SCALE_RANGE
from keras_resnet_paper.names import normalize_model_name

__all__ = ["Recipe", "RECIPES", "list_recipes", "get_recipe", "parse_overrides", "offline_variant", "OFFLINE_DATASET"]


#: The fields of a recipe's data part (`Recipe.data_options`).
DATA_FIELDS = ("augment", "augment_on", "image_size", "scale_range", "holdout")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One training recipe. Every number is counted in iterations of `batch_size` images."""

    name: str
    description: str
    dataset: str  # "cifar10", "cifar100", "digits" or "imagenet"
    model: str  # default --model
    batch_size: int
    base_lr: float
    momentum: float = 0.9
    weight_decay: float = 1e-4  # Caffe-style L2, added to the gradient before momentum
    exclude_bn_and_bias_from_weight_decay: bool = False
    iterations: int = 64_000
    boundaries: tuple[int, ...] = ()  # lr divided by `lr_decay` at each of these iterations
    lr_decay: float = 0.1
    plateau: bool = False  # divide by `lr_decay` when the validation error plateaus
    plateau_patience: int = 5  # evaluations without improvement before dividing
    plateau_min_delta: float = 1e-3
    min_lr: float = 1e-6
    warmup_lr: float | None = None  # constant lr until training error < warmup_error
    warmup_error: float = 0.8
    warmup_models: tuple[str, ...] = ()  # models that use the low-lr warm-up (empty: all)
    scaling_warmup_iterations: int = 0  # gradual warm-up when the lr is scaled up linearly
    holdout: bool = False  # CIFAR: train on 45k, validate on 5k
    augment: str = "paper"  # what is done to each image: "paper", "inception" (ImageNet-style) or "none"
    augment_on: str = "host"  # where CIFAR's pad/crop/flip runs: "host" (tf.data) or "device"
    image_size: int | None = None  # ImageNet-style training crop (None: 224, or the weights')
    scale_range: tuple[int, ...] = SCALE_RANGE  # ImageNet-style shorter side range (Sec. 3.4)
    eval_every: int = 1000  # iterations between evaluations (one Keras "epoch")
    checkpoint_every: int = 1000  # iterations between resumable checkpoints
    recalibrate_bn: bool = False  # re-estimate BN statistics after training
    recalibrate_bn_batches: int = 100
    explode_factor: float = 10.0  # a training loss above this many times the run's first (or 1) stops it as NaN does

    # ----------------------------------------------------------------- derived values
    def scaled_lr(self, global_batch: int | None = None) -> float:
        """Linear scaling rule: base_lr * global_batch / batch_size."""
        if global_batch is None or global_batch == self.batch_size:
            return self.base_lr
        return self.base_lr * global_batch / self.batch_size

    def uses_warmup(self, model: str | None = None) -> bool:
        """Whether `model` starts with the low-lr warm-up (ResNet-110 in the paper)."""
        if self.warmup_lr is None:
            return False
        if not self.warmup_models or model is None:
            return True
        return normalize_model_name(model) in {normalize_model_name(m) for m in self.warmup_models}

    def shortened(self, iterations: int) -> Recipe:
        """The same recipe stopped at `iterations`, with its lr boundaries at the same fractions."""
        factor = iterations / self.iterations
        bounds = tuple(max(1, round(b * factor)) for b in self.boundaries)
        eval_every = max(1, min(self.eval_every, iterations // 8 or 1))
        return self.replace(
            iterations=iterations,
            boundaries=bounds,
            eval_every=eval_every,
            checkpoint_every=min(self.checkpoint_every, eval_every),
        )

    def replace(self, **overrides: Any) -> Recipe:
        """A copy with `overrides` (values may be strings; they are converted to the field type)."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - set(fields))
        if unknown:
            raise ValueError(f"Unknown recipe field(s) {unknown}; fields are {sorted(fields)}.")
        hints = typing.get_type_hints(Recipe)
        converted = {k: _convert(v, hints[k], k) for k, v in overrides.items()}
        new = dataclasses.replace(self, **converted)
        new.validate()
        return new

    def validate(self) -> None:
        if self.batch_size <= 0 or self.iterations <= 0 or self.eval_every <= 0:
            raise ValueError(f"Recipe {self.name}: batch_size, iterations and eval_every must be > 0.")
        if list(self.boundaries) != sorted(self.boundaries):
            raise ValueError(f"Recipe {self.name}: boundaries {self.boundaries} must be increasing.")
        for key, allowed in (("augment", AUGMENTATIONS), ("augment_on", AUGMENT_PLACES)):
            if getattr(self, key) not in allowed:
                raise ValueError(f"Recipe {self.name}: {key}={getattr(self, key)!r} not in {'/'.join(allowed)}.")
        if self.image_size is not None and not (isinstance(self.image_size, int) and self.image_size >= 32):
            raise ValueError(f"Recipe {self.name}: image_size={self.image_size!r} must be None or an int >= 32.")
        low_high = self.scale_range
        if len(low_high) != 2 or not 0 < low_high[0] <= low_high[1]:
            raise ValueError(
                f"Recipe {self.name}: scale_range={low_high!r} must be two sides (min, max), e.g. 256,480."
            )
        if not (math.isfinite(self.base_lr) and self.base_lr > 0):
            raise ValueError(f"Recipe {self.name}: base_lr={self.base_lr!r} must be a finite number > 0.")
        if not (math.isfinite(self.explode_factor) and self.explode_factor > 1):
            raise ValueError(f"Recipe {self.name}: explode_factor={self.explode_factor!r} must be a finite number > 1.")

    def data_options(self) -> dict[str, Any]:
        """The data part of the recipe, as `data.training_data` takes it (`data.augmentations`)."""
        return {key: getattr(self, key) for key in DATA_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        width = max(len(f.name) for f in dataclasses.fields(self))
        return "\n".join(f"{k:<{width}} = {v!r}" for k, v in self.to_dict().items())

    def __str__(self) -> str:
        return self.describe()


#: The largest integer a recipe field takes (iterations, batches: TensorFlow counts them in int32).
MAX_INT = 2**31 - 1


def _convert(value: Any, hint: Any, key: str) -> Any:
    if not isinstance(value, str):
        return tuple(value) if isinstance(value, list) else value
    text = value.strip()
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple:
        if text in ("", "()"):
            return ()
        return tuple(_convert(p, args[0], key) for p in text.strip("()").split(",") if p.strip())
    if type(None) in args:  # Optional[...]
        if text.lower() in ("none", "null", ""):
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{key}={value!r} is not a boolean.")
    try:
        if hint is int:
            number = float(text) if "e" in text.lower() else int(text)
            if number != int(number) or not 0 <= abs(number) <= MAX_INT:
                raise ValueError
            return int(number)
        if hint is float:
            number = float(text)
            if not math.isfinite(number):
                raise ValueError
            return number
    except (ValueError, OverflowError):
        kind = f"an integer of at most {MAX_INT}" if hint is int else "a finite number"
        raise ValueError(f"{key}={value!r} is not {kind}.") from None
    return text


_CIFAR_DESC = (
    "CIFAR-10, Sec. 4.2: batch 128, SGD momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 "
    "at 32k and 48k iterations, stop at 64k; ResNet-110 warms up at lr 0.01 until the training "
    "error is below 80% (about 400 iterations)."
)

_CIFAR10_PAPER = Recipe(
    name="cifar10_paper",
    description=_CIFAR_DESC,
    dataset="cifar10",
    model="resnet20",
    batch_size=128,
    base_lr=0.1,
    iterations=64_000,
    boundaries=(32_000, 48_000),
    warmup_lr=0.01,
    warmup_error=0.8,
    warmup_models=("resnet110", "resnet1202"),
    eval_every=1000,
    checkpoint_every=1000,
)

_IMAGENET_PAPER = Recipe(
    name="imagenet_paper",
    description=(
        "ImageNet, Sec. 3.4: batch 256, SGD momentum 0.9, weight decay 1e-4, lr 0.1 "
        "divided by 10 when the validation error plateaus, at most 60e4 iterations."
    ),
    dataset="imagenet",
    model="resnet50",
    batch_size=256,
    base_lr=0.1,
    iterations=600_000,
    plateau=True,
    plateau_patience=5,
    eval_every=5000,
    checkpoint_every=1000,
)

#: The offline data set (scikit-learn's digits at 32x32) and the length of an offline run.
OFFLINE_DATASET = "digits"
OFFLINE_ITERATIONS = 300
OFFLINE_EVAL_EVERY = 25
_OFFLINE_NAMES = {"cifar10_paper": "cifar10_offline"}


def offline_variant(recipe: Recipe) -> Recipe:
    """`recipe` on the offline digits (no network), its schedule scaled to 300 iterations at the
    same fractions (Sec. 4.2's lr steps at 32k and 48k of 64k become 150 and 225); a plateau recipe
    keeps its plateau rule with a patience of 2 evaluations. `cifar10_offline` is this of
    `cifar10_paper`: `--offline` and that recipe are one thing."""
    if recipe.dataset == OFFLINE_DATASET:
        return recipe
    if recipe.plateau:
        short = recipe.replace(iterations=OFFLINE_ITERATIONS, plateau_patience=2)
    else:
        short = recipe.shortened(OFFLINE_ITERATIONS)
    name = _OFFLINE_NAMES.get(recipe.name, f"{recipe.name}_offline")
    return short.replace(
        name=name,
        dataset=OFFLINE_DATASET,
        holdout=False,
        eval_every=OFFLINE_EVAL_EVERY,
        checkpoint_every=OFFLINE_EVAL_EVERY,
        description=(
            f"{recipe.name} on scikit-learn's digits upsampled to 32x32 (no network), its schedule scaled "
            f"to {OFFLINE_ITERATIONS} iterations at the same fractions "
            f"({'lr steps at ' + ', '.join(map(str, short.boundaries)) if short.boundaries else 'plateau rule'})."
        ),
    )


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        _CIFAR10_PAPER,
        dataclasses.replace(
            _CIFAR10_PAPER,
            name="cifar10_holdout",
            description=_CIFAR_DESC + " Trained on 45k images, validated on the 5k holdout (Sec. 4.2).",
            holdout=True,
        ),
        offline_variant(_CIFAR10_PAPER),
        _IMAGENET_PAPER,
    )
}


def list_recipes() -> list[str]:
    """Names of the recipes, sorted."""
    return sorted(RECIPES)


def get_recipe(name: str, **overrides: Any) -> Recipe:
    """The recipe called `name`, with `overrides` applied (see `Recipe.replace`)."""
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}; recipes are {list_recipes()}.")
    recipe = RECIPES[name]
    return recipe.replace(**overrides) if overrides else recipe


def parse_overrides(pairs: Mapping[str, str] | list[str] | None) -> dict[str, str]:
    """["key=value", ...] (from --override) -> {key: value}."""
    if not pairs:
        return {}
    if isinstance(pairs, Mapping):
        return dict(pairs)
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--override expects key=value, got {pair!r}.")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out
