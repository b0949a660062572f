"""keras_resnet_paper: He et al., Deep Residual Learning for Image Recognition (CVPR 2016).

Importing the package builds nothing and needs only Keras: the models use Keras layers and
`keras.ops` alone. `keras_resnet_paper.data` and `keras_resnet_paper.training` (TensorFlow) are
imported on first use.
"""

from keras_resnet_paper.evaluation.flops import count_flops, count_params
from keras_resnet_paper.models import *  # noqa: F401,F403
from keras_resnet_paper.models import __all__ as _models_all
from keras_resnet_paper.version import __version__

__all__ = ["__version__", "count_flops", "count_params", *_models_all]
