"""A bare OME-Zarr image folder (NGFF 0.4 or 0.5, no properties file) opened as a dataset.

One color layer named after the folder; each multiscale dataset whose x/y/z scale is a
power-of-two multiple of the first (finest) one becomes a mag stored at its own path.
The voxel size is the first dataset's scale in the x axis' unit (nanometer when unknown);
translations are not applied (the layer starts at the origin).
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
from .array import FORMAT_NAME, Zarr3Array
from .ome import OmeMultiscale, parse_ome_multiscales


def _space_scale(multiscale: OmeMultiscale, scale: tuple[float, ...]) -> list[float]:
    """x, y, z entries of a per-axis scale (1 for an absent z)."""
    names = multiscale.axis_names
    return [scale[names.index(a)] if a in names else 1.0 for a in ("x", "y", "z")]


def _unit(multiscale: OmeMultiscale) -> str:
    unit = next((a.unit for a in multiscale.axes if a.name == "x"), None)
    try:
        return normalize_length_unit(unit)
    except InvalidPropertiesError:
        return "nanometer"


def _mags(multiscale: OmeMultiscale) -> list[MagViewProperties]:
    """Datasets as mags relative to the first; others (non power-of-two ratios) are left out."""
    finest = _space_scale(multiscale, multiscale.datasets[0].scale)
    if not all(math.isfinite(f) and f > 0 for f in finest):
        raise UnsupportedFormatError(f"The first dataset's scale {finest} is not positive.")
    entries: list[MagViewProperties] = []
    seen: set[Mag] = set()
    for dataset in multiscale.datasets:
        ratios = [
            s / f for s, f in zip(_space_scale(multiscale, dataset.scale), finest, strict=True)
        ]
        if not all(
            math.isfinite(r) and 0.5 < r < 2**31 and abs(r - round(r)) < 1e-6 * r for r in ratios
        ):
            continue
        try:
            mag = Mag([round(r) for r in ratios])
        except ValueError:
            continue
        if mag not in seen:
            seen.add(mag)
            entries.append(MagViewProperties(mag=mag.to_list(), path=dataset.path))
    entries.sort(key=lambda e: Mag(e.mag))
    return entries


def _layer_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", path.resolve().name).lstrip(".")
    return name or "image"


def load_ome_image(path: Path) -> BareVolume:
    """The image at `path` as a one-layer dataset; the volume's `root` is its `OmeMultiscale`."""
    multiscale = parse_ome_multiscales(path)
    first = Zarr3Array(path / multiscale.datasets[0].path, read_only=True, axes=multiscale.axes)
    size = first.shape
    name = _layer_name(path)
    common: dict[str, Any] = {
        "name": name,
        "bounding_box": BoundingBoxProperties(
            top_left=[0, 0, 0], width=size.x, height=size.y, depth=size.z
        ),
        "data_format": FORMAT_NAME,
        "mags": _mags(multiscale),
        "num_channels": multiscale.num_channels,
        "element_class": element_class_for(multiscale.dtype, multiscale.num_channels),
    }
    factor = _space_scale(multiscale, multiscale.datasets[0].scale)
    properties = DatasetProperties(
        id=DatasetId(name=name),
        scale=VoxelSize((factor[0], factor[1], factor[2]), _unit(multiscale)),
        data_layers=[LayerProperties(category="color", **common)],
    )
    return BareVolume(InMemoryProperties(properties, str(path)), multiscale, str(path), path)
