"""Evaluation: FLOP and parameter counts, Fig. 7 layer responses, 10-crop and multi-scale testing."""

from keras_resnet_paper.evaluation.flops import count_flops, count_params
from keras_resnet_paper.evaluation.layer_responses import layer_responses, plot_layer_responses, response_layers

__all__ = [
    "count_flops",
    "count_params",
    "layer_responses",
    "plot_layer_responses",
    "response_layers",
    "evaluate_ten_crop",
    "evaluate_multi_scale",
    "fully_convolutional",
]


def __getattr__(name):
    """The test protocols need TensorFlow: imported on first use (keeps `import keras_resnet_paper` light)."""
    if name in ("evaluate_ten_crop", "ten_crop_scores"):
        from keras_resnet_paper.evaluation import ten_crop

        return getattr(ten_crop, name)
    if name in ("evaluate_multi_scale", "multi_scale_scores", "fully_convolutional"):
        from keras_resnet_paper.evaluation import multi_scale

        return getattr(multi_scale, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
