"""Walking built models: leaf layers, layers by name, and stage outputs (conv2_x .. conv5_x).

Flat and nested models (one sub-model per stage and block, used for the deepest nets) have the
same leaf-layer names, so everything here works on both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import keras

_BLOCK_OUT = re.compile(r"^conv(\d+)_block(\d+)_out$")
_STAGE = re.compile(r"^conv(\d+)_x$")


def iter_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every leaf layer of `model` in graph order, descending into nested sub-models.

    Input layers are left out, so a nested model and its flat twin list the same layers.
    """
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer


def find_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    """The leaf layer (or nested sub-model) called `name`; ValueError if there is none."""
    for layer in model.layers:
        if layer.name == name:
            return layer
        if isinstance(layer, keras.Model):
            try:
                return find_layer(layer, name)
            except ValueError:
                pass
    raise ValueError(f"layer name={name!r} not found in model {model.name!r}.")


def stage_outputs(model: keras.Model) -> dict[str, keras.KerasTensor]:
    """Symbolic outputs of each stage, keyed "conv2_x", "conv3_x", ... (strides 4..32 on ImageNet).

    The stage output is the last block's ReLU output (`conv{s}_block{n}_out`), or the stage
    sub-model's output in a nested model. Table 1's stage names, for detection and segmentation
    heads (Sec. 4.3).
    """
    outputs: dict[int, tuple[int, keras.KerasTensor]] = {}
    for layer in model.layers:
        stage = _STAGE.match(layer.name)
        block = _BLOCK_OUT.match(layer.name)
        if stage:
            # A stage sub-model's `.output` is its own inner tensor; take the tensor it produced
            # in this (outer) graph instead, from the node of its call (Operation.output).
            outputs[int(stage.group(1))] = (0, keras.Operation.output.fget(layer))
        elif block:
            s, b = int(block.group(1)), int(block.group(2))
            if b >= outputs.get(s, (-1, None))[0]:
                outputs[s] = (b, layer.output)
    if not outputs:
        raise ValueError(f"model {model.name!r} has no stage outputs (layers named conv{{s}}_block{{b}}_out).")
    return {f"conv{s}_x": out for s, (_, out) in sorted(outputs.items())}


def feature_extractor(
    model: keras.Model, stages: tuple[str, ...] | None = None, name: str | None = None
) -> keras.Model:
    """A model from the input to a dict of stage outputs (all stages, or the ones in `stages`)."""
    outputs = stage_outputs(model)
    if stages is not None:
        unknown = [s for s in stages if s not in outputs]
        if unknown:
            raise ValueError(f"stages={stages!r}: unknown {unknown}; allowed: {list(outputs)}.")
        outputs = {s: outputs[s] for s in stages}
    return keras.Model(graph_inputs(model), outputs, name=name or f"{model.name}_features")


def graph_inputs(model: keras.Model):
    """The model's input tensor (a list only for a multi-input model), for building a model on its
    graph without Keras' warning about an input structure of ``[tensor]``."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def option_a_placement(layer) -> str | None:
    """Where an option-A shortcut layer puts its zero channels ("after" or "both"), or None for
    any other layer: the ZeroPadding2D `..._0_shortcut` of `models.shortcuts.option_a_shortcut`,
    or the `ZeroPaddingShortcut` layer of files saved before it (matched by name: a leaf module)."""
    if type(layer).__name__ == "ZeroPaddingShortcut":
        return layer.placement
    if isinstance(layer, keras.layers.ZeroPadding2D) and layer.name.endswith("_0_shortcut"):
        channels = layer.padding[0] if layer.data_format == "channels_first" else layer.padding[1]
        return "both" if channels[0] > 0 else "after"
    return None
