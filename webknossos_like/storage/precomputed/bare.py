"""Open a bare precomputed volume (an `info`, no properties file; a folder or a URL) as a dataset."""

from __future__ import annotations

import math
import re
import urllib.parse
from typing import Any

from ...geometry import Mag
from ...properties import (
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    SegmentationLayerProperties,
    VoxelSize,
    element_class_for,
)
from ...properties.in_memory import InMemoryProperties
from .array import read_info
from .info import VolumeInfo
from .kvstore import KVStore


def _layer_name(location: str) -> str:
    tail = urllib.parse.unquote(location.rstrip("/").rsplit("/", 1)[-1])
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", tail).lstrip(".")
    return name or "layer"


def properties_from_info(info: VolumeInfo, location: str) -> DatasetProperties:
    """One layer whose mags are the scales: mag = resolution / finest resolution (powers of two).

    Scales whose resolution is not a power-of-two multiple of the finest one are left out.
    """
    finest = min(info.scales, key=lambda s: s.resolution[0] * s.resolution[1] * s.resolution[2])
    mags: list[MagViewProperties] = []
    seen: set[Mag] = set()
    for scale in info.scales:
        ratios = [r / f for r, f in zip(scale.resolution, finest.resolution, strict=True)]
        if not all(
            math.isfinite(r) and 0 < r < 2**31 and abs(r - round(r)) < 1e-6 * r for r in ratios
        ):
            continue
        try:
            mag = Mag([round(r) for r in ratios])
        except ValueError:
            continue
        if mag in seen:
            continue
        seen.add(mag)
        mags.append(MagViewProperties(mag=mag.to_list(), path=scale.key))
    mags.sort(key=lambda e: Mag(e.mag))
    domain = finest.domain
    name = _layer_name(location)
    common: dict[str, Any] = {
        "name": name,
        "bounding_box": BoundingBoxProperties(
            top_left=domain.topleft.to_list(),
            width=domain.size.x,
            height=domain.size.y,
            depth=domain.size.z,
        ),
        "data_format": "neuroglancerPrecomputed",
        "mags": mags,
        "num_channels": info.num_channels,
        "element_class": element_class_for(info.data_type, info.num_channels),
    }
    layer: LayerProperties
    if info.type == "segmentation":
        layer = SegmentationLayerProperties(
            category="segmentation", largest_segment_id=None, **common
        )
    else:
        layer = LayerProperties(category="color", **common)
    return DatasetProperties(
        id=DatasetId(name=name),
        scale=VoxelSize(tuple(float(r) for r in finest.resolution), "nanometer"),
        data_layers=[layer],
    )


def load_bare(store: KVStore, location: str) -> InMemoryProperties:
    """Read the volume's `info` and build its in-memory properties."""
    info = read_info(store)
    return InMemoryProperties(properties_from_info(info, location), location)
