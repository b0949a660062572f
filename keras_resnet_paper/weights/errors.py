"""Errors of the weights package: a file that cannot be read, or that does not fit the model.

Both are ValueErrors raised before a single variable is assigned; a file that cannot be fetched
at all is `keras_resnet_paper.errors.WeightsUnavailableError`.
"""

from __future__ import annotations

__all__ = ["WeightsError", "WeightsFileError", "WeightsMismatchError"]


class WeightsError(ValueError):
    """A weights file that cannot be used; nothing was loaded."""


class WeightsFileError(WeightsError):
    """A file that cannot be read as the format its name or its first bytes claim (empty,
    truncated, another format, pickled objects); the message names the file and what is wrong."""


class WeightsMismatchError(WeightsError):
    """A readable weights file that does not fit the model; raised before anything is assigned."""
