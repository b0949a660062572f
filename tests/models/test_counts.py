"""Exact parameter counts and FLOPs (Table 1, Sec. 3.3, Table 6; docs/paper.md, 'Parameter and FLOP counts')."""

import pytest

import keras_resnet_paper as krp
from keras_resnet_paper import paper
from keras_resnet_paper.graph import option_a_placement

_CACHE = {}


def build(kind, depth, **kwargs):
    key = (kind, depth, tuple(sorted(kwargs.items())))
    if key not in _CACHE:
        builder = krp.imagenet_resnet if kind == "imagenet" else krp.cifar_resnet
        _CACHE[key] = builder(depth, **kwargs)
    return _CACHE[key]


def projection_convs(model):
    return [l.name for l in krp.iter_layers(model) if l.name.endswith("_0_conv")]


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_imagenet_params_and_flops_match_table1(depth):
    model = build("imagenet", depth)
    assert krp.count_params(model) == paper.IMAGENET_PARAMS[depth]
    assert krp.count_flops(model) / 1e9 == pytest.approx(paper.IMAGENET_GFLOPS[depth], rel=0.01)


@pytest.mark.parametrize("depth", [50, 101, 152])
def test_v1_5_flops(depth):
    model = build("imagenet", depth, stride_in_1x1=False)
    assert krp.count_params(model) == paper.IMAGENET_PARAMS[depth]  # stride placement adds nothing
    assert krp.count_flops(model) / 1e9 == pytest.approx(paper.IMAGENET_GFLOPS_V1_5[depth], rel=0.01)


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_cifar_params_match_table6(depth):
    resnet = build("cifar", depth)
    plain = build("cifar", depth, residual=False)
    assert krp.count_params(resnet) == paper.CIFAR_PARAMS[depth]
    # Option A is parameter-free: the residual net costs exactly what its plain twin costs.
    assert krp.count_params(plain) == paper.CIFAR_PARAMS[depth]
    assert krp.count_flops(plain) == krp.count_flops(resnet)


def test_option_a_adds_nothing_over_plain_imagenet():
    a = build("imagenet", 34, shortcut="A")
    plain = build("imagenet", 34, residual=False)
    assert (
        krp.count_params(a)
        == krp.count_params(plain)
        == paper.IMAGENET_PARAMS[34]
        - (
            # option B's three projections (1x1 conv + BN) at conv3_1, conv4_1, conv5_1
            (64 * 128 + 2 * 128) + (128 * 256 + 2 * 256) + (256 * 512 + 2 * 512)
        )
    )
    assert projection_convs(a) == []
    assert sum(1 for l in krp.iter_layers(a) if option_a_placement(l)) == 3


def test_option_c_projects_every_shortcut():
    b, c = build("imagenet", 34), build("imagenet", 34, shortcut="C")
    assert len(projection_convs(b)) == 3
    assert len(projection_convs(c)) == 16  # "13 more projections than B" (Table 3)
    # The 13 identity shortcuts of B become 1x1 projections + BN: 3, 3, 5, 2 per stage.
    extra = sum(n * (w * w + 2 * w) for n, w in ((3, 64), (3, 128), (5, 256), (2, 512)))
    assert krp.count_params(c) - krp.count_params(b) == extra > 0


def test_cifar_option_b_adds_two_projections():
    model = build("cifar", 20, shortcut="B")
    assert projection_convs(model) == ["conv3_block1_0_conv", "conv4_block1_0_conv"]
    assert krp.count_params(model) == paper.CIFAR_PARAMS[20] + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_custom_blocks_equal_named_depth():
    custom = krp.imagenet_resnet(blocks=(3, 4, 6, 3), block="bottleneck")
    assert custom.name == "resnet50"
    assert krp.count_params(custom) == paper.IMAGENET_PARAMS[50]


@pytest.mark.slow
def test_resnet1202_builds_counts_and_loads_with_keras_alone_as_resnet50_does(tmp_path):
    import sys

    import numpy as np

    limit = sys.getrecursionlimit()
    model = krp.ResNet1202()
    assert sys.getrecursionlimit() == limit  # no interpreter-wide changes
    assert krp.count_params(model) == paper.CIFAR_PARAMS[1202]
    assert [l.name for l in model.layers if isinstance(l, type(model))] == ["conv2_x", "conv3_x", "conv4_x"]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    expected = model(x, training=False)
    model.save(tmp_path / "resnet1202.keras")
    resnet50 = krp.ResNet50(input_shape=(32, 32, 3))  # the standard net (option B), beside the deepest
    resnet50.save(tmp_path / "resnet50.keras")
    np.save(tmp_path / "x.npy", x)
    # a fresh process with nothing but Keras: the nested stages and option A are Keras' own layers
    script = (
        "import sys, numpy as np, keras\n"
        "for name in ('resnet1202', 'resnet50'):\n"
        "    model = keras.models.load_model(f'{sys.argv[1]}/{name}.keras')\n"
        "    np.save(f'{sys.argv[1]}/{name}.npy', np.asarray(model(np.load(sys.argv[1] + '/x.npy'), training=False)))\n"
        "assert not [m for m in sys.modules if m.startswith('keras_resnet_paper')]\n"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "resnet1202.npy"), expected, rtol=1e-5, atol=1e-6)
    want = resnet50(x, training=False)
    np.testing.assert_allclose(np.load(tmp_path / "resnet50.npy"), want, rtol=1e-5, atol=1e-6)
