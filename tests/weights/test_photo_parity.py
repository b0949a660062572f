"""End to end on real photos (scikit-learn's sample JPEGs): the release convention travels with the
weights through the library's own validation pipeline and gives keras.applications' logits."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from weights_files import PHOTOS, rel_error

import keras_resnet_paper.models as models
from keras_resnet_paper import data
from keras_resnet_paper.weights import CAFFE


def _decoded(folder) -> list[tf.Tensor]:
    return [data.decode_rgb(tf.io.read_file(str(folder / "val" / n / f"{n}.jpg"))) for n in PHOTOS]


def test_validation_pipeline_with_the_weights_preprocessing_matches_keras_applications(photo_folder, r50_top224):
    path, reference = r50_top224  # a randomised keras.applications ResNet-50 (logits) and its file
    model = models.ResNet50(weights=path, classifier_activation=None, bn_epsilon=1.001e-5)
    assert model.preprocessing is CAFFE  # a keras.applications-layout file: the Caffe convention

    imnet = data.imagenet_datasets(str(photo_folder), 2, preprocessing=model.preprocessing, augment="none")
    images, labels = next(iter(imnet.validation))
    assert labels.numpy().tolist() == [0, 1] and imnet.preprocessing is CAFFE
    ours = np.asarray(model(images, training=False))

    # keras.applications with its own preprocess_input on the same resized crop of the same photos
    crops = np.stack([data.center_crop(data.resize_shorter_side(x, 256), 224).numpy() for x in _decoded(photo_folder)])
    expected = np.asarray(reference(keras.applications.resnet.preprocess_input(crops.copy()), training=False))
    assert rel_error(ours, expected) < 1e-5, rel_error(ours, expected)

    # the model's own preprocessing object, on the decoded photos
    own = model.predict(np.stack([model.preprocessing(x.numpy()) for x in _decoded(photo_folder)]), verbose=0)
    assert rel_error(own, expected) < 1e-4, rel_error(own, expected)

    # what the pipelines fed these weights before (RGB minus an RGB mean) is far off
    assert rel_error(np.asarray(model(crops - data.IMAGENET_CHANNEL_MEAN, training=False)), expected) > 0.05
