"""The paper's experiments as data: which nets each one trains, with which recipe, and what it
reports (docs/paper.md, 'ImageNet results (Tables 2-5, Fig. 4)', 'CIFAR-10 results (Table 6,
Fig. 6)', 'Layer responses (Fig. 7)').

An experiment is a grid of ordinary training runs, one per net and seed. Experiments that train
the same nets with the same recipe share a grid folder (`grid`): Fig. 7 reads the nets Fig. 6
trained, Table 2 and Table 3 share plain-34 and ResNet-34 A, so no net is trained twice.
"""

from __future__ import annotations

import dataclasses

from keras_resnet_paper.reproduce import paper_results
from keras_resnet_paper.reproduce.effects import Effect, Ordering
from keras_resnet_paper.reproduce.paper_results import PaperCell

__all__ = ["Net", "Experiment", "EXPERIMENTS", "get_experiment", "experiment_names"]


@dataclasses.dataclass(frozen=True)
class Net:
    """One network of an experiment, trained by `python -m keras_resnet_paper.train --model
    MODEL *train_flags`. `key` names its run folders; `paper_runs` is how many runs the paper's
    statistic is over (Table 6: five for ResNet-110); `optional` nets run only when asked."""

    key: str
    label: str
    model: str
    train_flags: tuple[str, ...] = ()
    paper: PaperCell | None = None
    paper_runs: int = 1
    optional: bool = False

    @property
    def residual(self) -> bool:
        return not self.model.startswith("plain")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A figure or table of the paper and the grid of runs that reproduces it."""

    name: str
    aliases: tuple[str, ...]
    reproduces: str
    needs: str
    recipe: str | None = None  # None: nothing is trained (table1)
    grid: str = ""  # default grid folder name, shared by experiments training the same nets
    nets: tuple[Net, ...] = ()
    offline_nets: tuple[str, ...] | None = None  # keys trained with --offline (None: all)
    offline_iterations: int | None = None  # None: the trainer's own offline length
    ten_crop: bool = False  # Tables 2 and 3: 10-crop errors (Sec. 3.4)
    responses: bool = False  # Fig. 7: layer responses of the trained nets
    panels: tuple[tuple[str, tuple[str, ...]], ...] = ()  # error-curve panels: (title, net keys)
    effects: tuple[Effect, ...] = ()
    docs: str = ""  # the docs/paper.md heading that describes it

    def net(self, key: str) -> Net:
        return next(n for n in self.nets if n.key == key)

    def selected_nets(self, *, offline: bool, with_optional: bool = False) -> tuple[Net, ...]:
        """The nets a grid trains: all but the optional ones (unless asked), or with --offline the
        offline subset."""
        if offline and self.offline_nets is not None:
            return tuple(n for n in self.nets if n.key in self.offline_nets)
        return tuple(n for n in self.nets if with_optional or not n.optional)


def _cifar(kind: str, depth: int, **kwargs) -> Net:
    label = f"{'ResNet' if kind == 'resnet' else 'plain'}-{depth}"
    paper = paper_results.TABLE6.get(f"{kind}{depth}")
    runs = paper.runs if paper else 1
    return Net(f"{kind}{depth}", label, f"{kind}{depth}", paper=paper, paper_runs=runs, **kwargs)


_PLAIN = tuple(_cifar("plain", d) for d in (20, 32, 44, 56))
_RESNETS = tuple(_cifar("resnet", d) for d in (20, 32, 44, 56, 110))
_R1202 = _cifar("resnet", 1202, optional=True)
_TRAIN, _TEST, _TABLE, _RESPONSE = "train", "test", "table", "response"
_CIFAR_NEEDS = (
    "CIFAR-10: tensorflow-datasets' cifar10, or --data_dir with cifar-10-binary.tar.gz; "
    "--offline: nothing (scikit-learn's digits)"
)
#: The offline Fig. 6 grid: the shallowest and deepest of each family (see README, 'Reproducing the paper').
OFFLINE_CIFAR_NETS = ("plain20", "plain56", "resnet20", "resnet56")
OFFLINE_CIFAR_ITERATIONS = 300

_FIG6_EFFECTS = (
    Effect(
        "degradation",
        "the deeper plain net has the higher training and test error (Fig. 6 left)",
        (Ordering(tuple(n.key for n in _PLAIN), _TRAIN), Ordering(tuple(n.key for n in _PLAIN), _TEST)),
    ),
    Effect(
        "residual fix",
        "past 20 layers, where the plain nets degrade, each ResNet trains to a lower error than "
        "its plain twin (Fig. 6 left vs middle)",
        tuple(Ordering((f"resnet{d}", f"plain{d}"), _TRAIN) for d in (32, 44, 56)),
    ),
    Effect(
        "deeper ResNet lower",
        "the deeper ResNet ends with the lower training and test error (Fig. 6 middle)",
        (
            Ordering(tuple(n.key for n in reversed(_RESNETS)), _TRAIN),
            Ordering(tuple(n.key for n in reversed(_RESNETS)), _TEST),
        ),
    ),
    Effect(
        "1202 overfits",
        "ResNet-1202 tests worse than ResNet-110 (Fig. 6 right, Table 6)",
        (Ordering(("resnet110", "resnet1202"), _TEST),),
    ),
)

_FIG7_NETS = ("plain20", "plain56", "resnet20", "resnet56", "resnet110")
_FIG7_EFFECTS = (
    Effect(
        "smaller residual responses",
        "a ResNet's layer responses are smaller than its plain twin's (Fig. 7)",
        (Ordering(("resnet20", "plain20"), _RESPONSE), Ordering(("resnet56", "plain56"), _RESPONSE)),
    ),
    Effect(
        "deeper ResNet smaller",
        "the deeper ResNet has the smaller responses (Fig. 7)",
        (Ordering(("resnet110", "resnet56", "resnet20"), _RESPONSE),),
    ),
)


def _imagenet(key: str, label: str, model: str, table: dict[str, PaperCell], shortcut: str | None = None) -> Net:
    flags = ("--shortcut", shortcut) if shortcut else ()
    return Net(key, label, model, flags, paper=table[key])


_IMAGENET_NEEDS = (
    "ImageNet 2012: tensorflow-datasets' imagenet2012 prepared from the manual download "
    "(--data_dir); --offline: nothing (digits, no 10-crop)"
)

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "table1",
            (),
            "Table 1 and Sec. 4.2: the architectures, their parameters and FLOPs (computed, no training)",
            "nothing (builds every net of the paper)",
            docs="ImageNet architectures (Table 1)",
        ),
        Experiment(
            "fig6",
            ("table6",),
            "Fig. 6 and Table 6 (Sec. 4.2): plain-20/32/44/56 and ResNet-20/32/44/56/110 on "
            "CIFAR-10 (--with_1202 adds ResNet-1202)",
            _CIFAR_NEEDS,
            recipe="cifar10_paper",
            grid="cifar10",
            nets=(*_PLAIN, *_RESNETS, _R1202),
            offline_nets=OFFLINE_CIFAR_NETS,
            offline_iterations=OFFLINE_CIFAR_ITERATIONS,
            panels=(
                ("plain nets", tuple(n.key for n in _PLAIN)),
                ("ResNets", tuple(n.key for n in _RESNETS)),
                ("ResNet-110 and ResNet-1202", ("resnet110", "resnet1202")),
            ),
            effects=_FIG6_EFFECTS,
            docs="CIFAR-10 results (Table 6, Fig. 6)",
        ),
        Experiment(
            "fig7",
            (),
            "Fig. 7 (Sec. 4.2): std of the layer responses of plain-20/56 and ResNet-20/56/110 on the "
            "CIFAR-10 test set (reuses the nets fig6 trained)",
            _CIFAR_NEEDS,
            recipe="cifar10_paper",
            grid="cifar10",
            nets=tuple(dataclasses.replace(n, paper_runs=1) for n in (*_PLAIN, *_RESNETS) if n.key in _FIG7_NETS),
            offline_nets=OFFLINE_CIFAR_NETS,
            offline_iterations=OFFLINE_CIFAR_ITERATIONS,
            responses=True,
            effects=_FIG7_EFFECTS,
            docs="Layer responses (Fig. 7)",
        ),
        Experiment(
            "fig4",
            ("table2",),
            "Fig. 4 and Table 2 (Sec. 4.1): plain-18/34 against ResNet-18/34 (option A) on ImageNet, 10-crop",
            _IMAGENET_NEEDS,
            recipe="imagenet_paper",
            grid="imagenet",
            nets=(
                _imagenet("plain18", "plain-18", "plain18", paper_results.TABLE2),
                _imagenet("plain34", "plain-34", "plain34", paper_results.TABLE2),
                _imagenet("resnet18_A", "ResNet-18", "resnet18", paper_results.TABLE2, "A"),
                _imagenet("resnet34_A", "ResNet-34", "resnet34", paper_results.TABLE2, "A"),
            ),
            ten_crop=True,
            panels=(("plain", ("plain18", "plain34")), ("ResNet", ("resnet18_A", "resnet34_A"))),
            effects=(
                Effect(
                    "degradation",
                    "plain-34 has the higher training and validation error than plain-18 (Fig. 4 left)",
                    (Ordering(("plain18", "plain34"), _TRAIN), Ordering(("plain18", "plain34"), _TEST)),
                ),
                Effect(
                    "deeper ResNet lower",
                    "ResNet-34 ends lower than ResNet-18 (Fig. 4 right)",
                    (Ordering(("resnet34_A", "resnet18_A"), _TRAIN), Ordering(("resnet34_A", "resnet18_A"), _TEST)),
                ),
                Effect(
                    "residual fix",
                    "ResNet-34 ends below plain-34 (Table 2)",
                    (Ordering(("resnet34_A", "plain34"), _TABLE),),
                ),
            ),
            docs="ImageNet results (Tables 2-5, Fig. 4)",
        ),
        Experiment(
            "table3",
            (),
            "Table 3 (Sec. 4.1): plain-34, ResNet-34 with shortcuts A/B/C, ResNet-50/101/152 on ImageNet, 10-crop",
            _IMAGENET_NEEDS,
            recipe="imagenet_paper",
            grid="imagenet",
            nets=(
                _imagenet("plain34", "plain-34", "plain34", paper_results.TABLE3),
                _imagenet("resnet34_A", "ResNet-34 A", "resnet34", paper_results.TABLE3, "A"),
                _imagenet("resnet34_B", "ResNet-34 B", "resnet34", paper_results.TABLE3),
                _imagenet("resnet34_C", "ResNet-34 C", "resnet34", paper_results.TABLE3, "C"),
                *(_imagenet(f"resnet{d}", f"ResNet-{d}", f"resnet{d}", paper_results.TABLE3) for d in (50, 101, 152)),
            ),
            ten_crop=True,
            effects=(
                Effect(
                    "shortcut options",
                    "C is a little better than B, B than A, A than plain-34 (Table 3)",
                    (Ordering(("resnet34_C", "resnet34_B", "resnet34_A", "plain34"), _TABLE),),
                ),
                Effect(
                    "deeper is better",
                    "ResNet-152 < 101 < 50 < 34 B in error (Table 3)",
                    (Ordering(("resnet152", "resnet101", "resnet50", "resnet34_B"), _TABLE),),
                ),
            ),
            docs="ImageNet results (Tables 2-5, Fig. 4)",
        ),
    )
}

_ALIASES = {alias: e.name for e in EXPERIMENTS.values() for alias in (e.name, *e.aliases)}


def experiment_names() -> list[str]:
    """Every name `get_experiment` accepts, aliases included, in registry order."""
    return list(_ALIASES)


def get_experiment(name: str) -> Experiment:
    """The experiment called `name` (or an alias: table6 is fig6, table2 is fig4)."""
    key = name.lower().replace("-", "").replace("_", "").replace(".", "") if isinstance(name, str) else name
    if key not in _ALIASES:
        raise ValueError(
            f"experiment={name!r} is not an experiment of the paper; allowed: {', '.join(experiment_names())}."
        )
    return EXPERIMENTS[_ALIASES[key]]
