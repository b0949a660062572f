"""One resolved run: what --print_recipe prints is what trains and what run.json records (issue 11)."""

import keras
import numpy as np
import pytest

from keras_resnet_paper.training import RECIPES, ImageClassificationTask, Runtime, inference_model, resolve_run
from keras_resnet_paper.training.recipes import offline_variant


def test_offline_is_the_offline_recipe():
    assert offline_variant(RECIPES["cifar10_paper"]) == RECIPES["cifar10_offline"]
    a = resolve_run("cifar10_paper", "resnet20", offline=True)
    b = resolve_run("cifar10_offline", "resnet20")
    assert a == b and a.recipe.iterations == 300 and a.recipe.boundaries == (150, 225)
    assert "300 iterations" in a.recipe.description and "64k" not in a.recipe.description
    # shortened, the lr steps keep their fractions (was asserted by a slow 150-iteration training)
    assert resolve_run("cifar10_paper", "resnet20", offline=True, iterations=150).recipe.boundaries == (75, 112)


def test_flags_apply_once_in_order():
    config = resolve_run(
        "cifar10_paper",
        "ResNet-20",
        offline=True,
        overrides={"checkpoint_every": "10"},
        iterations=100,
        lr=0.05,
        batch_size=64,
    )
    assert config.model == "resnet20" and config.global_batch == 64
    assert config.recipe.base_lr == 0.05 and config.recipe.iterations == 100 and config.recipe.boundaries == (50, 75)
    assert config.recipe.checkpoint_every == 10  # an override survives --offline and --iterations
    assert config.schedule.peak_lr == pytest.approx(0.05 * 64 / 128)
    assert config.recipe.iterations % config.recipe.eval_every == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model": "resnet21"}, "model='resnet21'"),
        ({"iterations": 0}, "iterations=0"),
        ({"batch_size": True}, "batch_size=True"),
        ({"lr": -1.0}, "lr=-1.0"),
        ({"offline": True, "dataset": "cifar100"}, "dataset='cifar100'"),
        ({"overrides": {"base_lr": "abc"}}, "base_lr='abc'"),
    ],
)
def test_bad_values_are_named(kwargs, message):
    model = kwargs.pop("model", "resnet20")
    with pytest.raises(ValueError, match=message):
        resolve_run("cifar10_paper", model, **kwargs)


def test_print_recipe_prints_the_resolved_run(train_command):
    out = train_command(
        "--recipe", "cifar10_paper", "--offline", "--lr", "0.05", "--batch_size", "64", "--print_recipe"
    )
    assert out.returncode == 0, out.describe()
    expected = resolve_run("cifar10_paper", offline=True, lr=0.05, batch_size=64).describe()
    assert out.stdout.strip() == expected.strip()
    assert "base_lr                               = 0.05" in out.stdout and "iterations" in out.stdout


def test_task_trains_on_logits_and_infers_with_softmax():
    task = ImageClassificationTask(resolve_run("cifar10_offline", "resnet8"))
    data = type(
        "D",
        (),
        {
            "train": type("T", (), {"element_spec": (keras.KerasTensor((None, 32, 32, 3)),)})(),
            "num_classes": 10,
            "augmentation": None,
        },
    )()
    model = task.build_model(data)
    assert model.get_layer("predictions").activation is keras.activations.linear
    assert task.build_losses().get_config()["from_logits"] is True
    model.compile(optimizer=task.build_optimizer(), loss=task.build_losses(), metrics=task.build_metrics())
    x = np.random.default_rng(0).normal(size=(3, 32, 32, 3)).astype("float32")
    probs = inference_model(model).predict(x, verbose=0)
    np.testing.assert_allclose(
        probs, keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(x, verbose=0))), rtol=1e-5, atol=1e-7
    )


def test_runtime_validates_its_switches():
    with pytest.raises(ValueError, match="steps_per_execution=0"):
        Runtime(steps_per_execution=0)
    with pytest.raises(ValueError, match="verbose=7"):
        Runtime(verbose=7)
    with pytest.raises(ValueError, match="jit_compile='no'"):
        Runtime(jit_compile="no")


def test_plots_leave_matplotlib_backend_alone(tmp_path):
    import matplotlib

    from keras_resnet_paper.evaluation.layer_responses import plot_layer_responses
    from keras_resnet_paper.training.report import plot_error_curves

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # the caller's choice, which the plots must not change
    try:
        plot_error_curves(
            [{"label": "r", "residual": True, "history": [{"iteration": 1, "top1_error": 0.5}]}],
            str(tmp_path / "a.png"),
        )
        plot_layer_responses({"r": [1.0, 2.0]}, str(tmp_path / "b.png"))
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
    finally:
        matplotlib.use(before)
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_shortcut_option_is_part_of_the_run():
    """--shortcut A/B/C (Sec. 3.3, Table 3) is resolved, recorded in run.json and built."""
    config = resolve_run("cifar10_paper", "resnet8", offline=True, shortcut="b")
    assert config.shortcut == "B" and config.to_dict()["shortcut"] == "B"
    assert config.model_kwargs() == {"shortcut": "B"}
    assert resolve_run("cifar10_paper", "resnet8").model_kwargs() == {}
    for bad, fragment in (("D", "'A', 'B' or 'C'"), (1, "'A', 'B' or 'C'")):
        with pytest.raises(ValueError, match=f"shortcut={bad!r}.*{fragment}"):
            resolve_run("cifar10_paper", "resnet8", shortcut=bad)
    with pytest.raises(ValueError, match="plain net has no shortcuts"):
        resolve_run("cifar10_paper", "plain8", shortcut="A")


@pytest.mark.parametrize("shortcut, projections", [("A", 0), ("B", 2), ("C", 3)])
def test_task_builds_the_chosen_shortcut(shortcut, projections):
    """ResNet-8 has 3 blocks, two of them increase dimensions: B projects those two, C all three
    (projection convolutions are named `*_0_conv`, as in keras.applications)."""
    task = ImageClassificationTask(resolve_run("cifar10_paper", "resnet8", shortcut=shortcut), input_shape=(32, 32, 3))

    class Data:
        num_classes = 10
        augmentation = None

    model = task.build_model(Data())
    names = [layer.name for layer in _all_layers(model) if isinstance(layer, keras.layers.Conv2D)]
    assert sum(n.endswith("_0_conv") for n in names) == projections, names


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
