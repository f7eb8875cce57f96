"""Writes with another dtype: cast when every value fits the layer's dtype, refuse otherwise.

`np.full(..., 5, np.int64)` into a uint32 layer or `200.0` into uint8 are what a user means, so
they are cast. Values out of range, floats with a fraction, NaN or infinity would be silently
changed by a cast, so they are refused with the offending range in the message.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError


def _range(array: np.ndarray) -> tuple[Any, Any]:
    """The smallest and largest value as Python numbers, so comparisons with limits are exact.

    numpy compares `float32(2**32) > 4294967295` in float32 (False); Python compares exactly.
    """
    return array.min().item(), array.max().item()


def _describe(array: np.ndarray) -> str:
    low, high = _range(array)
    return f"values {low}..{high}"


def cast_to_layer_dtype(array: np.ndarray, dtype: np.dtype[Any], what: str = "write") -> np.ndarray:
    """`array` as `dtype` when no value changes, else `DTypeError` showing the values' range."""
    if array.dtype == dtype:
        return array
    if np.can_cast(array.dtype, dtype, casting="safe") or array.size == 0:
        return array.astype(dtype, order="F")
    problem = _why_not(array, dtype)
    if problem is not None:
        raise DTypeError(
            f"Cannot {what} {array.dtype} data with {problem} to a {dtype} layer without "
            f"changing values; convert it first, e.g. data.astype(np.{dtype})."
        )
    return array.astype(dtype, order="F")


def _why_not(array: np.ndarray, dtype: np.dtype[Any]) -> str | None:
    """What about `array`'s values does not fit `dtype` (None when all fit exactly)."""
    kind = array.dtype.kind
    if kind not in "biuf":
        return f"kind {array.dtype.kind!r}"
    if kind == "f":
        if not np.isfinite(array).all():
            return "NaN or infinite values"
        if dtype.kind in "iu" and not np.array_equal(array, np.trunc(array)):
            fractions = array[array != np.trunc(array)]
            return f"fractional values (e.g. {fractions.flat[0]}; {_describe(array)})"
    low, high = _range(array)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if low < info.min or high > info.max:
            return f"{_describe(array)} outside {info.min}..{info.max}"
        return None
    if dtype.kind == "f":
        finfo = np.finfo(dtype)
        fmin, fmax = float(finfo.min), float(finfo.max)
        if kind == "f":
            if low < fmin or high > fmax:
                return f"{_describe(array)} outside the {dtype} range"
            return None
        exact = 2 ** (finfo.nmant + 1)  # integers beyond this are rounded by the float
        if low < -exact or high > exact:
            return f"{_describe(array)} that {dtype} cannot hold exactly (beyond ±{exact})"
        return None
    return f"a {dtype} target"
