"""A stack of 2-D slice files (TIFF through tifffile; PNG and JPEG through Pillow)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageFileError
from ..geometry import Vec3Int
from ._deps import require
from .naming import TIFF_SUFFIXES, has_suffix
from .source import ImageSource, StackInfo, storable_dtype

#: Pillow modes converted on reading: alpha dropped (as webknossos does), bilevel to 0/255.
_PIL_CONVERT = {"1": "L", "LA": "L", "RGBA": "RGB", "CMYK": "RGB", "YCbCr": "RGB"}


def read_plane(path: Path) -> np.ndarray:
    """One 2-D image file as `(c, x, y)`; `ImageFileError` naming the file if it cannot be read
    or holds more than one plane."""
    try:
        if has_suffix(path, TIFF_SUFFIXES):
            data = _read_tiff_plane(path)
        else:
            data = _read_pillow_plane(path)
    except ImageFileError:
        raise
    except Exception as exc:  # the readers raise many kinds for a damaged file
        raise ImageFileError(f"Cannot read image {path}: {exc}", path=path) from exc
    if data.ndim == 2:
        plane: np.ndarray = data.T[np.newaxis]
        return plane
    if data.ndim == 3:
        plane = data.transpose(2, 1, 0)
        return plane
    raise ImageFileError(
        f"{path} holds an image of shape {data.shape}; slices must be 2-D (with colour samples).",
        path=path,
    )


def _read_tiff_plane(path: Path) -> np.ndarray:
    tifffile = require("tifffile")
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        if len(series.pages) > 1:
            raise ImageFileError(
                f"{path} holds {len(series.pages)} pages, but a folder of slices needs 2-D "
                "images; import a multi-page TIFF on its own.",
                path=path,
            )
        data: np.ndarray = series.asarray()
        if series.keyframe.axes.startswith("S") and data.ndim == 3:
            data = np.moveaxis(data, 0, -1)  # planar RGB: samples last, like Pillow
        return data


def _read_pillow_plane(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        mode = _PIL_CONVERT.get(image.mode)
        converted = image.convert(mode) if mode is not None else image
        return np.asarray(converted)


class SliceStack(ImageSource):
    """2-D image files in z order; the first one sets shape, dtype and channels for all."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.files = [Path(f) for f in files]
        first = read_plane(self.files[0])
        self.first_dtype = first.dtype
        self.info = StackInfo(
            size=Vec3Int(first.shape[1], first.shape[2], len(self.files)),
            dtype=storable_dtype(first.dtype),
            num_channels=first.shape[0],
        )

    def describe(self) -> str:
        """How many slices, and where."""
        folders = {str(f.parent) for f in self.files}
        where = folders.pop() if len(folders) == 1 else f"{len(folders) + 1} folders"
        return f"{len(self.files)} slice(s) in {where}"

    def read_slab(self, z_start: int, z_stop: int) -> np.ndarray:
        """Read the slice files `z_start..z_stop`, each checked against the first."""
        info = self.info
        out = np.empty(
            (info.num_channels, info.size.x, info.size.y, z_stop - z_start),
            dtype=info.dtype,
            order="F",
        )
        for index, path in enumerate(self.files[z_start:z_stop]):
            plane = read_plane(path)
            self._check(path, plane)
            out[..., index] = plane
        return out

    def _check(self, path: Path, plane: np.ndarray) -> None:
        """Refuse a slice whose size, channels or dtype differ from the first slice's."""
        info = self.info
        expected: Any = (info.num_channels, info.size.x, info.size.y)
        if plane.shape != expected:
            raise ImageFileError(
                f"{path} is {plane.shape[1]}x{plane.shape[2]} pixels with {plane.shape[0]} "
                f"channel(s), but the stack's first slice {self.files[0].name} is "
                f"{info.size.x}x{info.size.y} with {info.num_channels}.",
                path=path,
            )
        if plane.dtype != self.first_dtype:
            raise ImageFileError(
                f"{path} holds {plane.dtype} pixels, but the stack's first slice "
                f"{self.files[0].name} holds {self.first_dtype}.",
                path=path,
            )
