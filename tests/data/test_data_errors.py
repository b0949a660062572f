"""A guarded pipeline's failure reaches the caller as TensorFlow's InvalidArgumentError from inside
tf.data; `readable_data_errors` (around `train()`) turns it into our ValueError with its sentence."""

import pytest
import tensorflow as tf

from keras_resnet_paper.data.decode import CORRUPT_IMAGE, CorruptDataError, readable_data_errors


def _failing_pipeline(*message):
    """A tf.data pipeline whose assertion fails as the guard's does, with `message`."""

    def check(x):
        with tf.control_dependencies([tf.debugging.Assert(False, list(message))]):
            return tf.identity(x)

    return list(tf.data.Dataset.from_tensors(0).map(check))


def test_corrupt_image_becomes_a_value_error_naming_the_file():
    with pytest.raises(CorruptDataError, match=r"^Corrupt or unreadable image .*: /d/broken\.jpg; .*--skip_corrupt"):
        with readable_data_errors():
            _failing_pipeline(CORRUPT_IMAGE, "/d/broken.jpg")
    assert issubclass(CorruptDataError, ValueError)


def test_other_tensorflow_errors_pass_unchanged():
    with pytest.raises(tf.errors.InvalidArgumentError, match="something else"):
        with readable_data_errors():
            _failing_pipeline("something else")
