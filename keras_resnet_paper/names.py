"""Model names, written one way everywhere: the command line, the recipes, the weights registry.

A module of its own (it imports nothing of the package), so the weights registry can use it
without importing the builders that import the weights.
"""

from __future__ import annotations

import re

__all__ = ["normalize_model_name", "CIFAR_NAME"]

#: A CIFAR net of Sec. 4.2 by depth: "resnet20", "plain56", any 6n+2.
CIFAR_NAME = re.compile(r"^(resnet|plain)(\d+)$")


def normalize_model_name(name: str) -> str:
    """ "ResNet-20", "resnet_20", "RESNET20" -> "resnet20" (no check that the model exists)."""
    if not isinstance(name, str):
        raise ValueError(f"model={name!r} is not a model name (a string such as 'resnet20').")
    return re.sub(r"[^a-z0-9]", "", name.lower())
