"""Checks of public arguments where they enter: one error naming the argument and what is allowed.

Every constructor and data function of the package checks its arguments with these before it
builds anything, so a wrong value is our own error naming it instead of a wrong model built
silently (``stride_in_1x1='no'`` taken as True, ``blocks=(1.7, ...)`` truncated) or a framework
error deep inside Keras or TensorFlow. Booleans must be booleans, integers integers (``True`` is
not an int, ``1.7`` is not an int), numbers finite and in range.

A value of the wrong type raises `ArgumentTypeError`, which is both a TypeError and a ValueError
(so callers that catch ValueError, such as the command lines, still print one line); a value of
the right type out of its range raises ValueError.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ArgumentTypeError",
    "INT64_MAX",
    "check_bool",
    "check_int",
    "check_float",
    "check_choice",
    "check_seed",
    "check_shape",
    "check_float_dtype",
    "check_finite_array",
    "check_labels",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_FLOAT_POLICIES = ("float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16")


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (a TypeError that is also a ValueError)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_bool(name: str, value: Any, *, allow_none: bool = False) -> bool | None:
    """`value` as a bool; only True/False (and None with `allow_none`) are allowed, not 'no' or 1."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        also = " or None" if allow_none else ""
        raise ArgumentTypeError(f"{name}={value!r} must be True or False{also}.")
    return bool(value)


def _range_text(minimum, maximum, low_open: bool = False, high_open: bool = False) -> str:
    if minimum is not None and maximum is not None:
        return f"in {'(' if low_open else '['}{minimum}, {maximum}{')' if high_open else ']'}"
    if minimum is not None:
        return f"{'>' if low_open else '>='} {minimum}"
    return f"{'<' if high_open else '<='} {maximum}"


def check_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None, allow_none: bool = False
) -> int | None:
    """`value` as an int in [minimum, maximum]; bools and floats (even 2.0) are refused."""
    if value is None and allow_none:
        return None
    if not _is_int(value):
        raise ArgumentTypeError(f"{name}={value!r} must be an int{' or None' if allow_none else ''}.")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name}={value!r} must be an int {_range_text(minimum, maximum)}.")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """`value` as a finite float in the range (open ends with `low_open` / `high_open`)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name}={value!r} must be a number{' or None' if allow_none else ''}.")
    number = float(value)
    bad = not math.isfinite(number)
    if minimum is not None:
        bad = bad or number < minimum or (low_open and number == minimum)
    if maximum is not None:
        bad = bad or number > maximum or (high_open and number == maximum)
    if bad:
        ranged = minimum is not None or maximum is not None
        allowed = " " + _range_text(minimum, maximum, low_open, high_open) if ranged else ""
        raise ValueError(f"{name}={value!r} must be a finite number{allowed}.")
    return number


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """`value` if it is one of `allowed` (compared by equality, strings only with strings)."""
    try:
        ok = any(value == a and type(value) is type(a) or (value is None and a is None) for a in allowed)
    except (TypeError, ValueError):  # an array compared with a string
        ok = False
    if not ok:
        raise ValueError(f"{name}={value!r:.80} is not allowed; use one of {tuple(allowed)}.")
    return value


def check_seed(name: str, value: Any) -> int | None:
    """None, or an int that fits int64 (the seeds of TensorFlow's random ops and tf.data)."""
    return check_int(name, value, minimum=0, maximum=INT64_MAX, allow_none=True)


def check_shape(name: str, value: Any, *, length: int, allow_unknown: bool = True, what: str = "") -> tuple:
    """A tuple of `length` positive ints (None for an unknown size where allowed); `what` names
    the dimensions in the message, e.g. "height, width, channels"."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ArgumentTypeError(f"{name}={value!r} must be a tuple of {length} positive ints.")
    value = tuple(value)
    if len(value) != length:
        named = f" ({what})" if what else ""
        raise ValueError(f"{name}={value!r} must have {length} dimensions{named}; got {len(value)}.")
    for dim in value:
        if dim is None and allow_unknown:
            continue
        if not _is_int(dim) or dim < 1:
            also = " or None" if allow_unknown else ""
            raise ValueError(f"{name}={value!r}: every entry must be a positive int{also}; got {dim!r}.")
    return tuple(None if d is None else int(d) for d in value)


def check_float_dtype(name: str, value: Any) -> Any:
    """None, a Keras dtype policy, a floating NumPy/TensorFlow dtype, or the name of a floating
    dtype / mixed policy."""
    if value is None:
        return None
    import keras

    if isinstance(value, keras.DTypePolicy):
        policy = value
    elif isinstance(value, str):
        if value not in _FLOAT_POLICIES:
            raise ValueError(f"{name}={value!r} is not a floating dtype; use one of {_FLOAT_POLICIES}.")
        return value
    else:  # a NumPy or TensorFlow dtype such as np.float32, tf.float16
        try:
            dtype_name = np.dtype(value).name
        except TypeError:
            dtype_name = getattr(value, "name", None)
        if not isinstance(dtype_name, str) or isinstance(value, (bool, int, float)):
            raise ArgumentTypeError(
                f"{name}={value!r} must be None, a dtype name such as 'float32' or "
                "'mixed_float16', a floating dtype or a keras.DTypePolicy."
            )
        if dtype_name not in _FLOAT_POLICIES:
            raise ValueError(f"{name}={value!r} is not a floating dtype; use one of {_FLOAT_POLICIES}.")
        return value
    if not (policy.compute_dtype or "").startswith(("float", "bfloat")):
        raise ValueError(f"{name}={value!r} computes in {policy.compute_dtype}, not a floating dtype.")
    return value


def check_finite_array(name: str, value: Any, *, dtype=np.float32) -> np.ndarray:
    """`value` as an array of `dtype` whose entries are all finite (no NaN, no inf)."""
    try:
        array = np.asarray(value, dtype)
    except (TypeError, ValueError) as err:
        raise ArgumentTypeError(f"{name}={value!r:.80} is not an array of numbers: {err}.") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} holds {int(np.size(array) - np.isfinite(array).sum())} non-finite value(s) "
            "(NaN or inf); every value must be finite."
        )
    return array


def check_labels(name: str, labels: Any) -> np.ndarray:
    """Class labels as int32: integers (not floats such as 1.5), none negative."""
    array = np.asarray(labels)
    if array.size and not (
        np.issubdtype(array.dtype, np.integer)
        or (np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)))
    ):
        raise ValueError(f"{name} must hold integer class labels; got dtype {array.dtype}.")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} holds negative labels (smallest {array.min()}); labels are class indices 0..n-1.")
    return array.astype(np.int32)
