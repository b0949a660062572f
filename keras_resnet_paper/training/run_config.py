"""One resolved run: the recipe after every change a user asked for, frozen.

`resolve_run` applies, in this order, and once: the recipe by name, `--offline` (the recipe's
offline variant, `offline_variant`), `--dataset` and `--override key=value`, `--iterations` (lr
boundaries at the same fractions, Sec. 4.2's 32k/48k of 64k), `--lr`, `--holdout`, `--augment_on_device`,
`--recalibrate_bn`, `--eval_every`, and the global batch (linear lr scaling with a gradual
warm-up when it differs from the recipe's). The command line's `--print_recipe` prints exactly
`RunConfig.describe()`, `train()` runs exactly that configuration, and the run writes it to
`run.json` in its model directory.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from keras_resnet_paper.models.variants import find_variant
from keras_resnet_paper.models.zoo import resolve_model_name
from keras_resnet_paper.training import run_options
from keras_resnet_paper.training.recipes import Recipe, get_recipe, offline_variant
from keras_resnet_paper.training.schedules import schedule_for_recipe

__all__ = ["RunConfig", "resolve_run", "RUN_OPTIONS"]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What a run trains, on what, for how long: everything but the hardware (see `Runtime`)."""

    recipe: Recipe
    model: str  # the registry's name: "resnet20", "plain56", "wide_resnet50_2", any "cifar_resnet<6n+2>"
    global_batch: int
    seed: int = 0
    data_dir: str | None = None
    ten_crop: bool = False  # add the 10-crop validation errors (Sec. 3.4) to an ImageNet run's report
    shortcut: str | None = None  # "A", "B" or "C" (Sec. 3.3, Table 3); None: the model's own default
    skip_corrupt: bool = False  # image files: skip and count unreadable ones instead of stopping

    def model_kwargs(self) -> dict[str, Any]:
        """The builder arguments this run fixes besides the name (the shortcut option, if chosen)."""
        return {"shortcut": self.shortcut} if self.shortcut else {}

    @property
    def schedule(self):
        """The learning-rate schedule of this run (`PaperSchedule`), linear scaling included."""
        return schedule_for_recipe(self.recipe, self.global_batch)

    @property
    def uses_warmup(self) -> bool:
        """Whether the run starts at the recipe's low warm-up lr (ResNet-110 in Sec. 4.2)."""
        return self.recipe.uses_warmup(self.model)

    def to_dict(self) -> dict[str, Any]:
        schedule = self.schedule
        return {
            "model": self.model,
            "global_batch": self.global_batch,
            "seed": self.seed,
            "data_dir": self.data_dir,
            "ten_crop": self.ten_crop,
            "shortcut": self.shortcut,
            "skip_corrupt": self.skip_corrupt,
            "peak_lr": schedule.peak_lr,
            "scaling_warmup_iterations": schedule.warmup_steps,
            "low_lr_warmup": self.uses_warmup,
            "recipe": self.recipe.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def describe(self) -> str:
        """What `--print_recipe` prints: the run's own values, then the recipe's fields."""
        d = self.to_dict()
        head = {k: v for k, v in d.items() if k != "recipe"}
        width = max(len(k) for k in [*head, *d["recipe"]])
        lines = [f"{k:<{width}} = {v!r}" for k, v in head.items()]
        lines.append("")
        lines.append(self.recipe.describe())
        return "\n".join(lines)


#: Keyword arguments of `resolve_run` besides the recipe and the model (what `train()` forwards).
RUN_OPTIONS = tuple(option.name for option in run_options.RUN_OPTIONS)


def _check_shortcut(shortcut: str | None, model: str) -> str | None:
    """The shortcut option (Sec. 3.3: A zero-padding identity, B projections where dimensions
    increase, C all projections), upper-cased; a plain net has none to choose."""
    if shortcut is None:
        return None
    if not isinstance(shortcut, str) or shortcut.upper() not in ("A", "B", "C"):
        raise ValueError(f"shortcut={shortcut!r}: use 'A', 'B' or 'C' (Sec. 3.3).")
    if not find_variant(model).residual:
        raise ValueError(f"shortcut={shortcut!r} with model={model!r}: a plain net has no shortcuts.")
    return shortcut.upper()


def _fit_eval_every(recipe: Recipe) -> Recipe:
    """Evaluations must divide the run (one Keras epoch per evaluation): the largest divisor of
    `iterations` not above the asked `eval_every`."""
    e = max(1, min(recipe.eval_every, recipe.iterations))
    while recipe.iterations % e:
        e -= 1
    return (
        recipe
        if e == recipe.eval_every
        else recipe.replace(eval_every=e, checkpoint_every=min(recipe.checkpoint_every, e))
    )


def _with_flags(recipe: Recipe, *, lr, holdout, augment_on, recalibrate_bn, eval_every) -> Recipe:
    changes: dict[str, Any] = {}
    for key, value in (
        ("base_lr", lr),
        ("holdout", holdout),
        ("augment_on", augment_on),
        ("recalibrate_bn", recalibrate_bn),
    ):
        if value is not None:
            changes[key] = value
    if eval_every is not None:
        changes.update(eval_every=eval_every, checkpoint_every=min(recipe.checkpoint_every, eval_every))
    return recipe.replace(**changes) if changes else recipe


def resolve_run(
    recipe: Recipe | str = "cifar10_paper",
    model: str | None = None,
    *,
    offline: bool = False,
    dataset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    iterations: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    holdout: bool | None = None,
    augment_on: str | None = None,
    recalibrate_bn: bool | None = None,
    eval_every: int | None = None,
    seed: int = 0,
    data_dir: str | None = None,
    ten_crop: bool = False,
    shortcut: str | None = None,
    skip_corrupt: bool = False,
) -> RunConfig:
    """The frozen configuration of a run; a bad value is a ValueError naming it (module doc)."""
    run_options.check(
        dict(
            offline=offline, iterations=iterations, lr=lr, batch_size=batch_size, holdout=holdout, augment_on=augment_on,
            recalibrate_bn=recalibrate_bn, eval_every=eval_every, seed=seed, ten_crop=ten_crop, skip_corrupt=skip_corrupt,
        )
    )  # fmt: skip
    base = get_recipe(recipe) if isinstance(recipe, str) else recipe
    changes = dict(overrides or {})
    if dataset is not None:
        changes["dataset"] = dataset
    if offline:
        if "dataset" in changes:
            raise ValueError(f"offline=True trains on the digits; it cannot train on dataset={changes['dataset']!r}.")
        base = offline_variant(base)
    resolved = base.replace(**changes) if changes else base
    if iterations is not None and iterations != resolved.iterations:
        resolved = resolved.shortened(iterations)
    resolved = _with_flags(
        resolved, lr=lr, holdout=holdout, augment_on=augment_on, recalibrate_bn=recalibrate_bn, eval_every=eval_every
    )
    name = resolve_model_name(model or resolved.model)
    return RunConfig(
        recipe=_fit_eval_every(resolved),
        model=name,
        global_batch=batch_size or resolved.batch_size,
        seed=seed,
        data_dir=data_dir,
        ten_crop=bool(ten_crop),
        shortcut=_check_shortcut(shortcut, name),
        skip_corrupt=skip_corrupt,
    )
