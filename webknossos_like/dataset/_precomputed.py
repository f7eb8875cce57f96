"""Precomputed layers inside the object model: one `info` per layer, one scale per mag."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock
import numpy as np

from ..errors import InvalidArgumentError, UnsupportedFormatError
from ..geometry import BoundingBox, Mag, Vec3Int
from ..storage.precomputed.array import PrecomputedArray
from ..storage.precomputed.codecs import check_encoding
from ..storage.precomputed.info import ScaleInfo, VolumeInfo, dumps_info, loads_info
from ..storage.precomputed.kvstore import FileKVStore, KVStore
from ..storage.precomputed.sharding import choose_sharding_spec

if TYPE_CHECKING:
    from .layer import Layer

PRECOMPUTED_FORMAT = "neuroglancerPrecomputed"
DEFAULT_CHUNK_SHAPE = 64
_LOCAL_LOCK = threading.RLock()


def layer_store(layer: Layer) -> KVStore:
    """The key-value store rooted at the layer's folder (where `info` lives)."""
    root = layer.dataset._precomputed_root
    if root is not None:
        return root
    return FileKVStore(layer.path, read_only=layer.read_only)


def scale_key(layer: Layer, mag_path: str | None, mag: Mag) -> str:
    """The scale key of a mag: its folder relative to the layer folder (default: the mag name)."""
    if mag_path is None:
        return mag.to_layer_name()
    if layer.dataset._precomputed_root is not None:
        return mag_path
    prefix = f"./{layer.name}/"
    return mag_path[len(prefix) :] if mag_path.startswith(prefix) else Path(mag_path).name


def _info_lock(layer: Layer) -> Any:
    if layer.dataset._precomputed_root is not None:
        return _LOCAL_LOCK
    layer.path.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(layer.path / ".info.lock"))


def update_info(layer: Layer, mutate: Callable[[VolumeInfo | None], VolumeInfo]) -> VolumeInfo:
    """Apply `mutate` to the layer's current `info` (None if absent) under a lock and save it."""
    store = layer_store(layer)
    with _info_lock(layer):
        raw = store.get("info")
        current = loads_info(raw, path=f"{store.url}/info") if raw is not None else None
        updated = mutate(current)
        store.put("info", dumps_info(updated).encode())
        return updated


def read_layer_info(layer: Layer) -> VolumeInfo:
    """The layer's `info` (raises if it is missing)."""
    from ..storage.precomputed.array import read_info

    return read_info(layer_store(layer))


def open_scale(layer: Layer, key: str) -> PrecomputedArray:
    """The backend of one scale."""
    return PrecomputedArray(layer_store(layer), key)


def _resolution(layer: Layer, mag: Mag) -> list[float]:
    factor = {"nanometer": 1.0, "micrometer": 1000.0, "angstrom": 0.1}.get(
        layer.dataset.voxel_size_unit
    )
    if factor is None:
        factor = layer.dataset._properties.scale.to_nanometer()[0] / layer.dataset.voxel_size[0]
    return [v * factor * m for v, m in zip(layer.dataset.voxel_size, mag, strict=True)]


def scale_domain(bounding_box: BoundingBox, mag: Mag) -> BoundingBox:
    """A scale's domain: the layer box rounded out to the mag, in that mag's voxels."""
    return bounding_box.align_with_mag(mag, ceil=True).in_mag(mag)


def create_scale(
    layer: Layer,
    mag: Mag,
    *,
    chunk_shape: Vec3Int,
    compress: bool,
    encoding: str | None,
    sharded: bool,
    jpeg_quality: int | None = None,
) -> str:
    """Add the scale for `mag` to the layer's `info` (creating it), returning the scale key."""
    dtype = layer.dtype
    if encoding is None:
        encoding = (
            "compressed_segmentation"
            if compress and layer.category == "segmentation" and dtype in (np.uint32, np.uint64)
            else "raw"
        )
    encoding = check_encoding(encoding, dtype, layer.num_channels)
    key = mag.to_layer_name()
    domain = scale_domain(layer.bounding_box, mag)
    sharding = None
    if sharded:
        grid = domain.size.ceildiv(chunk_shape).pairmax(1)
        chunk_bytes = chunk_shape.prod() * dtype.itemsize * layer.num_channels
        sharding = choose_sharding_spec(
            grid.to_tuple(), chunk_nbytes=chunk_bytes, data_encoding="gzip" if compress else "raw"
        ).to_json()
    scale = ScaleInfo(
        key=key,
        size=domain.size.to_list(),
        voxel_offset=domain.topleft.to_list(),
        resolution=_resolution(layer, mag),
        chunk_sizes=[chunk_shape.to_list()],
        encoding=encoding,
        compressed_segmentation_block_size=[8, 8, 8]
        if encoding == "compressed_segmentation"
        else None,
        sharding=sharding,
        jpeg_quality=jpeg_quality if encoding == "jpeg" else None,
    )

    def add(info: VolumeInfo | None) -> VolumeInfo:
        if info is None:
            info = VolumeInfo(
                type="segmentation" if layer.category == "segmentation" else "image",
                data_type=str(dtype),
                num_channels=layer.num_channels,
                scales=[],
            )
        if info.scale_by_key(key) is not None:
            raise InvalidArgumentError(f"{layer.path}/info already has a scale {key!r}.")
        info.scales.append(scale)
        info.scales.sort(key=lambda s: s.resolution[0] * s.resolution[1] * s.resolution[2])
        return info

    update_info(layer, add)
    return key


def remove_scale(layer: Layer, key: str) -> None:
    """Drop a scale from the layer's `info` (its chunk files are deleted by the caller)."""

    def drop(info: VolumeInfo | None) -> VolumeInfo:
        if info is None:
            raise UnsupportedFormatError(f"{layer.path} has no info file.")
        info.scales = [s for s in info.scales if s.key != key]
        return info

    update_info(layer, drop)


def sync_domains(layer: Layer, keys: dict[Mag, str]) -> None:
    """Grow every scale's domain to the layer box, re-chunking stored data where the grid moves."""
    box = layer.bounding_box
    pending: list[tuple[str, ScaleInfo, BoundingBox]] = []

    def grow(info: VolumeInfo | None) -> VolumeInfo:
        if info is None:
            raise UnsupportedFormatError(f"{layer.path} has no info file.")
        for mag, key in keys.items():
            scale = info.scale_by_key(key)
            if scale is None:
                continue
            wanted = scale_domain(box, mag).extended_by(scale.domain)
            if wanted != scale.domain:
                pending.append((key, ScaleInfo(**{**_fields(scale)}), wanted))
        return info

    update_info(layer, grow)
    for key, old_scale, wanted in pending:
        _regrid(layer, key, old_scale, wanted)


def _fields(scale: ScaleInfo) -> dict[str, Any]:
    import attrs

    return {f.name: getattr(scale, f.name) for f in attrs.fields(ScaleInfo)}


def _regrid(layer: Layer, key: str, old_scale: ScaleInfo, wanted: BoundingBox) -> None:
    """Move one scale to a larger domain: chunks whose name or extent changes are rewritten."""
    store = layer_store(layer)
    old = PrecomputedArray(store, key)
    chunk = Vec3Int(old_scale.chunk_sizes[0])
    same_grid = (
        wanted.topleft - old_scale.offset
    ) % chunk == Vec3Int.zeros() and old_scale.sharding is None
    if same_grid:
        # Only chunks clipped at the old upper edge change their extent (and name).
        old_end = old_scale.domain.bottomright
        moved = [
            box
            for box in old.list_written_boxes()
            if (box.bottomright.to_np() == old_end.to_np()).any() and box.size != chunk
        ]
    else:
        moved = list(old.list_written_boxes())
    saved = [(box, old.read(box)) for box in moved]

    def resize(info: VolumeInfo | None) -> VolumeInfo:
        if info is None:
            raise UnsupportedFormatError(f"{layer.path} has no info file.")
        scale = info.scale_by_key(key)
        if scale is not None:
            scale.voxel_offset = wanted.topleft.to_list()
            scale.size = wanted.size.to_list()
            if scale.sharding is not None:
                grid = wanted.size.ceildiv(chunk).pairmax(1)
                scale.sharding = choose_sharding_spec(
                    grid.to_tuple(),
                    chunk_nbytes=chunk.prod() * layer.dtype.itemsize * layer.num_channels,
                    data_encoding="gzip"
                    if scale.sharding.get("data_encoding") == "gzip"
                    else "raw",
                ).to_json()
        return info

    update_info(layer, resize)
    if not same_grid:
        for name in list(store.list_prefix(f"{key}/")):
            store.delete(name)
    else:
        for box in moved:
            (x0, y0, z0), (x1, y1, z1) = box.topleft, box.bottomright
            store.delete(f"{key}/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}")
    new = PrecomputedArray(store, key)
    for box, data in saved:
        new.write(box.topleft, data)
