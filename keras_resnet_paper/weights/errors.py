"""Errors of the weights package: a file that does not fit the model."""

from __future__ import annotations

__all__ = ["WeightsMismatchError"]


class WeightsMismatchError(ValueError):
    """A weights file that does not fit the model; raised before anything is assigned."""
