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

from keras_resnet_paper.models.transfer import bn_layers, recompute_bn_statistics

__all__ = ["recalibrate_bn", "bn_layers"]


def recalibrate_bn(model: keras.Model, dataset, num_batches: int = 100) -> int:
    """Set BN moving statistics to the average batch statistics over `num_batches` batches.

    `dataset` yields (images, labels) or images (an infinite training stream is fine). Returns the
    number of batches used. See `keras_resnet_paper.recompute_bn_statistics`, which does the work.
    """
    used = recompute_bn_statistics(model, itertools.islice(iter(dataset), num_batches))
    logging.info("Re-estimated the statistics of %d BN layers over %d batches.", len(bn_layers(model)), used)
    return used
