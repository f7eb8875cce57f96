"""`ImageSource`: what an importer needs from an input (size, dtype, channels, voxel size),
read one z-range at a time so that memory never holds the whole stack."""

from __future__ import annotations

import abc
from typing import Any

import attrs
import numpy as np

from ..errors import InvalidArgumentError
from ..geometry import Vec3Int
from ..properties.models import LENGTH_UNIT_TO_NANOMETER, normalize_length_unit


@attrs.frozen
class StackInfo:
    """The shape of an input: `size` in voxels (x, y, z), one channel's dtype, channels, and
    the voxel size its metadata gives (None if it gives none)."""

    size: Vec3Int
    dtype: np.dtype[Any]
    num_channels: int
    voxel_size: tuple[float, float, float] | None = None
    voxel_size_unit: str = "nanometer"


class ImageSource(abc.ABC):
    """An input stack; instances hold paths only, so they pickle to worker processes."""

    info: StackInfo

    @abc.abstractmethod
    def read_slab(self, z_start: int, z_stop: int) -> np.ndarray:
        """Slices `z_start..z_stop` as a `(c, x, y, z)` array of `info.dtype`."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The input, for messages (`42 slices in /data/stack`)."""


def storable_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype a layer stores for image data of `dtype`: native byte order, bool as uint8."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.dtype(np.uint8)
    return dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype


def voxel_size_in(
    sizes: tuple[float, float, float], units: tuple[str, str, str]
) -> tuple[tuple[float, float, float], str] | None:
    """One voxel size in the x unit, from per-axis sizes and units (None if a unit is unknown)."""
    try:
        names = [normalize_length_unit(unit) for unit in units]
    except (InvalidArgumentError, ValueError):
        return None
    if any(size <= 0 for size in sizes):
        return None
    to_x = [LENGTH_UNIT_TO_NANOMETER[name] / LENGTH_UNIT_TO_NANOMETER[names[0]] for name in names]
    x, y, z = (float(size) * factor for size, factor in zip(sizes, to_x, strict=True))
    return (x, y, z), names[0]


def convert_voxel_size(
    sizes: tuple[float, float, float], unit: str, to_unit: str
) -> tuple[tuple[float, float, float], str] | None:
    """`sizes` in `unit` expressed in `to_unit` (its long name); None if a unit is unknown."""
    try:
        source, target = normalize_length_unit(unit), normalize_length_unit(to_unit)
    except (InvalidArgumentError, ValueError):
        return None
    factor = LENGTH_UNIT_TO_NANOMETER[source] / LENGTH_UNIT_TO_NANOMETER[target]
    x, y, z = (float(size) * factor for size in sizes)
    return (x, y, z), target
