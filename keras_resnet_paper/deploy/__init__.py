"""Deploying a trained or pretrained net: BatchNorm folded into the convolutions (`batchnorm_folding`),
files that take uint8 images with the preprocessing inside (`tflite`, `onnx`), and what an export
keeps, measured (`exportable`, `measure`; the command: `python -m keras_resnet_paper.export`).

folded = krp.deploy.fold_batchnorm(model)  # the same outputs, no BatchNormalization layer
"""

from keras_resnet_paper.deploy.batchnorm_folding import fold_batchnorm, folded_pairs
from keras_resnet_paper.deploy.onnx import onnx_scores, to_onnx
from keras_resnet_paper.deploy.tflite import QUANTIZATIONS, serving_model, tflite_scores, to_tflite

__all__ = [
    "QUANTIZATIONS",
    "fold_batchnorm",
    "folded_pairs",
    "onnx_scores",
    "serving_model",
    "tflite_scores",
    "to_onnx",
    "to_tflite",
]
