"""The machine and software a run used, as run.json and the grid reports record them.

Sec. 4 of the paper gives its hardware only as "8 GPUs" (ImageNet) and "2 GPUs" (CIFAR); a re-run
is only comparable with its own machine, framework versions and devices written beside its numbers.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket

__all__ = ["cpu_model", "describe_machine", "package_versions"]

#: the packages whose versions decide a run's numbers
PACKAGES = ("keras_resnet_paper", "keras", "tensorflow", "jax", "jaxlib", "torch", "numpy")


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else what `platform` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str]:
    """Python's and the installed versions of `PACKAGES` (those not installed are left out)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def describe_machine() -> dict:
    """Host, CPU model and cores, and `package_versions()`."""
    return {
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "versions": package_versions(),
    }
