"""keras_resnet_paper: He et al., Deep Residual Learning for Image Recognition (CVPR 2016).

Importing the package builds nothing and loads no framework: every name is imported on first use
(`lazy_imports`), so `import keras_resnet_paper as krp` is instant and a command starts quietly.
The models need only Keras, on any Keras backend (TensorFlow, JAX, PyTorch): they use Keras layers
and `keras.ops` alone. `keras_resnet_paper.weights` holds the pretrained releases, their input
conventions and the readers behind `weights=` (`load_weights` is also here at the top).
`keras_resnet_paper.data` and `keras_resnet_paper.training` import each name on first use:
`data.PadCropFlip`, `training.PaperSGD`, the schedules and the callbacks are pure Keras; the
tf.data pipelines and `training.train` bring in TensorFlow (see `training.backends`).
"""

from __future__ import annotations

from keras_resnet_paper import models as _models
from keras_resnet_paper.lazy_imports import lazy_names
from keras_resnet_paper.version import __version__

#: public name -> the module that defines it (relative to this package)
_NAMES = {
    "count_flops": "evaluation.flops",
    "count_params": "evaluation.flops",
    "load_weights": "weights",
    **{name: "models" for name in _models.__all__},
}

__all__ = ["__version__", "weights", *sorted(_NAMES)]  # noqa: PLE0604
__getattr__, __dir__ = lazy_names(__name__, _NAMES, globals())
