"""Re-estimate BatchNormalization statistics after training.

The authors' released models recomputed the BN mean and variance as a plain average over a large
training batch after training (instead of the moving averages of training). `recalibrate_bn`
does that: it runs the model in training mode over `num_batches` training batches and sets every
BN layer's moving mean/variance to the plain average of the batch statistics it saw (the
momentum of batch i is i/(i+1), so the moving value after n batches is their mean). Weights other
than the BN statistics are unchanged; the layers' momenta are restored.
"""

from __future__ import annotations

import itertools

import keras
from absl import logging

from keras_resnet_paper.models import iter_layers

__all__ = ["recalibrate_bn", "bn_layers"]


def bn_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization leaf layer of `model` (nested models included)."""
    return [l for l in iter_layers(model) if isinstance(l, keras.layers.BatchNormalization)]


def recalibrate_bn(model: keras.Model, dataset, num_batches: int = 100) -> int:
    """Set BN moving statistics to the average batch statistics over `num_batches` batches.

    `dataset` yields (images, labels) or images. Returns the number of batches used.
    """
    layers = bn_layers(model)
    if not layers:
        return 0
    momenta = [l.momentum for l in layers]
    used = 0
    try:
        for i, batch in enumerate(itertools.islice(iter(dataset), num_batches)):
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            for layer in layers:
                layer.momentum = i / (i + 1.0)
            model(images, training=True)
            used = i + 1
    finally:
        for layer, m in zip(layers, momenta):
            layer.momentum = m
    logging.info("Re-estimated the statistics of %d BN layers over %d batches.", len(layers), used)
    return used
