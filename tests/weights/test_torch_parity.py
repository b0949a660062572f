"""Where PyTorch is installed (the `torch` extra; not in CI): files written afresh by `torch.save`
from torchvision's own ResNets and from a PyTorch option-A CIFAR net (akamaster's architecture,
written here in torch.nn) give those nets' logits to 1e-4 of the largest, in both of torch.save's
formats."""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import sys
import types

import numpy as np
import pytest

import keras_resnet_paper as krp

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow
SIZE = 64


def _torchvision_resnet():
    """torchvision.models.resnet; where the installed torchvision's compiled operators do not match
    the installed torch (its package import fails), its models, which are plain Python, are imported
    without the package's start-up code."""
    try:
        return importlib.import_module("torchvision.models.resnet")
    except Exception:  # any import-time failure of a mismatched build
        spec = importlib.util.find_spec("torchvision")
        if spec is None:
            pytest.skip("torchvision is not installed")
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        package = types.ModuleType("torchvision")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["torchvision"] = package
        return importlib.import_module("torchvision.models.resnet")


def _randomize_bn(net, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


def _logits(net, x_nhwc: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net.eval()(torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2).copy())).numpy()


def _save_both(net, folder, name) -> list[str]:
    zip_path, legacy_path = folder / f"{name}.pth", folder / f"{name}-legacy.th"
    torch.save(net.state_dict(), zip_path)
    torch.save(net.state_dict(), legacy_path, _use_new_zipfile_serialization=False)
    return [str(zip_path), str(legacy_path)]


@pytest.mark.parametrize(
    "name", ["resnet18", "resnet34", "resnet50", "resnet101", "wide_resnet50_2", "wide_resnet101_2"]
)
def test_torchvision_resnets_logits(name, tmp_path):
    seed = len(name)
    with torch.no_grad():
        torch.manual_seed(seed)
        net = getattr(_torchvision_resnet(), name)()
        _randomize_bn(net, seed)
    x = np.random.default_rng(seed).normal(size=(2, SIZE, SIZE, 3)).astype("float32")
    expected = _logits(net, x)
    for path in _save_both(net, tmp_path, name):
        model = krp.get_model(name, weights=path, input_shape=(SIZE, SIZE, 3), classifier_activation=None)
        got = np.asarray(model(x, training=False))
        assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max(), (path, np.abs(got - expected).max())


class _OptionA(torch.nn.Module):
    def __init__(self, planes: int):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return torch.nn.functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class _Block(torch.nn.Module):
    def __init__(self, inputs: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(inputs, planes, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.shortcut = _OptionA(planes) if stride != 1 or inputs != planes else torch.nn.Identity()

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class _CifarResNet(torch.nn.Module):
    """The CIFAR ResNet of Sec. 4.2 as akamaster/pytorch_resnet_cifar10 builds it (option A with
    zero channels on both sides, classifier `linear`), written here."""

    def __init__(self, n: int):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(16)
        layers, inputs = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = [_Block(inputs, planes, stride)] + [_Block(planes, planes, 1) for _ in range(n - 1)]
            layers.append(torch.nn.Sequential(*blocks))
            inputs = planes
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = torch.nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(x.mean(dim=(2, 3)))


def test_pytorch_option_a_cifar_net_logits(tmp_path):
    with torch.no_grad():
        torch.manual_seed(0)
        net = _CifarResNet(3)
        _randomize_bn(net, 0)
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    expected = _logits(net, x)
    for path in _save_both(net, tmp_path, "resnet20"):
        model = krp.ResNet20(weights=path, classifier_activation=None)
        got = np.asarray(model(x, training=False))
        assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max(), (path, np.abs(got - expected).max())


def test_the_committed_fixtures_written_afresh_read_the_same(tmp_path):
    """make_torch_files.py run with this torch: the reader gives the committed expected arrays and
    refuses the hostile files, naming os.system."""
    from keras_resnet_paper.weights.errors import WeightsFileError
    from keras_resnet_paper.weights.torch_format import read_torch_file

    here = pathlib.Path(__file__).parent / "torch_files"
    spec = importlib.util.spec_from_file_location("make_torch_files", here / "make_torch_files.py")
    writer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(writer)
    writer.main(str(tmp_path))
    expected = dict(np.load(here / "expected.npz"))
    for name in ("tiny_zip.pt", "tiny_legacy.pt", "wrapped_zip.bin", "wrapped_legacy.th"):
        tensors = read_torch_file(tmp_path / name).tensors
        assert sorted(tensors) == sorted(expected)
        for key, value in expected.items():
            np.testing.assert_array_equal(np.asarray(tensors[key], value.dtype), value)
    for name in ("hostile_zip.pth", "hostile_legacy.pth"):
        with pytest.raises(WeightsFileError, match="os.system|posix.system"):
            read_torch_file(tmp_path / name)
