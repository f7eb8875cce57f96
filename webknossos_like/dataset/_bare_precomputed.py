"""Open a bare precomputed volume (an `info`, no properties file; a folder or a URL) as a dataset."""

from __future__ import annotations

import copy
import math
import re
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

from ..geometry import Mag
from ..properties import (
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    SegmentationLayerProperties,
    VoxelSize,
    element_class_for,
)
from ..storage.precomputed.array import read_info
from ..storage.precomputed.info import VolumeInfo
from ..storage.precomputed.kvstore import KVStore
from ._formats import PRECOMPUTED_FORMAT

T = TypeVar("T")


class InMemoryProperties:
    """Stands in for `PropertiesFile` when the metadata lives in the volume's `info` only."""

    def __init__(self, properties: DatasetProperties, location: str) -> None:
        self._properties = properties
        self._lock = threading.RLock()
        self.path = location

    def load(self) -> DatasetProperties:
        """A copy of the current properties."""
        with self._lock:
            return copy.deepcopy(self._properties)

    @property
    def lock(self) -> threading.RLock:
        """The in-process lock guarding the properties (there is no file to lock)."""
        return self._lock

    def is_stale(self) -> bool:
        """Never: every change goes through this object."""
        return False

    def save(self, props: DatasetProperties) -> None:
        """Replace the in-memory properties."""
        with self._lock:
            self._properties = copy.deepcopy(props)

    def update(self, mutate: Callable[[DatasetProperties], T]) -> tuple[DatasetProperties, T]:
        """Apply `mutate` to a copy and keep it if `mutate` succeeds."""
        with self._lock:
            working = copy.deepcopy(self._properties)
            result = mutate(working)
            self._properties = working
            return copy.deepcopy(working), result


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
        "data_format": PRECOMPUTED_FORMAT,
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
