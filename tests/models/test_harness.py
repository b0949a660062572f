"""One harness over the models (keras-hub style): config and JSON round trips, `.keras`
save/load in a fresh process, data formats, input sizes and channels, mixed precision,
pyramid outputs, and argument errors."""

import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_resnet_paper as krp

SMALL = {
    "resnet20_A": lambda **kw: krp.ResNet20(**kw),
    "plain20": lambda **kw: krp.Plain20(**kw),
    "resnet14_B": lambda **kw: krp.cifar_resnet(14, shortcut="B", **kw),
    "resnet18": lambda input_shape=(32, 32, 3), **kw: krp.ResNet18(input_shape=input_shape, **kw),
    "resnet50_C_v15": lambda input_shape=(32, 32, 3), **kw: krp.imagenet_resnet(
        blocks=(1, 1, 1, 1), block="bottleneck", shortcut="C", stride_in_1x1=False, input_shape=input_shape, **kw
    ),
    "resnet26_nested": lambda **kw: krp.cifar_resnet(26, nested=True, **kw),
}


def images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


@pytest.mark.parametrize("name", sorted(SMALL))
def test_config_and_json_round_trip(name):
    model = SMALL[name]()
    x = images((2,) + tuple(model.input.shape[1:]))
    expected = model(x, training=False)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(x, training=False), expected, rtol=1e-5, atol=1e-6)
    from_json = keras.models.model_from_json(model.to_json())
    assert json.loads(from_json.to_json())["config"]["name"] == model.name
    assert krp.count_params(from_json) == krp.count_params(model)


FRESH_NAMES = ["resnet20_A", "resnet26_nested", "resnet50_C_v15"]
#: One fresh process for every check that needs one: what `import keras_resnet_paper` imports,
#: then each saved `.keras` file loaded (the option-A layer registered by that import alone).
FRESH_SCRIPT = """
import json, sys
import numpy as np
import keras
folder = sys.argv[1]
x = np.load(folder + "/x.npy")
for name in sys.argv[2:]:  # nothing but Keras: every net of the zoo is made of Keras' own layers
    model = keras.models.load_model(f"{folder}/{name}.keras")
    np.save(f"{folder}/{name}.npy", np.asarray(model(x, training=False)))
assert not any(m.startswith("keras_resnet_paper") for m in sys.modules)
import keras_resnet_paper  # registers the option-A layer of files saved by earlier versions
lazy = not any(m.startswith(("keras_resnet_paper.data", "keras_resnet_paper.training", "tensorflow_datasets"))
               for m in sys.modules)
old = keras.models.load_model(f"{folder}/old_option_a.keras")
np.save(f"{folder}/old_option_a.npy", np.asarray(old(x, training=False)))
print(json.dumps({"lazy": lazy}))
"""


@pytest.fixture(scope="module")
def fresh_process(tmp_path_factory):
    """The models of FRESH_NAMES saved as `.keras`, loaded and run in one fresh Python process:
    (folder, {"lazy": ...}, the saved models, the input)."""
    folder = tmp_path_factory.mktemp("fresh")
    x = images((2, 32, 32, 3))
    np.save(folder / "x.npy", x)
    models = {name: SMALL[name]() for name in FRESH_NAMES}
    for name, model in models.items():
        model.save(folder / f"{name}.keras")
    inputs = keras.Input((32, 32, 3))  # option A as earlier versions saved it: the package's own layer
    models["old_option_a"] = keras.Model(inputs, krp.ZeroPaddingShortcut(8, 2, placement="both")(inputs))
    models["old_option_a"].save(folder / "old_option_a.keras")
    out = subprocess.run(
        [sys.executable, "-c", FRESH_SCRIPT, str(folder), *FRESH_NAMES], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return folder, json.loads(out.stdout.strip().splitlines()[-1]), models, x


@pytest.mark.parametrize("name", [*FRESH_NAMES, "old_option_a"])
def test_keras_file_loads_in_a_fresh_process(name, fresh_process):
    folder, _, models, x = fresh_process
    np.testing.assert_allclose(np.load(folder / f"{name}.npy"), models[name](x, training=False), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["resnet20_A", "resnet18", "resnet50_C_v15", "resnet26_nested"])
def test_channels_first_matches_channels_last(name):
    last = SMALL[name]()
    keras.config.set_image_data_format("channels_first")
    first = SMALL[name](input_shape=(3, 32, 32))
    keras.config.set_image_data_format("channels_last")
    assert krp.find_layer(first, "conv1_bn").axis in (1, [1])
    assert tuple(first.output.shape) == tuple(last.output.shape)
    first.set_weights(last.get_weights())  # conv kernels are HWIO in both formats
    x = images((2, 32, 32, 3))
    # TensorFlow's CPU kernels only run NHWC convolutions; XLA compiles NCHW ones too.
    first.compile(jit_compile=True)
    np.testing.assert_allclose(
        first.predict(np.transpose(x, (0, 3, 1, 2)), verbose=0), last(x, training=False), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("size", [32, 48, 97])
def test_fully_convolutional_any_size(size):
    model = krp.ResNet18(include_top=False)
    assert tuple(model.input.shape) == (None, None, None, 3)
    out = model(images((1, size, size + 5, 3)))
    assert out.shape[1:3] == (-(-size // 32), -(-(size + 5) // 32)) and out.shape[-1] == 512


@pytest.mark.parametrize("channels", [1, 4])
def test_other_input_channels(channels):
    model = krp.ResNet20(input_shape=(32, 32, channels), classes=7)
    out = np.asarray(model(images((3, 32, 32, channels))))
    assert out.shape == (3, 7)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    model = krp.ResNet20(dtype=policy)
    assert model.get_layer("conv1_conv").compute_dtype == policy.split("_")[1]
    assert model.get_layer("conv1_conv").kernel.dtype == "float32"
    out = model(images((2, 32, 32, 3)))
    assert out.dtype == "float32"  # float32 classifier output
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, rtol=1e-3)
    keras.config.set_dtype_policy(policy)  # the global policy works too (restored by conftest)
    backbone = krp.ResNet18(include_top=False, pooling="avg", input_shape=(32, 32, 3))
    assert backbone.output.dtype == policy.split("_")[1]
    assert krp.ResNet18(input_shape=(32, 32, 3)).output.dtype == "float32"


def test_feature_extractor_strides():
    model = krp.ResNet50(include_top=False, input_shape=(128, 128, 3))
    features = krp.feature_extractor(model)(images((1, 128, 128, 3)))
    assert {k: v.shape[1] for k, v in features.items()} == {"conv2_x": 32, "conv3_x": 16, "conv4_x": 8, "conv5_x": 4}
    only = krp.feature_extractor(model, stages=("conv4_x", "conv5_x"))
    assert set(only.output) == {"conv4_x", "conv5_x"}
    with pytest.raises(ValueError, match="conv6_x"):
        krp.feature_extractor(model, stages=("conv6_x",))


def test_feature_extractor_nested_equals_flat():
    flat, nested = krp.ResNet20(include_top=False), krp.ResNet20(include_top=False, nested=True)
    by_name = {l.name: l for l in krp.iter_layers(flat)}
    for layer in krp.iter_layers(nested):
        layer.set_weights(by_name[layer.name].get_weights())
    x = images((2, 32, 32, 3))
    a, b = krp.feature_extractor(flat)(x), krp.feature_extractor(nested)(x)
    assert {k: tuple(v.shape) for k, v in b.items()} == {
        "conv2_x": (2, 32, 32, 16),
        "conv3_x": (2, 16, 16, 32),
        "conv4_x": (2, 8, 8, 64),
    }
    for key in a:
        np.testing.assert_allclose(np.asarray(a[key]), np.asarray(b[key]), rtol=1e-5, atol=1e-5)


def test_pooling_and_top():
    assert krp.ResNet20(include_top=False, pooling="avg").output.shape == (None, 64)
    assert krp.ResNet20(include_top=False, pooling="max").output.shape == (None, 64)
    assert krp.ResNet20(include_top=False).output.shape == (None, None, None, 64)
    assert krp.ResNet20(include_top=False, input_shape=(32, 32, 3)).output.shape == (None, 8, 8, 64)
    logits = krp.ResNet20(classifier_activation=None, classes=100)
    assert logits.get_layer("predictions").activation is keras.activations.linear


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: krp.ResNet34(shortcut="D"), "shortcut='D'"),
        (lambda: krp.cifar_resnet(21), "depth=21"),
        (lambda: krp.cifar_resnet(True), "depth=True"),
        (lambda: krp.imagenet_resnet(42), "depth=42"),
        (lambda: krp.ResNet18(input_shape=(16, 16, 3)), "at least 32"),
        (lambda: krp.ResNet20(input_shape=(2, 2, 3)), "at least 4"),
        (lambda: krp.ResNet18(input_shape=(32, 32)), "3 dimensions"),
        (lambda: krp.ResNet50(weights="imagenet", classes=10), "classes=10"),
        (lambda: krp.Plain34(weights="imagenet"), "plain-34"),
        (lambda: krp.ResNet34(weights="cifar10"), "no ImageNet release"),
        (lambda: krp.Plain20(weights="cifar10"), "CIFAR plain net"),
        (lambda: krp.ResNet50(weights="imagenet", shortcut="C"), "shortcut='C'"),
        (lambda: krp.ResNet50(weights="imagenet", input_shape=(224, 224, 1)), "3 input channels"),
        (lambda: krp.ResNet20(weights="imagenet"), "CIFAR"),
        (lambda: krp.ResNet20(weights="/no/such/file.weights.h5"), "existing weights file"),
        (lambda: krp.ResNet20(pooling="sum"), "pooling='sum'"),
        (lambda: krp.ResNet20(classes=0), "classes=0"),
        (lambda: krp.imagenet_resnet(blocks=(1, 2), block="basic"), "blocks=\\(1, 2\\)"),
        (lambda: krp.imagenet_resnet(blocks=(1, 1, 1, 1), block="wide"), "block='wide'"),
        (lambda: krp.imagenet_resnet(50, block="basic"), "block='basic'"),
        (lambda: krp.get_model("resnet19"), "resnet19"),
    ],
)
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_an_unknown_keyword_is_a_type_error_as_in_python():
    for build in (krp.imagenet_resnet, krp.cifar_resnet):
        with pytest.raises(TypeError, match="unexpected keyword argument 'include_tpo'"):
            build(20 if build is krp.cifar_resnet else 18, include_tpo=False)


def test_block_options_are_checked_once_where_they_are_made():
    from keras_resnet_paper.models.blocks import BlockOptions

    assert BlockOptions(shortcut="a").shortcut == "A"
    for bad, match in (
        (dict(shortcut="D"), "shortcut='D'"),
        (dict(zero_padding="before"), "zero_padding='before'"),
        (dict(bottleneck_width_factor=0), "bottleneck_width_factor"),
        (dict(residual="yes"), "residual"),
    ):
        with pytest.raises(ValueError, match=match):
            BlockOptions(**bad)


def test_named_constructors_cover_the_paper():
    assert set(krp.MODELS) == {
        *(f"resnet{d}" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110, 1202)),
        *(f"plain{d}" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110)),
        "resnet200",  # beyond the paper: the proof that a network is one record
        "wide_resnet50_2",
        "wide_resnet101_2",
    }
    assert krp.get_model("ResNet-20").name == "resnet20_cifar"
    assert krp.ResNet20.__name__ == "ResNet20" and "include_top" in str(__import__("inspect").signature(krp.ResNet20))


def test_models_need_no_tensorflow(fresh_process):
    """Model code uses Keras layers and keras.ops only; data/training load lazily (checked in a
    fresh process right after `import keras_resnet_paper`)."""
    root = pathlib.Path(krp.__file__).parent
    for path in [*(root / "models").glob("*.py"), root / "evaluation" / "flops.py", root / "__init__.py"]:
        text = path.read_text()
        assert "import tensorflow" not in text and "from tensorflow" not in text, path
    assert fresh_process[1]["lazy"] is True
