"""One TIFF file as a stack: multi-page, ImageJ hyperstack or OME-TIFF, read page by page;
the voxel size comes from OME or ImageJ metadata when the file has it."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageFileError
from ..geometry import Vec3Int
from ._deps import require
from .source import ImageSource, StackInfo, storable_dtype, voxel_size_in

_CHANNEL_AXES = ("C", "S")


class TiffStack(ImageSource):
    """The first series of a TIFF file; the axis before y/x that is not channels is z."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        tifffile = require("tifffile")
        try:
            with tifffile.TiffFile(self.path) as tif:
                series = tif.series[0]
                page_axes: str = series.keyframe.axes
                page_shape: tuple[int, ...] = tuple(series.keyframe.shape)
                axes: str = series.axes
                shape: tuple[int, ...] = tuple(series.shape)
                dtype = np.dtype(series.dtype)
                voxel = _ome_voxel_size(tif) or _imagej_voxel_size(tif)
        except ImageFileError:
            raise
        except Exception as exc:
            raise ImageFileError(f"Cannot read TIFF {self.path}: {exc}", path=self.path) from exc
        if not axes.endswith(page_axes) or "Y" not in page_axes or "X" not in page_axes:
            raise ImageFileError(
                f"{self.path}: cannot make out y and x in axes {axes!r}.", path=self.path
            )
        self.page_axes, self.page_shape = page_axes, page_shape
        self.outer_shape = shape[: len(shape) - len(page_axes)]
        outer_axes = axes[: len(self.outer_shape)]
        self.channel_axis = next((i for i, a in enumerate(outer_axes) if a in _CHANNEL_AXES), None)
        others = [i for i, n in enumerate(self.outer_shape) if i != self.channel_axis and n > 1]
        if len(others) > 1:
            raise ImageFileError(
                f"{self.path} has axes {axes} {shape}: more than one of them beyond y, x and "
                "channels is longer than 1 (a time series?); only 3-D stacks can be imported.",
                path=self.path,
            )
        self.z_axis = others[0] if others else None
        samples = page_shape[page_axes.index("S")] if "S" in page_axes else 1
        outer_channels = 1 if self.channel_axis is None else self.outer_shape[self.channel_axis]
        depth = 1 if self.z_axis is None else self.outer_shape[self.z_axis]
        y, x = page_shape[page_axes.index("Y")], page_shape[page_axes.index("X")]
        self.info = StackInfo(
            size=Vec3Int(x, y, depth),
            dtype=storable_dtype(dtype),
            num_channels=outer_channels * samples,
            voxel_size=None if voxel is None else voxel[0],
            voxel_size_unit="nanometer" if voxel is None else voxel[1],
        )

    def describe(self) -> str:
        """The file and its depth."""
        return f"{self.info.size.z} plane(s) of {self.path}"

    def _page_index(self, z: int, c: int) -> int:
        coords = [0] * len(self.outer_shape)
        if self.z_axis is not None:
            coords[self.z_axis] = z
        if self.channel_axis is not None:
            coords[self.channel_axis] = c
        if not coords:
            return 0
        return int(np.ravel_multi_index(coords, self.outer_shape))

    def read_slab(self, z_start: int, z_stop: int) -> np.ndarray:
        """Read the pages of planes `z_start..z_stop` (all channels) as `(c, x, y, z)`."""
        tifffile = require("tifffile")
        outer_channels = 1 if self.channel_axis is None else self.outer_shape[self.channel_axis]
        keys = [
            self._page_index(z, c) for z in range(z_start, z_stop) for c in range(outer_channels)
        ]
        try:
            with tifffile.TiffFile(self.path) as tif:
                pages = tif.asarray(series=0, key=keys)
        except Exception as exc:
            raise ImageFileError(
                f"Cannot read planes {z_start}..{z_stop - 1} of {self.path}: {exc}",
                path=self.path,
            ) from exc
        pages = np.asarray(pages).reshape(len(keys), *self.page_shape)
        if "S" not in self.page_axes:
            pages = pages[:, np.newaxis]  # (n, 1, y, x)
        elif self.page_axes.index("S") == len(self.page_axes) - 1:
            pages = np.moveaxis(pages, -1, 1)  # (n, s, y, x)
        count = z_stop - z_start
        pages = pages.reshape(count, self.info.num_channels, *pages.shape[-2:])
        result: np.ndarray = pages.transpose(1, 3, 2, 0).astype(self.info.dtype, copy=False)
        return result


def _ome_voxel_size(tif: Any) -> tuple[tuple[float, float, float], str] | None:
    """PhysicalSizeX/Y/Z of the first OME `Pixels` element (µm unless a unit is given)."""
    if not tif.is_ome or not tif.ome_metadata:
        return None
    try:
        root = ElementTree.fromstring(tif.ome_metadata)
    except ElementTree.ParseError:
        return None
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return None
    sizes, units = [], []
    for axis in "XYZ":
        value = pixels.get(f"PhysicalSize{axis}")
        if value is None:
            return None
        sizes.append(float(value))
        units.append(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
    return voxel_size_in((sizes[0], sizes[1], sizes[2]), (units[0], units[1], units[2]))


def _imagej_voxel_size(tif: Any) -> tuple[tuple[float, float, float], str] | None:
    """x/y from the resolution tags, z from `spacing`, in ImageJ's `unit` (when all are there)."""
    metadata = tif.imagej_metadata
    if not metadata or "unit" not in metadata or "spacing" not in metadata:
        return None
    unit = str(metadata["unit"]).replace("\\u00B5", "µ")
    page = tif.pages.first
    sizes = []
    for tag in ("XResolution", "YResolution"):
        found = page.tags.get(tag)
        if found is None:
            return None
        numerator, denominator = found.value
        if not numerator:
            return None
        sizes.append(denominator / numerator)
    spacing = float(metadata["spacing"])
    if not all(math.isfinite(s) for s in (*sizes, spacing)):
        return None
    return voxel_size_in((sizes[0], sizes[1], spacing), (unit, unit, unit))
