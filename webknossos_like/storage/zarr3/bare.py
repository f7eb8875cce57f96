"""Open an OME-Zarr image folder (NGFF 0.4 or 0.5, no properties file) as a one-layer dataset.

Mags come from the ratio of each dataset's spatial scale to the finest one (whole numbers
only; others are left out), the voxel size from the finest scale, the box from its shape.
Such volumes are read-only: convert them (`copy_dataset`) to edit.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ...errors import UnsupportedFormatError
from ...geometry import Mag
from ...properties import (
    LENGTH_UNIT_TO_NANOMETER,
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    VoxelSize,
    element_class_for,
)
from ...properties.in_memory import InMemoryProperties
from ..format import BareVolume
from .array import Zarr3Array
from .ome import OmeMultiscale, parse_ome_multiscales

_SPACE = ("x", "y", "z")
# Units OME writes that our properties spell differently (webknossos' `LengthUnit` names).
_UNIT_SPELLING = {"micron": "micrometer", "um": "micrometer", "nm": "nanometer"}


def _layer_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", folder.name).lstrip(".")
    return name or "image"


def _spatial_scale(image: OmeMultiscale, scale: tuple[float, ...]) -> tuple[float, float, float]:
    names = image.axis_names
    missing = [a for a in _SPACE if a not in names]
    if missing:
        raise UnsupportedFormatError(
            f"The OME-Zarr image has no {', '.join(missing)} axis (axes: {', '.join(names)})."
        )
    x, y, z = (scale[names.index(a)] for a in _SPACE)
    return (x, y, z)


def _unit(image: OmeMultiscale) -> str:
    units = {a.unit for a in image.axes if a.name in _SPACE and a.unit}
    unit = units.pop() if len(units) == 1 else "nanometer"
    unit = _UNIT_SPELLING.get(unit, unit)
    return unit if unit in LENGTH_UNIT_TO_NANOMETER else "nanometer"


def properties_from_image(image: OmeMultiscale, folder: Path) -> DatasetProperties:
    """One color layer whose mags are the image's datasets."""
    finest = _spatial_scale(image, image.datasets[0].scale)
    if not all(math.isfinite(v) and v > 0 for v in finest):
        raise UnsupportedFormatError(f"{folder}: the finest scale {finest} is not positive.")
    mags: list[MagViewProperties] = []
    seen: set[Mag] = set()
    for dataset in image.datasets:
        ratios = [s / f for s, f in zip(_spatial_scale(image, dataset.scale), finest, strict=True)]
        if not all(
            math.isfinite(r) and 0 < r < 2**31 and abs(r - round(r)) < 1e-6 * r for r in ratios
        ):
            continue
        try:
            mag = Mag([round(r) for r in ratios])
        except ValueError:
            continue
        if mag not in seen:
            seen.add(mag)
            mags.append(MagViewProperties(mag=mag.to_list(), path=dataset.path))
    mags.sort(key=lambda e: Mag(e.mag))
    finest_array = Zarr3Array(
        folder / mags[0].path if mags[0].path else folder, read_only=True, axes=image.axis_names
    )
    size = finest_array.shape
    name = _layer_name(folder)
    layer: dict[str, Any] = {
        "name": name,
        "category": "color",
        "bounding_box": BoundingBoxProperties(
            top_left=[0, 0, 0], width=size.x, height=size.y, depth=size.z
        ),
        "data_format": "zarr3",
        "mags": mags,
        "num_channels": image.num_channels,
        "element_class": element_class_for(image.dtype, image.num_channels),
    }
    return DatasetProperties(
        id=DatasetId(name=image.name or name),
        scale=VoxelSize(finest, _unit(image)),
        data_layers=[LayerProperties(**layer)],
    )


def load_ome_image(folder: Path) -> BareVolume:
    """The image at `folder` as a read-only bare volume (the format's handle: its metadata)."""
    image = parse_ome_multiscales(folder)
    properties = InMemoryProperties(properties_from_image(image, folder), str(folder))
    return BareVolume(properties, image, str(folder), folder, read_only=True)
