"""The data part of a recipe, in one vocabulary for every data set (Sec. 3.4 and 4.2).

A leaf module without TensorFlow, so recipes and the command line read it cheaply; the
pipelines (`data.cifar`, `data.imagenet`) and `data.training_data` check against it.
"""

from __future__ import annotations

#: What a training pipeline does to each image: "paper" (Sec. 4.2's pad/crop/flip for CIFAR,
#: Sec. 3.4's scale augmentation, flip and colour for ImageNet), "inception" (ImageNet-style sets
#: only: the random-resized crop of later recipes, not the paper's) or "none".
AUGMENTATIONS = ("paper", "inception", "none")
#: Where CIFAR's pad/crop/flip runs: in tf.data on the "host", or as a Keras layer on the "device".
AUGMENT_PLACES = ("host", "device")
#: ImageNet scale augmentation: the shorter side uniform in [256, 480] (Sec. 3.4).
SCALE_RANGE = (256, 480)
