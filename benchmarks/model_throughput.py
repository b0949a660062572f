"""Inference throughput of our ImageNet models (as built, and with BatchNorm folded into the
convolutions: `deploy.fold_batchnorm`) against keras.applications, in the same run.

    python benchmarks/model_throughput.py --depths 50 --batch_size 32 --image_size 224
    python benchmarks/model_throughput.py --depths 50,20    # ResNet-20 (CIFAR, 32x32): ours vs folded only
    python benchmarks/model_throughput.py --jit_compile --precision mixed_float16   # on a GPU

Both models are compiled the same way (`tf.function`, optional XLA) and timed in interleaved
rounds after warm-up; the figure is the median round, and the ratio ours / keras.applications is
what RESULTS.md records (absolute numbers depend on the machine and its load), for our model as
built and folded.
"""

from __future__ import annotations

import statistics
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_list("depths", ["50"], "Depths: ImageNet 50, 101, 152 (against keras.applications); CIFAR 20, 56, 110.")
flags.DEFINE_integer("batch_size", 16, "Images per forward pass.")
flags.DEFINE_integer("image_size", 224, "Square input size.")
flags.DEFINE_integer("steps", 5, "Forward passes per timed round.")
flags.DEFINE_integer("rounds", 5, "Interleaved timed rounds per model.")
flags.DEFINE_bool("jit_compile", False, "Compile with XLA.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_float16", "mixed_bfloat16"], "Dtype policy.")

_PEERS = {50: "ResNet50", 101: "ResNet101", 152: "ResNet152"}
_CIFAR = (20, 56, 110)  # no keras.applications peer: ours against ours folded, at 32x32


def _forward(model, jit_compile: bool):
    import tensorflow as tf

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def step(x):
        return model(x, training=False)

    return step


def _round(step, x, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        out = step(x)
    out.numpy()  # wait for the device
    return steps * int(x.shape[0]) / (time.perf_counter() - start)


def measure(
    depth: int, batch_size: int, image_size: int, steps: int, rounds: int, jit_compile: bool, precision: str
) -> dict[str, float]:
    """Median images/s of ours, ours folded and keras.applications' ResNet-`depth`, interleaved."""
    import keras
    import tensorflow as tf

    import keras_resnet_paper as krp
    from keras_resnet_paper.deploy import fold_batchnorm

    keras.mixed_precision.set_global_policy(precision)
    shape = (32, 32, 3) if depth in _CIFAR else (image_size, image_size, 3)
    ours = krp.cifar_resnet(depth) if depth in _CIFAR else krp.imagenet_resnet(depth, weights=None, input_shape=shape)
    x = tf.random.uniform((batch_size, *shape), 0, 255)
    steps_fn = {"ours": _forward(ours, jit_compile), "ours folded": _forward(fold_batchnorm(ours), jit_compile)}
    if depth in _PEERS:
        peer = getattr(keras.applications, _PEERS[depth])(weights=None, input_shape=shape)
        steps_fn["keras.applications"] = _forward(peer, jit_compile)
    for fn in steps_fn.values():  # trace, compile and warm up
        _round(fn, x, 2)
    rates: dict[str, list[float]] = {k: [] for k in steps_fn}
    for _ in range(rounds):
        for name, fn in steps_fn.items():
            rates[name].append(_round(fn, x, steps))
    result = {k: statistics.median(v) for k, v in rates.items()}
    peer = result.get("keras.applications", result["ours"])  # CIFAR: folded against ours as built
    result["ratio"] = result["ours"] / peer
    result["folded ratio"] = result["ours folded"] / peer
    keras.mixed_precision.set_global_policy("float32")
    return result


def main(argv):
    del argv
    import tensorflow as tf

    device = tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("CPU")
    print(
        f"device: {device[0].device_type} x{len(device)}; batch {FLAGS.batch_size}, "
        f"{FLAGS.image_size}px, jit_compile={FLAGS.jit_compile}, precision={FLAGS.precision}"
    )
    for depth in map(int, FLAGS.depths):
        if depth not in (*_PEERS, *_CIFAR):
            raise ValueError(f"depth={depth}; allowed: {sorted(_PEERS)} (ImageNet), {list(_CIFAR)} (CIFAR).")
        r = measure(
            depth, FLAGS.batch_size, FLAGS.image_size, FLAGS.steps, FLAGS.rounds, FLAGS.jit_compile, FLAGS.precision
        )
        if depth in _CIFAR:
            print(f"ResNet-{depth} (32px): ours {r['ours']:.1f} img/s, folded {r['ours folded']:.1f} img/s, "
                  f"folded / ours {r['folded ratio']:.3f}")  # fmt: skip
            continue
        print(
            f"ResNet-{depth}: ours {r['ours']:.1f} img/s, folded {r['ours folded']:.1f} img/s, keras.applications "
            f"{r['keras.applications']:.1f} img/s, ratio {r['ratio']:.3f}, folded ratio {r['folded ratio']:.3f}"
        )


if __name__ == "__main__":
    app.run(main)
