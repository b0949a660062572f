"""`deterministic=True` repeats a run bit for bit at the recipes' own batch size (issue 14, item 8).

Each run is its own process, as a user repeats a command: the inter-op setting that makes the CPU
step repeatable (`runtime.seed_process`) has to be made before TensorFlow starts.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

HELPER = os.path.join(os.path.dirname(__file__), "train_subprocess.py")


def _run(kwargs: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, HELPER, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.mark.slow
def test_two_processes_train_identically_at_batch_128():
    """ResNet-8 at the CIFAR recipe's batch of 128: before one inter-op thread, the two runs parted
    at the second step (the gradients' partial sums depended on thread scheduling)."""
    run = {
        "run": "cifar10_offline",
        "model_name": "resnet8",
        "iterations": 6,
        "eval_every": 3,
        "deterministic": True,
        "verbose": 0,
        "write_report": False,
        "seed": 3,
    }
    first, second = _run(run), _run(run)
    assert first["steps"] == second["steps"] == 6 and len(first["losses"]) == 6
    assert first["losses"] == second["losses"]
    assert first["weights_sum"] == second["weights_sum"]
    assert first["final"] == second["final"]


_REPEATED_GRADIENTS = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    from keras_resnet_paper.training.runtime import seed_process
    seed_process(0, deterministic=sys.argv[1] == "1")
    import keras, tensorflow as tf
    from keras_resnet_paper.models import get_model
    model = get_model("resnet20", classes=10, input_shape=(32, 32, 3), classifier_activation=None)
    x = tf.constant(np.random.default_rng(0).normal(size=(128, 32, 32, 3)).astype("float32"))
    y = tf.constant(np.arange(128) % 10)

    @tf.function
    def gradients():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True), from_logits=True))
        return tape.gradient(loss, model.trainable_variables)

    digests = {hashlib.md5(b"".join(g.numpy().tobytes() for g in gradients())).hexdigest() for _ in range(6)}
    print("DIGESTS", len(digests))
""")


def test_compiled_gradients_repeat_bit_for_bit():
    """The compiled ResNet-20 gradients at batch 128, six times in one deterministic process: one
    result (without one inter-op thread, 2 or 3 different roundings came out on 2 cores)."""
    proc = subprocess.run(
        [sys.executable, "-c", _REPEATED_GRADIENTS, "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DIGESTS 1" in proc.stdout, proc.stdout
