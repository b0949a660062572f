"""keras_resnet_paper: He et al., Deep Residual Learning for Image Recognition (CVPR 2016).

Importing the package builds nothing, registers its Keras layers (a saved `.keras` file loads
after `import keras_resnet_paper`) and needs only Keras, on any Keras backend (TensorFlow, JAX,
PyTorch): the models use Keras layers and `keras.ops` alone. `keras_resnet_paper.weights` holds the
pretrained releases, their input conventions and the readers behind `weights=` (`load_weights` is
also here at the top). `keras_resnet_paper.data` and `keras_resnet_paper.training` import each name
on first use: `data.PadCropFlip`, `training.PaperSGD`, the schedules and the callbacks are pure
Keras; the tf.data pipelines and `training.train` bring in TensorFlow (see `training.backends`).
"""

from keras_resnet_paper import startup as _startup

# A command of the package (`python -m keras_resnet_paper.<command>`, `keras-resnet-paper-<command>`)
# starts quietly and interruptibly before anything loads the framework; any import drops only
# TensorFlow's load-time notices while Keras loads (startup.py).
if _startup.run_as_command():
    _startup.quiet_start()

with _startup.load_time_notices_dropped():
    # The order matters (weights after models: the builders load weights).
    # isort: off
    from keras_resnet_paper.evaluation.flops import count_flops, count_params
    from keras_resnet_paper.models import *  # noqa: F403
    from keras_resnet_paper.models import __all__ as _models_all
    from keras_resnet_paper.version import __version__
    from keras_resnet_paper import deploy, weights
    from keras_resnet_paper.weights import load_weights
    # isort: on

__all__ = ["__version__", "deploy", "count_flops", "count_params", "load_weights", "weights", *_models_all]  # noqa: PLE0604
