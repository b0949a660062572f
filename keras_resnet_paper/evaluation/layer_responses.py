"""Standard deviations of layer responses, the paper's Fig. 7 analysis (docs/paper.md, 'Layer responses (Fig. 7)').

The response of a 3x3 convolution is its BN output, before the addition and the ReLU. ResNets'
responses are smaller than their plain twins' and shrink as depth grows. Works on flat and nested
(ResNet-1202-style) models, streaming over a dataset, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import keras
import numpy as np

from keras_resnet_paper.graph import graph_inputs, iter_layers
from keras_resnet_paper.validation import check_choice, check_int

__all__ = ["response_layers", "layer_responses", "plot_layer_responses"]


def _is_3x3_response(model_layers: Mapping[str, keras.layers.Layer], bn: keras.layers.Layer) -> bool:
    if not isinstance(bn, keras.layers.BatchNormalization) or not bn.name.endswith("_bn"):
        return False
    conv = model_layers.get(bn.name[: -len("_bn")] + "_conv")
    return isinstance(conv, keras.layers.Conv2D) and tuple(conv.kernel_size) == (3, 3)


def response_layers(model: keras.Model) -> list[str]:
    """Names of the BN layers that follow a 3x3 convolution, in graph order."""
    leaves = {layer.name: layer for layer in iter_layers(model)}
    return [name for name, layer in leaves.items() if _is_3x3_response(leaves, layer)]


class _Moments:
    """Streaming per-channel count, sum and sum of squares (float64)."""

    def __init__(self) -> None:
        self.n = 0
        self.s: np.ndarray | None = None
        self.ss: np.ndarray | None = None

    def update(self, x: np.ndarray, channel_axis: int) -> None:
        x = np.moveaxis(np.asarray(x, np.float64), channel_axis, -1).reshape(-1, x.shape[channel_axis])
        s, ss = x.sum(0), np.square(x).sum(0)
        self.n += x.shape[0]
        self.s = s if self.s is None else self.s + s
        self.ss = ss if self.ss is None else self.ss + ss

    def std(self) -> np.ndarray:
        mean = self.s / self.n
        return np.sqrt(np.maximum(self.ss / self.n - mean**2, 0.0))


def _probe_functional(model: keras.Model, names: set[str]) -> keras.Model | None:
    """A model giving (output, *responses) of a flat functional model, or None if it holds none."""
    layers = [layer for layer in model.layers if layer.name in names]
    if not layers:
        return None
    return keras.Model(graph_inputs(model), [model.outputs[0], *[layer.output for layer in layers]])


class _Runner:
    """Runs a (possibly nested) model on a batch in inference mode and records responses."""

    def __init__(self, model: keras.Model, names: set[str], channel_axis: int) -> None:
        self.names, self.channel_axis = names, channel_axis
        self.moments: dict[str, _Moments] = {n: _Moments() for n in names}
        self._probes: dict[str, tuple[keras.Model | None, list[str]]] = {}
        self.model = model

    def _is_chain(self, model: keras.Model) -> bool:
        return any(isinstance(layer, keras.Model) for layer in model.layers)

    def _run(self, model: keras.Model, x):
        if self._is_chain(model):
            for layer in model.layers:
                if isinstance(layer, keras.layers.InputLayer):
                    continue
                x = self._run(layer, x) if isinstance(layer, keras.Model) else layer(x, training=False)
                if layer.name in self.names:
                    self.moments[layer.name].update(keras.ops.convert_to_numpy(x), self.channel_axis)
            return x
        if model.name not in self._probes:
            probe = _probe_functional(model, self.names)
            order = [layer.name for layer in model.layers if layer.name in self.names]
            self._probes[model.name] = (probe, order)
        probe, order = self._probes[model.name]
        if probe is None:
            return model(x, training=False)
        out, *responses = probe(x, training=False)
        for name, r in zip(order, responses):
            self.moments[name].update(keras.ops.convert_to_numpy(r), self.channel_axis)
        return out

    def __call__(self, images) -> None:
        self._run(self.model, images)


def layer_responses(
    model: keras.Model,
    images: Iterable,
    *,
    max_batches: int | None = None,
    reduce: str = "channel_mean",
) -> dict[str, float]:
    """Std of each 3x3 layer's response over `images` (Fig. 7), in layer order.

    `images` is an iterable of image batches (NumPy arrays or tensors, or `(images, labels)` tuples,
    e.g. a batched `tf.data.Dataset`), preprocessed as for the model. The std of each channel is
    taken over images and positions; `reduce="channel_mean"` averages it over channels,
    `reduce="all"` instead takes one std over every element of the response.
    """
    check_choice("reduce", reduce, ("channel_mean", "all"))
    check_int("max_batches", max_batches, minimum=1, allow_none=True)
    names = response_layers(model)
    if not names:
        raise ValueError(
            f"Model {model.name!r} has no BN layer after a 3x3 convolution (layers named '*_conv'/'*_bn')."
        )
    channel_axis = 1 if keras.config.image_data_format() == "channels_first" else -1
    runner = _Runner(model, set(names), channel_axis)
    for i, batch in enumerate(images):
        if max_batches is not None and i >= max_batches:
            break
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        runner(keras.ops.convert_to_tensor(batch))
    if runner.moments[names[0]].n == 0:
        raise ValueError("images yielded no batch.")
    result = {}
    for name in names:
        m = runner.moments[name]
        if reduce == "channel_mean":
            result[name] = float(m.std().mean())
        else:
            n = m.n * m.s.shape[0]
            mean = m.s.sum() / n
            result[name] = float(np.sqrt(max(m.ss.sum() / n - mean**2, 0.0)))
    return result


def plot_layer_responses(
    runs: Mapping[str, Mapping[str, float] | Sequence[float]], path: str, title: str | None = None
) -> str:
    """Fig. 7 style PNG: responses in layer order (top) and sorted by magnitude (bottom)."""
    from matplotlib.figure import Figure  # no pyplot: no backend chosen, no global state touched

    fig = Figure(figsize=(7, 6))
    top, bottom = fig.subplots(2, 1)
    for label, values in runs.items():
        v = np.asarray(list(values.values()) if isinstance(values, Mapping) else values, np.float64)
        x = np.arange(1, len(v) + 1)
        top.plot(x, v, label=label)
        bottom.plot(x, np.sort(v)[::-1], label=label)
    top.set_xlabel("layer index (original)")
    bottom.set_xlabel("layer index (sorted by magnitude)")
    for ax in (top, bottom):
        ax.set_ylabel("std")
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
