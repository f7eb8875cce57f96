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

from ...errors import InvalidPropertiesError, UnsupportedFormatError
from ...geometry import Mag
from ...properties import (
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    VoxelSize,
    element_class_for,
    normalize_length_unit,
)
from ...properties.in_memory import InMemoryProperties
from ..format import BareVolume
from .array import Zarr3Array
from .ome import OmeMultiscale, parse_ome_multiscales

_SPACE = ("x", "y", "z")
# Units OME writes that our properties spell differently (webknossos' `LengthUnit` names).
_UNIT_SPELLING = {"micron": "micrometer", "um": "micrometer", "nm": "nanometer"}


def _layer_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", folder.resolve().name).lstrip(".")
    return name or "image"


def _spatial_scale(image: OmeMultiscale, scale: tuple[float, ...]) -> tuple[float, float, float]:
    """x, y, z entries of a per-axis scale (1 for an absent z: a 2-D `y, x` image)."""
    names = image.axis_names
    if "x" not in names or "y" not in names:
        raise UnsupportedFormatError(
            f"The OME-Zarr image needs x and y axes (axes: {', '.join(names)})."
        )
    x, y, z = (scale[names.index(a)] if a in names else 1.0 for a in _SPACE)
    return (x, y, z)


def _unit(image: OmeMultiscale) -> str:
    """The x axis' unit in our spelling (nanometer when absent or unknown)."""
    unit = next((a.unit for a in image.axes if a.name == "x"), None)
    try:
        return normalize_length_unit(_UNIT_SPELLING.get(unit or "", unit))
    except InvalidPropertiesError:
        return "nanometer"


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
