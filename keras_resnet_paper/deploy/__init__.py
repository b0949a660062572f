"""Deploying a trained or pretrained net: BatchNorm folded into the convolutions (`batchnorm_folding`).

folded = krp.deploy.fold_batchnorm(model)  # the same outputs, no BatchNormalization layer
"""

from keras_resnet_paper.deploy.batchnorm_folding import fold_batchnorm, folded_pairs

__all__ = ["fold_batchnorm", "folded_pairs"]
