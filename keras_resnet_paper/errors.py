"""Errors a user meets at the boundaries of the library: things that could not be fetched.

A run without a network (or behind a firewall) must end with one line that says what could not be
fetched and what to do instead, never a traceback from deep inside a download library. Every
loader that reaches the network raises one of these with such a line as its message; the command
lines print `str(error)` and exit with status 2.
"""

from __future__ import annotations

__all__ = ["ResourceUnavailableError", "DatasetUnavailableError", "WeightsUnavailableError"]


class ResourceUnavailableError(OSError):
    """A data set or a weights file could not be fetched or read; the message is one line that
    names it and says what to do instead."""


class DatasetUnavailableError(ResourceUnavailableError):
    """A data set could not be downloaded or prepared (no network, no prepared copy)."""


class WeightsUnavailableError(ResourceUnavailableError):
    """A pretrained weights file could not be downloaded, or its download failed its hash check."""
