"""Fig. 7 for a grid: the layer responses of each trained CIFAR net on its test set (docs/paper.md,
'Layer responses (Fig. 7)'; reduced to one number per layer as 'Layer responses in the code' says).

The net is rebuilt by name, loaded from the run's `final.weights.h5` and run over the test images
of the data set the run trained on (report.json), in inference mode. The result is kept in the run
folder (`layer_responses.json`) next to the weights it was computed from, so a report made again
does not recompute it.
"""

from __future__ import annotations

import json
import os

from keras_resnet_paper.atomic_files import atomic_write_text
from keras_resnet_paper.reproduce.grid import Run
from keras_resnet_paper.reproduce.results import RESPONSES_FILE

__all__ = ["compute_responses", "trained_net"]

_WEIGHTS = "final.weights.h5"


def trained_net(run: Run, num_classes: int, input_shape=(32, 32, 3)):
    """The run's net, built by name as the trainer builds it, with its final weights."""
    from keras_resnet_paper.models import get_model

    if run.net.train_flags:
        raise ValueError(
            f"run {run.name!r} was trained with {run.net.train_flags}; Fig. 7 reads nets built by name only."
        )
    model = get_model(run.net.model, classes=num_classes, input_shape=tuple(input_shape))
    model.load_weights(os.path.join(run.directory, _WEIGHTS))
    return model


def _fresh(run: Run) -> dict | None:
    path = os.path.join(run.directory, RESPONSES_FILE)
    try:
        with open(path) as f:
            cached = json.load(f)
    except (OSError, ValueError):
        return None
    weights = os.path.join(run.directory, _WEIGHTS)
    return cached if cached.get("weights_mtime") == os.path.getmtime(weights) else None


def _dataset(run: Run) -> str:
    """The data set the run trained on, from the files the training command wrote."""
    for name, path in (
        ("report.json", ("dataset",)),
        ("run.json", ("recipe", "dataset")),
        ("recipe.json", ("dataset",)),
    ):
        try:
            with open(os.path.join(run.directory, name)) as f:
                value = json.load(f)
            for key in path:
                value = value[key]
            return value
        except (OSError, ValueError, KeyError, TypeError):
            continue
    raise ValueError(f"run {run.name!r} names no data set in report.json, run.json or recipe.json.")


def compute_responses(run: Run, *, data_dir: str | None = None, batch_size: int = 250) -> dict[str, float]:
    """{layer: std} of the finished `run`'s 3x3 layers over its test set, cached in the run folder."""
    cached = _fresh(run)
    if cached is not None:
        return cached["responses"]
    from keras_resnet_paper import data
    from keras_resnet_paper.evaluation.layer_responses import layer_responses

    dataset = _dataset(run)
    cifar = data.cifar_datasets(dataset, batch_size=batch_size, data_dir=data_dir, augment="none")
    model = trained_net(run, cifar.num_classes, cifar.test.element_spec[0].shape[1:])
    responses = layer_responses(model, cifar.test)
    record = {
        "dataset": dataset,
        "weights_mtime": os.path.getmtime(os.path.join(run.directory, _WEIGHTS)),
        "responses": responses,
    }
    atomic_write_text(os.path.join(run.directory, RESPONSES_FILE), json.dumps(record, indent=1))
    return responses
