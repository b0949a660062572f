"""`distribution.evaluation_batches`: a test set as equal parts of padded global batches, one part
per JAX process, whose weights make Keras' metrics and loss those of the real images (issue 13)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resnet_paper.evaluation.topk import TopKError
from keras_resnet_paper.training.distribution import evaluation_batches


def _dataset(size: int, batch: int, seed: int = 0) -> tuple[tf.data.Dataset, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(size, 4, 4, 3)).astype("float32")
    labels = rng.integers(0, 5, size).astype("int64")
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch), images, labels


def _parts(dataset, global_batch, processes):
    return [list(evaluation_batches(dataset, global_batch, processes, p).as_numpy_iterator()) for p in range(processes)]


def test_every_process_gets_the_same_number_of_equal_parts_and_together_they_are_the_set():
    dataset, images, labels = _dataset(37, batch=5)  # batches of 5 re-batched to 8; 3 blanks at the end
    parts = _parts(dataset, global_batch=8, processes=2)
    assert [len(p) for p in parts] == [5, 5]
    assert all(x.shape == (4, 4, 4, 3) and y.shape == (4,) and w.shape == (4,) for p in parts for x, y, w in p)
    # batch b of the set is process 0's part b followed by process 1's part b
    x = np.concatenate([np.concatenate([parts[0][b][0], parts[1][b][0]]) for b in range(5)])
    y = np.concatenate([np.concatenate([parts[0][b][1], parts[1][b][1]]) for b in range(5)])
    w = np.concatenate([np.concatenate([parts[0][b][2], parts[1][b][2]]) for b in range(5)])
    np.testing.assert_array_equal(x[:37], images)
    np.testing.assert_array_equal(y[:37], labels)
    assert not x[37:].any() and not w[37:].any()
    np.testing.assert_allclose(w[:37], 40 / 37, rtol=1e-7)  # each real image weighs padded size / size
    assert float(np.sum(w * y) / np.sum(w)) == pytest.approx(labels.mean(), rel=1e-6)
    assert tf.data.experimental.cardinality(evaluation_batches(dataset, 8, 2, 0)).numpy() == 5


def test_keras_evaluates_the_padded_set_to_the_plain_set_s_loss_and_errors():
    """The loss tracker averages per-batch losses over batches; the weights make that the mean over images."""
    dataset, _, _ = _dataset(45, batch=16, seed=1)  # 2 full batches and one of 13
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(5)])
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), weighted_metrics=[TopKError(1), TopKError(3)]
    )
    plain = model.evaluate(dataset, verbose=0, return_dict=True)
    padded = model.evaluate(evaluation_batches(dataset, 16, 1, 0), verbose=0, return_dict=True)
    assert padded == pytest.approx(plain, rel=1e-6)
    assert set(padded) == {"loss", "top1_error", "top3_error"}


@pytest.mark.parametrize("global_batch, processes", [(10, 3)])
def test_a_global_batch_that_does_not_split_over_the_processes_is_refused(global_batch, processes):
    dataset, _, _ = _dataset(8, batch=4)
    with pytest.raises(ValueError, match="Global batch 10 does not split over 3 processes"):
        evaluation_batches(dataset, global_batch, processes, 0)


def test_an_empty_set_is_refused():
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((0, 2), "float32"), np.zeros((0,), "int64"))).batch(4)
    with pytest.raises(ValueError, match="empty"):
        evaluation_batches(dataset, 4, 2, 1)
