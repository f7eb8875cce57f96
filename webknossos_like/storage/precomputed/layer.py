"""Precomputed layers inside the object model: one `info` per layer, one scale per mag."""

from __future__ import annotations

import contextlib
import copy
import math
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ..._locks import ExclusiveLock, SharedExclusiveLock, exclusive_lock
from ...errors import (
    DatasetNotFoundError,
    MagExistsError,
    OutOfBoundsError,
    StorageError,
    UnsupportedFormatError,
)
from ...geometry import BoundingBox, Mag, Vec3Int
from ...ops._stored import StoredShards
from ...properties import LayerProperties, MagViewProperties
from .array import PrecomputedArray, read_info
from .codecs import check_encoding
from .info import MAX_INFO_BYTES, ScaleInfo, VolumeInfo, dumps_info, loads_info
from .kvstore import FileKVStore, KVStore
from .sharding import ShardingSpec, choose_sharding_spec

if TYPE_CHECKING:
    from ...dataset.layer import Layer


DEFAULT_CHUNK_SHAPE = 64
_LOCAL_LOCK = threading.RLock()


def _is_bare(layer: Layer) -> bool:
    """Whether the layer is a bare volume (an `info`, no properties file) opened as a dataset."""
    return layer.dataset._bare is not None


def layer_store(layer: Layer) -> KVStore:
    """The key-value store rooted at the layer's folder (where `info` lives)."""
    bare = layer.dataset._bare
    if bare is not None:
        root: KVStore = bare.root
        return root
    remote = _object_store(layer)
    if remote is not None:
        child: KVStore = remote.child(layer.name)
        return child
    # Fenced at the dataset folder: no key of this layer can write outside the dataset.
    return FileKVStore(layer.dataset.path, read_only=layer.read_only).child(layer.name)


def _object_store(layer: Layer) -> Any:
    """The dataset's object store (an `S3KVStore`, read-only like the layer), or None."""
    store = getattr(layer.dataset.path, "store", None)
    if store is None:
        return None
    return store.with_read_only(layer.read_only)


def open_foreign_scale(path: Path) -> PrecomputedArray:
    """A scale referenced from outside the dataset: the folder `path` of a volume, read-only."""
    return PrecomputedArray(FileKVStore(path.parent, read_only=True), path.name)


def key_from_path(layer: Layer, mag_path: str | None, mag: Mag) -> str:
    """The scale key a mag path names (its folder relative to the layer folder)."""
    if mag_path is None:
        return mag.to_layer_name()
    if _is_bare(layer):
        return mag_path
    prefix = f"./{layer.name}/"
    return mag_path[len(prefix) :] if mag_path.startswith(prefix) else Path(mag_path).name


def scale_key(layer: Layer, mag_path: str | None, mag: Mag) -> str:
    """The scale key of a mag: its folder relative to the layer folder (default: the mag name).

    If `info` has no such scale (a sharded scale re-gridded under a new key while the
    properties still name the old one), the scale whose resolution matches the mag is used.
    """
    key = key_from_path(layer, mag_path, mag)
    if _is_bare(layer):
        return key
    try:
        info = read_layer_info(layer)
    except DatasetNotFoundError:
        return key
    if info.scale_by_key(key) is not None:
        return key
    wanted = _resolution(layer, mag)
    for scale in info.scales:
        if all(
            math.isclose(a, b, rel_tol=1e-6) for a, b in zip(scale.resolution, wanted, strict=True)
        ):
            return scale.key
    return key


def _info_lock(layer: Layer) -> Any:
    if _is_bare(layer) or _object_store(layer) is not None:
        return _LOCAL_LOCK  # object stores: the conditional put of `info` is the guard
    layer.path.mkdir(parents=True, exist_ok=True)
    return exclusive_lock(layer.path / ".info.lock")


def _save_info(store: KVStore, info: VolumeInfo) -> None:
    """Validate by parsing back (never save an `info` we could not read), then save atomically."""
    text = dumps_info(info)
    loads_info(text, path=f"{store.url}/info")
    store.put("info", text.encode())


def update_info(layer: Layer, mutate: Callable[[VolumeInfo | None], VolumeInfo]) -> VolumeInfo:
    """Apply `mutate` to the layer's current `info` (None if absent) under a lock and save it."""
    store = layer_store(layer)
    if hasattr(store, "put_if"):
        return update_info_conditionally(store, mutate)
    with _info_lock(layer):
        raw = store.get("info", max_size=MAX_INFO_BYTES)
        current = loads_info(raw, path=f"{store.url}/info") if raw is not None else None
        updated = mutate(current)
        _save_info(store, updated)
        return updated


def update_info_conditionally(
    store: Any, mutate: Callable[[VolumeInfo | None], VolumeInfo]
) -> VolumeInfo:
    """`update_info` on an object store: read with its ETag, put with If-Match (If-None-Match
    when new), re-apply `mutate` to the fresh `info` when another writer came first."""
    from ...errors import ConcurrentUpdateError

    with _LOCAL_LOCK:
        for _ in range(20):
            got = store.get_with_etag("info", max_size=MAX_INFO_BYTES)
            raw, etag = got if got is not None else (None, None)
            current = loads_info(raw, path=f"{store.url}/info") if raw is not None else None
            updated = mutate(current)
            text = dumps_info(updated)
            loads_info(text, path=f"{store.url}/info")
            try:
                store.put_if("info", text.encode(), etag)
            except ConcurrentUpdateError:
                continue
            return updated
    raise ConcurrentUpdateError(f"{store.url}/info: too many concurrent updates in a row")


def read_layer_info(layer: Layer) -> VolumeInfo:
    """The layer's `info` (raises if it is missing)."""
    from .array import read_info

    return read_info(layer_store(layer))


def open_scale(layer: Layer, key: str, mag: Mag) -> PrecomputedArray:
    """The backend of one scale: a `LayerScale`, which follows grid changes made by others."""
    return LayerScale(layer, key, mag)


InfoStamp = tuple[int, int, int]


def _info_stamp(store: KVStore) -> InfoStamp | None:
    """(inode, size, mtime_ns) of the store's `info` file; None for a missing file or a store
    that is not a local folder. Every save renames a new file into place (a new inode), so an
    equal stamp means the same version."""
    if not isinstance(store, FileKVStore):
        return None
    return _stamp_of(os.path.join(store.root, "info"))


def _stamp_of(path: str) -> InfoStamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class _GridLock:
    """The `info` lock held shared by chunk writes: any number of writes at once, never while a
    re-grid, a new scale or a removal holds it exclusive (`_info_lock`, the same `flock`).

    Not taken where the calling thread holds the exclusive lock already (a shared hold on a
    second descriptor would wait for itself), nor for bare volumes (no inter-process lock there)
    and read-only layers (they refuse writes; no lock file is created). Paths are resolved once (a `realpath` per write costs more than the lock).
    """

    def __init__(self, layer: Layer) -> None:
        # Object stores have no lock: writes there follow the single-writer rule for re-grids.
        self._bare = _is_bare(layer) or layer.read_only or _object_store(layer) is not None
        self._path = layer.path / ".info.lock"
        self._shared = SharedExclusiveLock(os.devnull if self._bare else self._path)
        self._pid = -1
        self._exclusive: ExclusiveLock | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock shared for a write (or nothing, see the class docstring)."""
        if self._bare:
            yield
            return
        if self._pid != os.getpid():  # the process-wide lock object is per process
            self._exclusive, self._pid = exclusive_lock(self._path), os.getpid()
        assert self._exclusive is not None
        if self._exclusive.is_locked:
            yield
            return
        with self._shared.shared():
            yield


def _scale_like(info: VolumeInfo, key: str, resolution: list[float]) -> ScaleInfo | None:
    """The scale `key`, or (after a sharded scale was re-keyed) the one of the same resolution."""
    scale = info.scale_by_key(key)
    if scale is not None:
        return scale
    return next(
        (
            s
            for s in info.scales
            if all(
                math.isclose(a, b, rel_tol=1e-6)
                for a, b in zip(s.resolution, resolution, strict=True)
            )
        ),
        None,
    )


class LayerScale(PrecomputedArray):
    """One scale of a dataset layer that checks its grid against `info` before each access.

    Another process may grow the layer meanwhile, which re-grids the scale (edge chunks get new
    names; a sharded scale gets a new key and sharding). An array that kept the grid it was
    opened with would then write chunks no reader looks at. So every write holds the `info`
    lock shared (re-grids hold it exclusive), compares the `info` file's stamp with the one its
    grid came from (one `stat`), re-plans on the current grid if it changed, and finishes an
    interrupted growth (`roll_forward`) when the layer box covers the write but the domain does
    not. Reads do the same check without the lock.
    """

    def __init__(self, layer: Layer, key: str, mag: Mag) -> None:
        self._layer = layer
        self._mag = mag
        store = layer_store(layer)
        self._info_path = (
            os.path.join(store.root, "info") if isinstance(store, FileKVStore) else None
        )
        self._stamp = _info_stamp(store)  # taken first: a save in between makes us reload
        self._lock = _GridLock(layer)
        super().__init__(store, key)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen_scale, (self._layer, self._key, self._mag))

    def refresh(self) -> None:
        """Reload the grid if `info` was replaced since it was read (one `stat` otherwise)."""
        if self._info_path is None:
            return  # not a local file: no way to tell (see docs/reliability.md)
        stamp = _stamp_of(self._info_path)
        if stamp is None or stamp == self._stamp:
            return
        info = read_info(self._store)
        scale = _scale_like(info, self._key, self._scale.resolution)
        if scale is None:
            raise StorageError(
                f"{self._store.url}/info no longer has the scale {self._key!r} (mag "
                f"{self._mag.to_layer_name()}): another process removed it. Reopen the dataset."
            )
        PrecomputedArray.__init__(
            self, self._store, scale.key, info=info, chunk_size_index=self._chunk_size_index
        )
        self._stamp = stamp

    def read(self, bbox: BoundingBox) -> Any:
        """`PrecomputedArray.read` on the current grid."""
        self.refresh()
        return super().read(bbox)

    def list_written_boxes(self) -> Iterator[BoundingBox]:
        """`PrecomputedArray.list_written_boxes` on the current grid."""
        self.refresh()
        return super().list_written_boxes()

    def write(self, offset: Vec3Int, data: Any) -> None:
        """`PrecomputedArray.write` on the grid that is current while the chunks are written."""
        if getattr(data, "ndim", 0) != 4:
            super().write(offset, data)  # raises the usual shape error
            return
        bbox = BoundingBox(offset, data.shape[1:])
        for attempt in range(2):
            with self._lock.held():
                self.refresh()
                if self.domain.contains_bbox(bbox):
                    super().write(offset, data)
                    return
            if attempt == 0 and not roll_forward(self._layer, self._mag, bbox):
                break
        raise OutOfBoundsError(
            f"Cannot write {bbox} to scale {self._key!r} of {self._store.url}: outside its "
            f"domain {self.domain} and the layer's bounding box."
        )


def _reopen_scale(layer: Layer, key: str, mag: Mag) -> LayerScale:
    """Unpickle a `LayerScale`: reopened on the current `info`."""
    return LayerScale(layer, key, mag)


def roll_forward(layer: Layer, mag: Mag, bbox: BoundingBox) -> bool:
    """Finish a growth that saved the layer box but not the scale domains (the writer died or
    failed between the two): if the freshest layer box covers `bbox` (voxels of `mag`), grow the
    domains to it (`Layer._resized`, which also repoints re-keyed scales) and return True; False
    if the layer box does not cover `bbox` either (a write out of bounds)."""
    layer.dataset._refresh()
    if not scale_domain(layer.bounding_box, mag).contains_bbox(bbox):
        return False
    layer._resized()
    return True


def _resolution(layer: Layer, mag: Mag) -> list[float]:
    """The `resolution` of a scale in nanometers (the dataset's voxel size is in nanometers)."""
    return [v * m for v, m in zip(layer.dataset.voxel_size, mag, strict=True)]


def scale_domain(bounding_box: BoundingBox, mag: Mag) -> BoundingBox:
    """A scale's domain: the layer box rounded out to the mag, in that mag's voxels."""
    return bounding_box.align_with_mag(mag, ceil=True).in_mag(mag)


def default_encoding(layer: Layer, compress: bool) -> str:
    """The encoding of a new scale when none is asked for: compressed_segmentation for
    compressed uint32/uint64 segmentation (what Neuroglancer reads fastest), else raw."""
    segmentation = layer.category == "segmentation" and layer.dtype in (np.uint32, np.uint64)
    return "compressed_segmentation" if compress and segmentation else "raw"


def add_scale(
    layer: Layer,
    mag: Mag,
    *,
    chunk_shape: Vec3Int,
    compress: bool,
    encoding: str | None,
    sharded: bool | dict[str, Any],
    jpeg_quality: int | None = None,
    chunks_per_shard: int | None = None,
) -> None:
    """Add mag `mag`: its scale to the layer's `info` (creating it), then its properties entry.

    Both steps run under the `info` lock, so a scale in `info` whose mag the properties do not
    list (checked under that lock) was left by an `add_mag` that died between the two: it is
    replaced, not refused. If the properties update fails, the scale is removed again.
    """
    dtype = layer.dtype
    if encoding is None:
        encoding = default_encoding(layer, compress)
    encoding = check_encoding(encoding, dtype, layer.num_channels)
    key = mag.to_layer_name()
    domain = scale_domain(layer.bounding_box, mag)
    sharding = None
    if isinstance(sharded, dict):
        sharding = ShardingSpec.from_json(sharded).to_json()
    elif sharded:
        grid = domain.size.ceildiv(chunk_shape).pairmax(1)
        chunk_bytes = chunk_shape.prod() * dtype.itemsize * layer.num_channels
        sharding = choose_sharding_spec(
            grid.to_tuple(),
            chunk_nbytes=chunk_bytes,
            data_encoding="gzip" if compress else "raw",
            max_chunks_per_shard=512 if chunks_per_shard is None else chunks_per_shard,
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
    bare = _is_bare(layer)
    entry = MagViewProperties(mag=mag.to_list(), path=key if bare else f"./{layer.name}/{key}")

    def refuse_listed(props: LayerProperties) -> None:
        if any(Mag(existing.mag) == mag for existing in props.mags):
            raise MagExistsError(f"Layer {layer.name!r} already has mag {key}.")

    def add(info: VolumeInfo | None) -> VolumeInfo:
        if info is None:
            info = VolumeInfo(
                type="segmentation" if layer.category == "segmentation" else "image",
                data_type=str(dtype),
                num_channels=layer.num_channels,
                scales=[],
            )
        # Orphans: this mag's scale (or a re-keyed `key~...` copy of it) that no mag lists.
        listed = {key_from_path(layer, e.path, Mag(e.mag)) for e in layer._properties.mags}
        info.scales = [
            s
            for s in info.scales
            if s.key in listed or (s.key != key and s.key.split("~")[0] != key)
        ]
        info.scales.append(scale)
        info.scales.sort(key=lambda s: s.resolution[0] * s.resolution[1] * s.resolution[2])
        return info

    def register(props: LayerProperties) -> None:
        refuse_listed(props)
        props.mags.append(entry)
        props.mags.sort(key=lambda e: Mag(e.mag))

    with _info_lock(layer):
        layer.dataset._refresh()
        refuse_listed(layer._properties)
        update_info(layer, add)
        try:
            layer._update(register)
        except MagExistsError:
            raise  # listed by a writer that bypassed the lock: the scale is its now
        except BaseException:
            remove_scale(layer, key)
            raise


def remove_scale(layer: Layer, key: str) -> None:
    """Drop a scale from the layer's `info` (its chunk files are deleted by the caller); the
    last scale takes the `info` with it (an `info` must list at least one scale)."""
    store = layer_store(layer)
    with _info_lock(layer):
        raw = store.get("info")
        if raw is None:
            raise UnsupportedFormatError(f"{layer.path} has no info file.")
        info = loads_info(raw, path=f"{store.url}/info")
        info.scales = [s for s in info.scales if s.key != key]
        if info.scales:
            _save_info(store, info)
        else:
            store.delete("info")


def _grown_scale(layer: Layer, scale: ScaleInfo, wanted: BoundingBox) -> ScaleInfo:
    """A copy of `scale` over the domain `wanted` (a sharding spec is recomputed for the grid)."""
    grown = attrs.evolve(scale, voxel_offset=wanted.topleft.to_list(), size=wanted.size.to_list())
    if scale.sharding is not None:
        chunk = Vec3Int(scale.chunk_sizes[0])
        grid = wanted.size.ceildiv(chunk).pairmax(1)
        grown.sharding = choose_sharding_spec(
            grid.to_tuple(),
            chunk_nbytes=chunk.prod() * layer.dtype.itemsize * layer.num_channels,
            data_encoding="gzip" if scale.sharding.get("data_encoding") == "gzip" else "raw",
        ).to_json()
    return grown


def _growth_plan(
    layer: Layer, info: VolumeInfo, keys: dict[Mag, str], box: BoundingBox
) -> list[tuple[str, ScaleInfo]]:
    """The scales that must grow to cover the layer box `box`, with their new `info` entries.

    Computing them validates the new extents (e.g. sharding specs) before anything changes.
    """
    plan = []
    for mag, key in keys.items():
        scale = info.scale_by_key(key)
        if scale is None:
            continue
        wanted = scale_domain(box, mag).extended_by(scale.domain)
        if wanted != scale.domain:
            plan.append((key, _grown_scale(layer, scale, wanted)))
    return plan


def check_growth(layer: Layer, keys: dict[Mag, str], box: BoundingBox) -> None:
    """Raise now if the scales could not grow to `box` (so no metadata changes first)."""
    _growth_plan(layer, read_layer_info(layer), keys, box)


def sync_domains(layer: Layer, keys: dict[Mag, str]) -> dict[str, str]:
    """Grow every scale's domain to the layer box, under the `info` lock, crash-safely.

    Unsharded: stored chunks whose region is not a chunk of the new grid are first rewritten
    under their new names (a chunk name is its region, so a same-named chunk gets the same
    content), then the new `info` is saved atomically, then the stale chunks are deleted.
    Sharded (chunk ids depend on the grid): the scale is rewritten under a new key and `info`
    switches to it atomically. Returns the renamed keys `{old: new}`.
    """
    store = layer_store(layer)
    renamed: dict[str, str] = {}
    with _info_lock(layer):
        info = read_layer_info(layer)
        for key, grown in _growth_plan(layer, info, keys, layer.bounding_box):
            old = PrecomputedArray(store, key, info=info)
            old_boxes = list(old.list_written_boxes())
            new_info = copy.deepcopy(info)
            if grown.sharding is not None and old_boxes:
                # Data to move: build the re-sharded scale under a new key, then switch to it.
                base = key.split("~")[0]
                _remove_abandoned_builds(store, base, info)
                grown.key = f"{base}~{uuid.uuid4().hex[:8]}"
            new_info.scales = [grown if s.key == key else s for s in new_info.scales]
            new = PrecomputedArray(store, grown.key, info=new_info)
            if grown.sharding is not None and grown.key != key:
                stored = StoredShards(boxes=old_boxes, grid=new.info.shard_shape)
                for shard_box in _shard_boxes(new):
                    if stored.touches(shard_box):
                        new.write(shard_box.topleft, old.read(shard_box))
                _save_info(store, new_info)
                for name in list(store.list_prefix(f"{key}/")):
                    store.delete(name)
                renamed[key] = grown.key
            else:
                stale = [box for box in old_boxes if not new.is_chunk(box)]
                for box in stale:
                    new.write(box.topleft, old.read(box))
                _save_info(store, new_info)
                for box in stale:
                    store.delete(chunk_key(key, box))
            info = new_info
    return renamed


def _remove_abandoned_builds(store: KVStore, base: str, info: VolumeInfo) -> None:
    """Delete re-sharded copies (`<base>~<id>` folders) that `info` does not name: a writer that
    died before switching `info` to its copy left them. Called under the exclusive `info` lock,
    which every live builder holds until it switched, so none of them is under way."""
    if not isinstance(store, FileKVStore) or store.read_only:
        return
    named = {scale.key for scale in info.scales}
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(store.root):
            if name.startswith(f"{base}~") and name not in named:
                folder = store.root / name
                if folder.is_dir() and not folder.is_symlink():
                    shutil.rmtree(folder, ignore_errors=True)


def _shard_boxes(array: PrecomputedArray) -> list[BoundingBox]:
    """The scale's domain tiled by its shards (aligned to the grid origin)."""
    info = array.info
    origin = info.grid_origin
    return [
        box.offset(origin)
        for box in array.domain.offset(-origin).chunk(info.shard_shape, info.shard_shape)
    ]


def chunk_key(key: str, box: BoundingBox) -> str:
    """The unsharded chunk file of `box` in scale `key`."""
    (x0, y0, z0), (x1, y1, z1) = box.topleft, box.bottomright
    return f"{key}/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}"


def scale_keys(layer: Layer) -> dict[Mag, str]:
    """The scale key of every mag the properties list."""
    return {Mag(e.mag): scale_key(layer, e.path, Mag(e.mag)) for e in layer._properties.mags}


def grow_scales(layer: Layer) -> None:
    """After the layer box grew: grow every scale's domain, and point the properties at the
    new keys of sharded scales that were re-gridded under a new key."""
    if not layer._properties.mags:
        return
    renamed = sync_domains(layer, scale_keys(layer))
    if not renamed:
        return
    bare = _is_bare(layer)

    def repoint(props: LayerProperties) -> None:
        for entry in props.mags:
            old = key_from_path(layer, entry.path, Mag(entry.mag))
            if old in renamed:
                new = renamed[old]
                entry.path = new if bare else f"./{layer.name}/{new}"

    layer._update(repoint)
