"""Helper run in a subprocess by the training tests: `python train_subprocess.py '<json kwargs or list of them>'`.

Splits the CPU into `cpus` logical devices before TensorFlow initialises (MirroredStrategy over 2
CPUs), calls `keras_resnet_paper.training.train(**kwargs)` and prints one line
`RESULT {"losses": [...], "final": {...}, "weights_sum": ..., "steps": ...}`.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    runs = json.loads(sys.argv[1])
    runs = runs if isinstance(runs, list) else [runs]
    cpus = max(r.pop("cpus", 1) for r in runs)
    import tensorflow as tf

    if cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpus)
    import keras
    import numpy as np

    from keras_resnet_paper.training import train

    class LossTrace(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    for kwargs in runs:
        trace = LossTrace()
        result = train(extra_callbacks=[trace], **kwargs)
        weights = result.model.get_weights()
        print(
            "RESULT "
            + json.dumps(
                {
                    "losses": trace.losses,
                    "final": result.final,
                    "steps": result.steps,
                    "resumed_from": result.resumed_from,
                    "weights_sum": float(sum(np.abs(w).astype("float64").sum() for w in weights)),
                    "trainable_sum": float(
                        sum(np.abs(w.numpy()).astype("float64").sum() for w in result.model.trainable_weights)
                    ),
                    "fallbacks": list(result.fallbacks),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
