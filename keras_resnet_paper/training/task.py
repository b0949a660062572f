"""The paper's image classification as a task in named parts, after TF Model Garden's `Task`:
`build_inputs`, `build_model`, `build_losses`, `build_metrics`, `build_optimizer` and the lr
callbacks, each usable and testable alone. `trainer.train` puts them together.

The model trains on logits: the classifier's activation (softmax) is left out of the trained
graph and the loss is `from_logits=True`, which is exact and numerically safe on every Keras
backend; `inference_model` puts the softmax back for prediction, evaluation protocols and export.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from keras_resnet_paper.evaluation.topk import TopKError
from keras_resnet_paper.models.zoo import get_model
from keras_resnet_paper.training.bn_recalibration import bn_layers
from keras_resnet_paper.training.optimizer import PaperSGD
from keras_resnet_paper.training.run_config import RunConfig
from keras_resnet_paper.training.schedules import ErrorThresholdWarmup, PlateauDecay

__all__ = ["ImageClassificationTask", "inference_model"]


class ImageClassificationTask:
    """Sec. 3.4 / 4.2 training of one model of the paper on one data set, from a `RunConfig`.

    `data_source` replaces the recipe's data set (any `training_data` source, e.g. arrays);
    `input_shape` overrides the shape taken from the data; `model_kwargs` go to the builder.
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        data_source: Any = None,
        input_shape: Sequence[int] | None = None,
        model_kwargs: dict | None = None,
    ):
        self.config = config
        self.data_source = data_source
        self.input_shape = tuple(input_shape) if input_shape else None
        self.model_kwargs = dict(model_kwargs or {})

    # ------------------------------------------------------------------------------ inputs
    def build_inputs(self, input_context=None, deterministic: bool = False):
        """The run's data (`data.training_data`); with `input_context`, this worker's shard in
        per-replica batches."""
        from keras_resnet_paper.data.training_data import training_data

        recipe = self.config.recipe
        return training_data(
            self.data_source if self.data_source is not None else recipe.dataset,
            self.config.global_batch,
            **recipe.data_options(),
            seed=self.config.seed,
            input_context=input_context,
            deterministic=deterministic,
            data_dir=self.config.data_dir,
            skip_corrupt=self.config.skip_corrupt,
        )

    # ------------------------------------------------------------------------------ model
    def build_model(self, data, sync_bn: bool = False) -> keras.Model:
        """The logits model for `data`: its classes and input shape, the augmentation layer in
        front when the data asks for one on the accelerator."""
        shape = self.input_shape or tuple(data.train.element_spec[0].shape[1:])
        model = get_model(
            self.config.model,
            classes=data.num_classes,
            input_shape=shape,
            **{**self.config.model_kwargs(), **self.model_kwargs, "classifier_activation": None},
        )
        if sync_bn:  # BN statistics over the global batch, not per replica
            for layer in bn_layers(model):
                layer.synchronized = True
        if getattr(data, "augmentation", None) is not None:
            inputs = keras.Input(shape)
            model = keras.Model(inputs, model(data.augmentation(inputs)), name=model.name)
        return model

    def build_losses(self) -> keras.losses.Loss:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def build_metrics(self) -> list[keras.metrics.Metric]:
        """Top-1 and top-5 error (%-able fractions), as the paper reports them."""
        return [TopKError(1), TopKError(5)]

    def build_optimizer(self, mixed_float16: bool = False) -> keras.optimizers.Optimizer:
        """SGD with momentum and Caffe-style L2 (`PaperSGD`) on the run's schedule."""
        recipe = self.config.recipe
        optimizer = PaperSGD(
            self.config.schedule,
            momentum=recipe.momentum,
            l2=recipe.weight_decay,
            exclude_bn_and_bias=recipe.exclude_bn_and_bias_from_weight_decay,
        )
        return keras.optimizers.LossScaleOptimizer(optimizer) if mixed_float16 else optimizer

    def build_lr_callbacks(self) -> tuple[list, list]:
        """(stateful callbacks whose state goes into checkpoints, every lr callback): the plateau
        rule of Sec. 3.4 and ResNet-110's warm-up of Sec. 4.2."""
        recipe = self.config.recipe
        stateful, callbacks = [], []
        if recipe.plateau:
            plateau = PlateauDecay(
                monitor="val_top1_error",
                factor=recipe.lr_decay,
                patience=recipe.plateau_patience,
                min_delta=recipe.plateau_min_delta,
                min_lr=recipe.min_lr,
            )
            stateful.append(plateau)
            callbacks.append(plateau)
        if self.config.uses_warmup:
            callbacks.append(ErrorThresholdWarmup(recipe.warmup_lr / recipe.base_lr, recipe.warmup_error))
        return stateful, callbacks


def inference_model(model: keras.Model, activation: str = "softmax") -> keras.Model:
    """`model` (which outputs logits) with the classifier activation applied, sharing its weights
    and compiled with its optimizer: for prediction, evaluation protocols and export."""
    probabilities = keras.layers.Activation(activation, dtype="float32", name="probabilities")(model.outputs[0])
    wrapped = keras.Model(model.inputs, probabilities, name=model.name)
    wrapped.compile(
        optimizer=model.optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[TopKError(1), TopKError(5)],
    )
    return wrapped
