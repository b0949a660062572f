"""Strategy choice, global batch split, XLA/precision fallbacks and the chief (no subprocess)."""

import json

import pytest
import tensorflow as tf

from keras_resnet_paper.training import make_strategy, per_replica_batch, resolve_options
from keras_resnet_paper.training.strategies import is_chief


def test_default_strategy_and_bad_names():
    s = make_strategy("default")
    assert s.num_replicas_in_sync == 1
    assert make_strategy("auto").num_replicas_in_sync == 1  # no GPUs here
    with pytest.raises(ValueError, match="--strategy='nccl'"):
        make_strategy("nccl")


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi_worker")


def test_per_replica_batch():
    s = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert per_replica_batch(128, s) == 128
    assert per_replica_batch(128, make_strategy("default")) == 128

    class Two:
        num_replicas_in_sync = 2

    assert per_replica_batch(128, Two()) == 64
    with pytest.raises(ValueError, match="Global batch 127 does not split over 2"):
        per_replica_batch(127, Two())


def test_fallbacks_are_explicit():
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0"])
    opts = resolve_options(mirrored, jit_compile=True, precision="float32")
    assert opts.jit_compile is False and "falling back to jit_compile=False" in opts.fallbacks[0]
    opts = resolve_options(make_strategy("default"), jit_compile=True, precision="mixed_bfloat16")
    assert opts == type(opts)(jit_compile=True, precision="mixed_bfloat16", fallbacks=())
    assert "emulated" in resolve_options(make_strategy("default"), False, "mixed_float16").fallbacks[0]
    with pytest.raises(ValueError, match="--precision='float16'"):
        resolve_options(make_strategy("default"), False, "float16")


def test_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief()
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert not is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief()
    cluster = {"chief": ["localhost:0"], **cluster}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert not is_chief()


def test_train_rejects_bad_arguments_early():
    from keras_resnet_paper.training import train

    with pytest.raises(ValueError, match="batch_size=0"):
        train("cifar10_offline", batch_size=0)
    with pytest.raises(ValueError, match="steps_per_execution=0"):
        train("cifar10_offline", steps_per_execution=0)
    with pytest.raises(ValueError, match="Unknown recipe 'cifar11'"):
        train("cifar11")
    with pytest.raises(ValueError, match="model='resnet21' is not a model of the family"):
        train("cifar10_offline", "resnet21")
    with pytest.raises(TypeError, match="unexpected options"):
        train("cifar10_offline", "resnet8", iteratons=3)
