"""Subpackages whose names are imported on first use (PEP 562), so that importing one name never
imports the others' dependencies: `data.PadCropFlip` or `training.PaperSGD` need Keras alone,
on any backend, while the pipelines and the trainer bring in TensorFlow."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, names: Mapping[str, str], namespace: dict
) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """`__getattr__` and `__dir__` for `package`: each public name of `names` (name -> the
    submodule defining it) imported on first use and kept in `namespace` (the package's globals);
    any other attribute is a submodule (`data.cifar`), imported on first use, or an AttributeError."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            if importlib.util.find_spec(f"{package}.{name}") is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            return importlib.import_module(f"{package}.{name}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
