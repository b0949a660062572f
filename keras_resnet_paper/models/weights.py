"""Old home of the weights code, now the package `keras_resnet_paper.weights`; import from there.

Kept only so that existing `from keras_resnet_paper.models.weights import ...` lines keep working.
"""

from keras_resnet_paper.weights import *  # noqa: F401,F403
from keras_resnet_paper.weights import __all__  # noqa: F401
