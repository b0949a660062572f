"""Recipes as data, the iteration-counted schedule, linear scaling, warm-up and plateau switches."""

import dataclasses
import math

import keras
import numpy as np
import pytest

from keras_resnet_paper.training import (
    ErrorThresholdWarmup,
    PaperSchedule,
    PaperSGD,
    PlateauDecay,
    get_recipe,
    list_recipes,
    parse_overrides,
    schedule_for_recipe,
)


def test_recipes_match_the_paper():
    assert {"cifar10_paper", "imagenet_paper", "cifar10_offline"} <= set(list_recipes())
    c = get_recipe("cifar10_paper")
    assert (c.batch_size, c.base_lr, c.momentum, c.weight_decay) == (128, 0.1, 0.9, 1e-4)
    assert (c.boundaries, c.iterations, c.lr_decay) == ((32_000, 48_000), 64_000, 0.1)
    assert c.warmup_lr == 0.01 and c.warmup_error == 0.8
    assert c.uses_warmup("resnet110") and not c.uses_warmup("resnet20")
    i = get_recipe("imagenet_paper")
    assert (i.batch_size, i.base_lr, i.iterations, i.plateau, i.weight_decay, i.momentum) == (
        256,
        0.1,
        600_000,
        True,
        1e-4,
        0.9,
    )
    assert get_recipe("cifar10_holdout").holdout


def test_recipe_overrides_from_strings_and_printing():
    c = get_recipe("cifar10_paper")
    o = c.replace(**parse_overrides(["base_lr=0.05", "boundaries=100,200", "holdout=true", "warmup_lr=none"]))
    assert (o.base_lr, o.boundaries, o.holdout, o.warmup_lr) == (0.05, (100, 200), True, None)
    assert c.base_lr == 0.1  # frozen original untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.base_lr = 1.0
    with pytest.raises(ValueError, match="Unknown recipe field"):
        c.replace(nope=1)
    with pytest.raises(ValueError):
        get_recipe("nope")
    assert "boundaries" in str(c) and "32000" in c.describe()


def test_shortened_keeps_boundary_fractions():
    s = get_recipe("cifar10_paper").shortened(640)
    assert s.iterations == 640 and s.boundaries == (320, 480)
    off = get_recipe("cifar10_offline")
    assert [b / off.iterations for b in off.boundaries] == [0.5, 0.75]


def test_schedule_values_at_boundary_iterations():
    s = schedule_for_recipe(get_recipe("cifar10_paper"))
    expected = {0: 0.1, 31_999: 0.1, 32_000: 0.01, 47_999: 0.01, 48_000: 0.001, 63_999: 0.001}
    for step, lr in expected.items():
        assert math.isclose(s.value(step), lr, rel_tol=1e-6), step
    again = PaperSchedule.from_config(s.get_config())
    assert again.value(40_000) == pytest.approx(0.01)
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(s)).value(50_000) == pytest.approx(
        1e-3
    )


def test_linear_scaling_with_gradual_warmup():
    r = get_recipe("cifar10_paper")
    s = schedule_for_recipe(r, global_batch=512)  # 4x the recipe's batch
    assert s.peak_lr == pytest.approx(0.4) and s.warmup_steps == int(0.02 * 64_000)
    assert s.value(0) == pytest.approx(0.1)
    assert s.value(s.warmup_steps // 2) == pytest.approx(0.25)
    assert s.value(s.warmup_steps) == pytest.approx(0.4)
    assert s.value(32_000) == pytest.approx(0.04)
    assert schedule_for_recipe(r, 128).warmup_steps == 0
    assert r.scaled_lr(64) == pytest.approx(0.05)


def _compiled(optimizer):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    optimizer.build(model.trainable_variables)
    return model


def test_error_threshold_warmup_switch():
    opt = PaperSGD(PaperSchedule(0.1, (32_000,)))
    model = _compiled(opt)
    cb = ErrorThresholdWarmup(factor=0.1, threshold=0.8)
    cb.set_model(model)
    cb.on_train_begin()
    assert float(opt.learning_rate) == pytest.approx(0.01)
    cb.on_train_batch_end(0, {"top1_error": 0.85})
    assert float(opt.learning_rate) == pytest.approx(0.01)
    opt.iterations.assign(400)
    cb.on_train_batch_end(1, {"top1_error": 0.79})
    assert float(opt.learning_rate) == pytest.approx(0.1) and cb.switched_at == 400
    cb.on_train_begin()  # a resumed run (iterations > 0) does not re-enter the warm-up
    assert float(opt.learning_rate) == pytest.approx(0.1)


def test_plateau_divides_by_ten_and_keeps_state():
    opt = PaperSGD(0.1)
    model = _compiled(opt)
    cb = PlateauDecay(patience=2, min_delta=0.0)
    cb.set_model(model)
    for err in (0.5, 0.4, 0.41, 0.40):
        cb.on_epoch_end(0, {"val_top1_error": err})
    assert float(opt.learning_rate) == pytest.approx(0.01)
    state = cb.get_state()
    assert state == {"best": 0.4, "wait": 0}
    cb2 = PlateauDecay(patience=2)
    cb2.set_state(state)
    assert cb2.best == 0.4


def test_multipliers_are_saved_with_the_optimizer(tmp_path):
    opt = PaperSGD(0.1)
    model = _compiled(opt)
    opt.lr_multiplier.assign(0.01)
    model.save_weights(tmp_path / "w.weights.h5")
    opt2 = PaperSGD(0.1)
    model2 = _compiled(opt2)
    model2.load_weights(tmp_path / "w.weights.h5")
    assert float(opt2.learning_rate) == pytest.approx(0.001)
    np.testing.assert_allclose(model2.get_weights()[0], model.get_weights()[0])
