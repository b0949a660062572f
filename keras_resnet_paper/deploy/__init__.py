"""Deploying a trained or pretrained net: BatchNorm folded into the convolutions (`batchnorm_folding`),
TFLite files that take uint8 images with the preprocessing inside (`tflite`).

folded = krp.deploy.fold_batchnorm(model)  # the same outputs, no BatchNormalization layer
"""

from keras_resnet_paper.deploy.batchnorm_folding import fold_batchnorm, folded_pairs
from keras_resnet_paper.deploy.tflite import QUANTIZATIONS, serving_model, tflite_scores, to_tflite

__all__ = ["QUANTIZATIONS", "fold_batchnorm", "folded_pairs", "serving_model", "tflite_scores", "to_tflite"]
