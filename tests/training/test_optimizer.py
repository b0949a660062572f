"""PaperSGD: Caffe-style L2 inside the momentum, checked against a hand computation."""

import keras
import numpy as np
import pytest

from keras_resnet_paper.training import PaperSGD


def _run(opt, w0, b0, grads, steps):
    w = keras.Variable(w0, name="kernel")
    b = keras.Variable(b0, name="bias")
    opt.build([w, b])
    for _ in range(steps):
        opt.apply_gradients(zip(grads, [w, b]))
    return w.numpy(), b.numpy()


def _hand(w, g, lr, mom, wd, steps):
    v = np.zeros_like(w)
    for _ in range(steps):
        gp = g + wd * w  # L2 gradient added before momentum
        v = mom * v - lr * gp
        w = w + v
    return w


def test_update_matches_hand_computation():
    w0 = np.array([[1.0, -2.0], [0.5, 3.0]], "float32")
    b0 = np.array([0.5, -0.25], "float32")
    g = [np.array([[0.2, 0.4], [-0.1, 0.0]], "float32"), np.array([1.0, -1.0], "float32")]
    lr, mom, wd = 0.1, 0.9, 0.01
    w, b = _run(PaperSGD(lr, momentum=mom, l2=wd), w0, b0, g, 3)
    np.testing.assert_allclose(w, _hand(w0, g[0], lr, mom, wd, 3), rtol=1e-6)
    np.testing.assert_allclose(b, _hand(b0, g[1], lr, mom, wd, 3), rtol=1e-6)
    # first step by hand: 1.0 - 0.1 * (0.2 + 0.01 * 1.0) = 0.979
    w1, _ = _run(PaperSGD(lr, momentum=mom, l2=wd), w0, b0, g, 1)
    assert w1[0, 0] == pytest.approx(0.979)


def test_exclusions_and_difference_from_decoupled_decay():
    w0 = np.array([[1.0, -2.0]], "float32")
    b0 = np.array([0.5], "float32")
    g = [np.array([[0.2, 0.4]], "float32"), np.array([1.0], "float32")]
    w, b = _run(PaperSGD(0.1, momentum=0.9, l2=0.01, exclude_bn_and_bias=True), w0, b0, g, 2)
    np.testing.assert_allclose(b, _hand(b0, g[1], 0.1, 0.9, 0.0, 2), rtol=1e-6)  # bias not decayed
    np.testing.assert_allclose(w, _hand(w0, g[0], 0.1, 0.9, 0.01, 2), rtol=1e-6)
    w_pat, _ = _run(PaperSGD(0.1, momentum=0.9, l2=0.01, exclude_patterns=["kernel"]), w0, b0, g, 2)
    np.testing.assert_allclose(w_pat, _hand(w0, g[0], 0.1, 0.9, 0.0, 2), rtol=1e-6)
    # Keras's decoupled weight_decay is a different update (not the paper's).
    wk, _ = _run(keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.01), w0, b0, g, 2)
    assert not np.allclose(wk, w)
    with pytest.raises(ValueError, match="decoupled"):
        PaperSGD(0.1, weight_decay=1e-4)


def test_serialisable():
    opt = PaperSGD(0.1, momentum=0.9, l2=1e-4, exclude_bn_and_bias=True, exclude_patterns=["_bn/"])
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again, PaperSGD)
    assert (again.l2, again.exclude_bn_and_bias, again.exclude_patterns) == (1e-4, True, ("_bn/",))
