"""Write a view back to images: a folder of TIFF or PNG slices, or one OME-TIFF file with the
voxel size in its metadata (Fiji, napari, QuPath read both). Streams slab by slab."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ..errors import DTypeError, InvalidArgumentError
from ..geometry import BoundingBox
from ..parallel import run_tasks
from ._deps import require

if TYPE_CHECKING:
    from ..dataset.view import View

#: `to_images` formats: slice folders and the single-file OME-TIFF.
EXPORT_FORMATS = ("tiff", "png", "ome-tiff")
_SUFFIX = {"tiff": ".tif", "png": ".png"}
#: OME's unit symbols for the units a dataset may use (others are converted to nm).
_OME_UNITS = {
    "nanometer": "nm",
    "micrometer": "µm",
    "millimeter": "mm",
    "centimeter": "cm",
    "meter": "m",
    "picometer": "pm",
    "angstrom": "Å",
}
_PNG_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
#: Slab depth (planes per task) when the view's storage has no shard depth to follow.
_MIN_SLAB = 16


def to_images(
    view: View,
    path: str | os.PathLike[str],
    format: str = "tiff",
    *,
    voxel_size: tuple[float, float, float] | None = None,
    voxel_size_unit: str | None = None,
    executor: Executor | None = None,
) -> list[Path]:
    """Write the view's z-slices as image files in the folder `path` (`tiff`, `png`), or the
    whole view as one OME-TIFF file at `path` (`ome-tiff`); returns the files written.

    Slices are `y` rows by `x` columns; several channels become RGB (3 uint8 channels) or
    samples of one page (TIFF), or channel planes (OME-TIFF). The OME-TIFF carries the voxel size (the dataset's, times the mag,
    unless given); slice files carry none.
    """
    if format not in EXPORT_FORMATS:
        raise InvalidArgumentError(
            f"Image format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}."
        )
    target = Path(path)
    if format == "ome-tiff":
        size, unit = _voxel_size(view, voxel_size, voxel_size_unit)
        return [_write_ome_tiff(view, target, size, unit)]
    if format == "png" and (view.dtype not in _PNG_DTYPES or view.num_channels not in (1, 3, 4)):
        raise DTypeError(
            f"PNG holds 8- or 16-bit gray or 8-bit RGB(A), not {view.num_channels} x "
            f"{view.dtype}; export as tiff instead."
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidArgumentError(f"Cannot write slices into {target}: it is not an empty folder.")
    target.mkdir(parents=True, exist_ok=True)
    slabs = _slabs(view)
    depth = sum(box.size.z for box in slabs) // view.mag.z
    width = max(4, len(str(depth - 1)))
    tasks: list[_SliceTask] = []
    first = 0
    for box in slabs:
        tasks.append(_SliceTask(view, box, target, format, first, width))
        first += box.size.z // view.mag.z
    written = run_tasks(_write_slices, tasks, executor, desc=f"Writing {format} slices to {target}")
    return [file for files in written for file in files]


def _slabs(view: View) -> list[BoundingBox]:
    """The view's box (mag-aligned) cut along z into slabs one shard deep (mag-1 boxes)."""
    mag = view.mag.as_vec3_int
    box = view.bounding_box.align_with_mag(view.mag, ceil=True)
    step = max(view.info.shard_shape.z, _MIN_SLAB) * mag.z
    return [
        box.with_topleft(box.topleft.with_z(z)).with_size(
            box.size.with_z(min(step, box.bottomright.z - z))
        )
        for z in range(box.topleft.z, box.bottomright.z, step)
    ]


@attrs.frozen
class _SliceTask:
    """One slab of slices to write: its box, the folder, the format, the first slice number."""

    view: View
    box: BoundingBox
    folder: Path
    format: str
    first: int
    width: int


def _plane_image(plane: np.ndarray) -> np.ndarray:
    """A `(c, x, y)` plane as an image array: `(y, x)`, or `(y, x, c)` for several channels."""
    if plane.shape[0] == 1:
        return np.ascontiguousarray(plane[0].T)
    return np.ascontiguousarray(plane.transpose(2, 1, 0))


def _write_slices(task: _SliceTask) -> list[Path]:
    """Read one slab and write its planes as slice files."""
    data = task.view.read(absolute_bounding_box=task.box)
    files = []
    for index in range(data.shape[3]):
        image = _plane_image(data[..., index])
        file = task.folder / f"{task.first + index:0{task.width}d}{_SUFFIX[task.format]}"
        if task.format == "png":
            from PIL import Image

            Image.fromarray(image).save(file, format="PNG")
        else:
            tifffile = require("tifffile")
            rgb = image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
            # Several channels are samples of one page (one file per slice, as for RGB).
            tifffile.imwrite(
                file,
                image,
                photometric="rgb" if rgb else "minisblack",
                planarconfig=None if image.ndim == 2 else "contig",
            )
        files.append(file)
    return files


def _voxel_size(
    view: View, given: tuple[float, float, float] | None, unit: str | None
) -> tuple[tuple[float, float, float], str]:
    """The voxel size to record: the one given, else the dataset's times the view's mag."""
    if given is not None:
        x, y, z = (float(v) for v in given)
        return (x, y, z), unit or "nanometer"
    layer = getattr(view, "_layer", None)
    if layer is None:
        raise InvalidArgumentError("This view belongs to no dataset: pass voxel_size=(x, y, z).")
    dataset = layer.dataset
    stored = dataset.voxel_size_with_unit.factor
    x, y, z = (s * m for s, m in zip(stored, view.mag.to_tuple(), strict=True))
    return (x, y, z), dataset.voxel_size_unit


def _write_ome_tiff(view: View, target: Path, size: tuple[float, float, float], unit: str) -> Path:
    """Stream the view into one OME-TIFF: pages z by z (channel planes, or RGB samples)."""
    tifffile = require("tifffile")
    from ..properties.models import LENGTH_UNIT_TO_NANOMETER

    if unit not in _OME_UNITS:
        size = tuple(s * LENGTH_UNIT_TO_NANOMETER[unit] for s in size)  # type: ignore[assignment]
        unit = "nanometer"
    slabs = _slabs(view)
    box = view.bounding_box.align_with_mag(view.mag, ceil=True).in_mag(view.mag)
    channels, dtype = view.num_channels, view.dtype
    rgb = channels == 3 and dtype == np.uint8
    if rgb:
        shape: tuple[int, ...] = (box.size.z, box.size.y, box.size.x, 3)
        axes = "ZYXS"
    elif channels == 1:
        shape, axes = (box.size.z, box.size.y, box.size.x), "ZYX"
    else:
        shape, axes = (box.size.z, channels, box.size.y, box.size.x), "ZCYX"

    def pages() -> Iterator[np.ndarray]:
        for slab in slabs:
            data = view.read(absolute_bounding_box=slab)
            for index in range(data.shape[3]):
                image = _plane_image(data[..., index])
                if rgb or channels == 1:
                    yield image
                else:
                    yield from np.moveaxis(image, -1, 0)

    metadata: dict[str, Any] = {"axes": axes}
    for axis, value in zip("XYZ", size, strict=True):
        metadata[f"PhysicalSize{axis}"] = value
        metadata[f"PhysicalSize{axis}Unit"] = _OME_UNITS[unit]
    target.parent.mkdir(parents=True, exist_ok=True)
    big = int(np.prod(shape)) * dtype.itemsize > 2**31
    with tifffile.TiffWriter(target, bigtiff=big, ome=True) as writer:
        writer.write(
            pages(),
            shape=shape,
            dtype=dtype,
            photometric="rgb" if rgb else "minisblack",
            metadata=metadata,
        )
    return target
