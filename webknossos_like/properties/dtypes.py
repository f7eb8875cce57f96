"""`elementClass` <-> numpy dtype, with webknossos' convention that `elementClass` spans all channels."""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import numpy.typing as npt

from webknossos_like.errors import DataShapeError, DTypeError, InvalidPropertiesError

__all__ = [
    "ELEMENT_CLASSES",
    "SUPPORTED_DTYPES",
    "dtype_per_channel",
    "element_class_for",
]

SUPPORTED_DTYPES: Final = tuple(
    np.dtype(name)
    for name in (
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "int8",
        "int16",
        "int32",
        "int64",
        "float32",
        "float64",
    )
)
"""Per-channel dtypes a layer can have."""

ELEMENT_CLASSES: Final = (
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "int32",
    "int64",
    "float",
    "double",
    "uint24",
)
"""The `elementClass` names of single-channel layers, plus "uint24" (3 x uint8, RGB).

Multi-channel layers written by webknossos may carry other products, e.g. "uint48" for 3 x uint16.
"""

_PATTERN: Final = re.compile(r"(uint|int|float)([0-9]{1,4})", re.ASCII)
_KIND_CHAR: Final = {"uint": "u", "int": "i", "float": "f"}
_KIND_NAME: Final = {"u": "uint", "i": "int", "f": "float"}


def _parse(element_class: str) -> tuple[str, int] | None:
    """Split an element class into (kind, total bits): "uint24" -> ("u", 24), "double" -> ("f", 64)."""
    if element_class == "float":
        return ("f", 32)
    if element_class == "double":
        return ("f", 64)
    match = _PATTERN.fullmatch(element_class)
    if match is None:
        return None
    return (_KIND_CHAR[match.group(1)], int(match.group(2)))


def _lookup(kind: str, bits: int) -> np.dtype[np.generic] | None:
    """The supported dtype of that kind and width, or None."""
    for dtype in SUPPORTED_DTYPES:
        if dtype.kind == kind and dtype.itemsize * 8 == bits:
            return dtype
    return None


def dtype_per_channel(element_class: str, num_channels: int) -> np.dtype[np.generic]:
    """Return the numpy dtype of ONE channel of a layer, as webknossos 4.3.3 reads it.

    webknossos treats `elementClass` as the type of a whole voxel (all channels together):
    "uint24" with 3 channels is 3 x uint8, "uint16" with 2 channels is 2 x uint8, "double"
    with 2 channels is 2 x float32. When the bits do not divide into a supported per-channel
    type (e.g. "uint8" with 3 channels), the class is taken to name the per-channel type
    instead, so such hand-written files still open. Raises `InvalidPropertiesError` otherwise.
    """
    if isinstance(num_channels, bool) or not isinstance(num_channels, int) or num_channels < 1:
        raise InvalidPropertiesError(
            f"numChannels must be a positive integer, got {num_channels!r}"
        )
    parsed = _parse(element_class) if isinstance(element_class, str) else None
    if parsed is None:
        raise InvalidPropertiesError(
            f"unknown elementClass {element_class!r}; expected one of {', '.join(ELEMENT_CLASSES)}"
        )
    kind, bits = parsed
    if bits % num_channels == 0:
        per_channel = _lookup(kind, bits // num_channels)
        if per_channel is not None:
            return per_channel
    if num_channels > 1:
        # Fallback: the class names the per-channel type ("uint8" with numChannels 3).
        per_channel = _lookup(kind, bits)
        if per_channel is not None:
            return per_channel
    raise InvalidPropertiesError(
        f"elementClass {element_class!r} does not fit numChannels {num_channels}"
        + (" ('uint24' means 3 x uint8 and needs numChannels 3)" if bits == 24 else "")
    )


def element_class_for(dtype: npt.DTypeLike, num_channels: int) -> str:
    """Return the `elementClass` webknossos 4.3.3 writes for `num_channels` channels of `dtype`.

    The name covers all channels: uint8 x 1 -> "uint8", uint8 x 3 -> "uint24", uint16 x 3 ->
    "uint48", float32 -> "float", float64 (or float32 x 2) -> "double". `dtype_per_channel`
    inverts it. Raises `DTypeError` for unsupported dtypes and `DataShapeError` for fewer than
    one channel.
    """
    if isinstance(num_channels, bool) or not isinstance(num_channels, int) or num_channels < 1:
        raise DataShapeError(f"num_channels must be a positive integer, got {num_channels!r}")
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError):
        raise DTypeError(f"not a dtype: {dtype!r}") from None
    per_channel = _lookup(resolved.kind, resolved.itemsize * 8)
    if per_channel is None:
        raise DTypeError(
            f"unsupported dtype {resolved}; supported: {', '.join(str(d) for d in SUPPORTED_DTYPES)}"
        )
    total_bits = per_channel.itemsize * 8 * num_channels
    if per_channel.kind == "f" and total_bits == 32:
        return "float"
    if per_channel.kind == "f" and total_bits == 64:
        return "double"
    return f"{_KIND_NAME[per_channel.kind]}{total_bits}"
