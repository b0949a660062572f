"""Runs in a fresh process on the Keras backend of KERAS_BACKEND (read once, at import), for
tests/backends: `python backend_process.py COMMAND JSON_ARGUMENTS`; prints one `RESULT {json}` line.

Commands: `imports` (which of the library's parts import without TensorFlow), `outputs` (a model's
outputs with weights saved by another backend), `train` (a short `train()` run, its devices).
"""

from __future__ import annotations

import json
import sys

import numpy as np


def imports(_: dict) -> dict:
    import keras_resnet_paper as krp
    from keras_resnet_paper import data, training

    parts = {
        "models": krp.ResNet20,
        "PaperSGD": training.PaperSGD,
        "PaperSchedule": training.PaperSchedule,
        "PlateauDecay": training.PlateauDecay,
        "StepCheckpoint": training.StepCheckpoint,
        "task": training.ImageClassificationTask,
        "PadCropFlip": data.PadCropFlip,
    }
    layer = data.PadCropFlip(seed=1)
    images = np.arange(2 * 8 * 8 * 3, dtype="float32").reshape(2, 8, 8, 3)
    moved = np.asarray(layer(images, training=True))
    return {
        "parts": sorted(parts),
        "tensorflow_imported": "tensorflow" in sys.modules,
        "augmented_changes_images": bool(np.any(moved != images)),
    }


def outputs(args: dict) -> dict:
    """For each model of `args["models"]` ([name, builder arguments, weights file, inputs .npy]),
    its predictions saved next to its inputs as `<inputs>.out.npy`."""
    from keras_resnet_paper.models.zoo import get_model

    for name, kwargs, weights, inputs in args["models"]:
        model = get_model(name, **kwargs)
        model.load_weights(weights)
        np.save(inputs + ".out.npy", np.asarray(model.predict(np.load(inputs), verbose=0)))
    return {"models": len(args["models"])}


def train_run(args: dict) -> dict:
    from keras_resnet_paper.training import train

    result = train(
        "cifar10_offline",
        args["model"],
        model_dir=args.get("model_dir"),
        verbose=0,
        write_report=False,
        tensorboard=False,
        **args["options"],
    )
    sharding = getattr(result.training_model.trainable_variables[0].value, "sharding", None)  # JAX arrays
    return {
        "steps": result.steps,
        "losses": [row["loss"] for row in result.history],
        "devices": len(sharding.device_set) if sharding is not None else 1,
        "fallbacks": list(result.fallbacks),
        "top1_error": result.final["top1_error"],
        "final": result.final,
        "trainable_sum": float(
            sum(np.sum(np.asarray(v.numpy(), np.float64)) for v in result.training_model.trainable_variables)
        ),
    }


COMMANDS = {"imports": imports, "outputs": outputs, "train": train_run}

if __name__ == "__main__":
    print("RESULT " + json.dumps(COMMANDS[sys.argv[1]](json.loads(sys.argv[2]))), flush=True)
