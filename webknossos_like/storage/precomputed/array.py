"""One scale of a precomputed volume behind the `ArrayBackend` protocol (read, write, list)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import numpy as np

from ...errors import (
    DatasetNotFoundError,
    DataShapeError,
    DTypeError,
    OutOfBoundsError,
    StorageError,
)
from ...geometry import BoundingBox, Vec3Int
from ...io_pool import imap_io, map_io, threads_for_call
from ..backend import ArrayInfo, check_read_size
from ._index_cache import IndexCache, file_stamp
from ._put_batch import PutBatch, put_batch
from .codecs import (
    check_encoding,
    chunk_encoder,
    decode_chunk,
    decode_chunk_into,
    encode_chunk_buffer,
    max_encoded_size,
)
from .fanout import fan_out, parallel_reads
from .info import MAX_INFO_BYTES, ScaleInfo, VolumeInfo, loads_info
from .kvstore import FileKVStore, KVStore, file_url_to_path
from .sharding import (
    ShardingSpec,
    compressed_morton_codes,
    decode_compressed_morton_codes,
    encode_shard,
    group_by_shard,
    parse_shard,
    read_chunks,
    shard_and_minishard,
    shard_file_name,
    shard_shape_in_chunks,
)

DATA_FORMAT = "neuroglancerPrecomputed"
_CHUNK_NAME_RE = re.compile(r"^(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)$")
_NESTED_NAME_RE = re.compile(r"^(-?\d+)-(-?\d+)/(-?\d+)-(-?\d+)/(-?\d+)-(-?\d+)$")
_SHARD_NAME_RE = re.compile(r"^([0-9a-f]+)\.shard$")
_ALL = (slice(None),)


# Below this many bytes a call stays on the calling thread: handing a few chunks to the pool
# costs more than it saves (measured: 64^3 random reads ran faster sequentially).
_PARALLEL_MIN_BYTES = 4 << 20


def _threads_for(nbytes: int) -> int:
    """Threads for a call moving `nbytes` of voxels: the per-call setting, 1 for small calls."""
    return threads_for_call() if nbytes >= _PARALLEL_MIN_BYTES else 1


class PrecomputedArray:
    """One scale (`key`) of the volume whose `info` lies at the root of `store`.

    Coordinates are the scale's own voxel coordinates; the chunk grid is anchored at
    `voxel_offset` and clipped at `voxel_offset + size`. Voxels outside that domain, and chunks
    that are not stored, read as 0.
    """

    def __init__(
        self, store: KVStore, key: str, *, info: VolumeInfo | None = None, chunk_size_index: int = 0
    ) -> None:
        self._store = store
        self._key = key
        self._chunk_size_index = chunk_size_index
        self._volume = info if info is not None else read_info(store)
        scale = self._volume.scale_by_key(key)
        if scale is None:
            raise StorageError(f"{store.url}/info has no scale with key {key!r}.")
        self._scale = scale
        self._dtype = np.dtype(self._volume.data_type)
        self._encoding = check_encoding(scale.encoding, self._dtype, self._volume.num_channels)
        if not 0 <= chunk_size_index < len(scale.chunk_sizes):
            raise StorageError(f"Scale {key!r} has no chunk size #{chunk_size_index}.")
        self._chunk = Vec3Int(scale.chunk_sizes[chunk_size_index])
        self._chunk_t = self._chunk.to_tuple()
        self._offset_t = scale.offset.to_tuple()
        self._sharding = (
            ShardingSpec.from_json(scale.sharding) if scale.sharding is not None else None
        )
        self._index_cache = IndexCache(self._shard_stamp(store))
        # Unsharded chunk layout: None until a chunk was found flat (False) or nested (True).
        self._nested: bool | None = None
        self._block = (
            tuple(scale.compressed_segmentation_block_size)
            if scale.compressed_segmentation_block_size
            else None
        )

    @staticmethod
    def _shard_stamp(store: KVStore) -> Callable[[str], Hashable] | None:
        """How to tell a shard file's version: (inode, size, mtime) for local files; other
        stores cannot say cheaply, so only this process's own writes invalidate there."""
        if not isinstance(store, FileKVStore):
            return None
        root = str(store.root)
        return lambda key: file_stamp(os.path.join(root, *key.split("/")))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "store": self._store,
            "key": self._key,
            "info": self._volume,
            "index": self._chunk_size_index,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        PrecomputedArray.__init__(
            self, state["store"], state["key"], info=state["info"], chunk_size_index=state["index"]
        )

    # -- description ----------------------------------------------------------------------------
    @property
    def scale(self) -> ScaleInfo:
        """The `info` entry of this scale."""
        return self._scale

    @property
    def domain(self) -> BoundingBox:
        """`[voxel_offset, voxel_offset + size)`."""
        return self._scale.domain

    @property
    def grid_shape(self) -> Vec3Int:
        """Chunks per axis (at least 1, so an empty scale still has a valid sharding grid)."""
        return Vec3Int(self._scale.size).ceildiv(self._chunk).pairmax(1)

    @property
    def info(self) -> ArrayInfo:
        """dtype, channels, chunk shape; the shard shape is the unit of independent writes."""
        shard = self._chunk
        if self._sharding is not None:
            in_chunks = shard_shape_in_chunks(self._sharding, self.grid_shape.to_tuple())
            shard = (
                self._chunk * Vec3Int(in_chunks)
                if in_chunks is not None
                else self.grid_shape * self._chunk
            )
        return ArrayInfo(
            data_format=DATA_FORMAT,
            dtype=self._dtype,
            num_channels=self._volume.num_channels,
            chunk_shape=self._chunk,
            shard_shape=shard,
            compressed=self._encoding != "raw"
            or (self._sharding is not None and self._sharding.data_encoding == "gzip"),
            grid_origin=self._scale.offset,
            encoding=self._encoding,
            sharded=self._sharding is not None,
        )

    def close(self) -> None:
        """Nothing to release: every access goes through the key-value store."""

    # -- chunk geometry -------------------------------------------------------------------------
    def _cells(self, box: BoundingBox) -> list[Vec3Int]:
        """Grid positions of the chunks overlapping `box` (already clipped to the domain)."""
        low = (box.topleft - self._scale.offset) // self._chunk
        high = (box.bottomright - self._scale.offset).ceildiv(self._chunk)
        return [
            Vec3Int(x, y, z)
            for z in range(low.z, high.z)
            for y in range(low.y, high.y)
            for x in range(low.x, high.x)
        ]

    def _cell_bounds(self, cell: Vec3Int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """`(begin, end)` of a grid cell as plain ints (hot path: no geometry objects)."""
        offset, chunk, size = self._offset_t, self._chunk_t, self._scale.size
        begin = tuple(offset[i] + cell[i] * chunk[i] for i in range(3))
        end = tuple(offset[i] + min((cell[i] + 1) * chunk[i], size[i]) for i in range(3))
        return begin, end

    def _cell_box(self, cell: Vec3Int) -> BoundingBox:
        begin, end = self._cell_bounds(cell)
        return BoundingBox(begin, tuple(e - b for b, e in zip(begin, end, strict=True)))

    def is_chunk(self, box: BoundingBox) -> bool:
        """Whether `box` is exactly one chunk of this scale's grid (same name, same region)."""
        if not self.domain.contains_bbox(box) or box.is_empty():
            return False
        relative = box.topleft - self._scale.offset
        if relative % self._chunk != Vec3Int.zeros():
            return False
        return self._cell_box(relative // self._chunk) == box

    def _max_chunk_bytes(self, size: tuple[int, ...]) -> int:
        """The most bytes a stored chunk of `size` voxels can take in this scale's encoding."""
        voxels = self._volume.num_channels * size[0] * size[1] * size[2]
        return max_encoded_size(self._encoding, voxels * self._dtype.itemsize)

    def _shard_limits(self) -> tuple[int, int, int]:
        """(bytes per chunk, chunks per minishard index, bytes per shard file) at most: what a
        sharded scale can hold, so that hostile gzip payloads are refused, not inflated."""
        assert self._sharding is not None  # only called for sharded scales
        chunk = self._max_chunk_bytes(self._chunk_t)
        chunks = self.grid_shape.prod()
        return chunk, chunks, self._sharding.shard_index_nbytes + chunks * (24 + chunk)

    def _chunk_key(self, box: BoundingBox) -> str:
        return self._bounds_key(box.topleft.to_tuple(), box.bottomright.to_tuple())

    def _bounds_key(self, begin: tuple[int, ...], end: tuple[int, ...]) -> str:
        return f"{self._key}/{begin[0]}-{end[0]}_{begin[1]}-{end[1]}_{begin[2]}-{end[2]}"

    def _chunk_ids(self, cells: list[Vec3Int]) -> list[int]:
        positions = np.array([c.to_tuple() for c in cells], dtype=np.uint64).reshape(-1, 3)
        return [int(i) for i in compressed_morton_codes(positions, self.grid_shape.to_tuple())]

    def _decode(self, raw: bytes | None, box: BoundingBox) -> np.ndarray:
        shape = (self._volume.num_channels, *box.size)
        if raw is None:
            return np.zeros(shape, dtype=self._dtype, order="F")
        return decode_chunk(raw, self._encoding, shape, self._dtype, block_size=self._block)

    def _encode(self, data: np.ndarray) -> bytes | bytearray:
        return encode_chunk_buffer(
            data,
            self._encoding,
            block_size=self._block,
            jpeg_quality=self._scale.jpeg_quality if self._scale.jpeg_quality is not None else 95,
            png_level=self._scale.png_level if self._scale.png_level is not None else 6,
        )

    def _get_unsharded(self, box: BoundingBox) -> bytes | None:
        """One chunk from the flat layout, or from neuroglancer-scripts' nested one if that is used.

        A stored value longer than such a chunk can be raises `CorruptChunkError` unread."""
        limit = self._max_chunk_bytes(box.size.to_tuple())
        if self._nested is not True:
            raw = self._store.get(self._chunk_key(box), max_size=limit)
            if raw is not None or self._nested is False:
                self._nested = False if raw is not None else self._nested
                return raw
        (x0, y0, z0), (x1, y1, z1) = box.topleft, box.bottomright
        raw = self._store.get(f"{self._key}/{x0}-{x1}/{y0}-{y1}/{z0}-{z1}", max_size=limit)
        if raw is not None:
            self._nested = True
        return raw

    def _fetch_sharded(self, cells: list[Vec3Int]) -> list[bytes | None]:
        """Encoded bytes of each chunk of a sharded scale, index reads batched per shard; for
        remote stores one task per shard file, `parallel_reads` at a time (`fanout`)."""
        assert self._sharding is not None
        sharding = self._sharding
        ids = self._chunk_ids(cells)
        chunk_bytes, chunks, shard_bytes = self._shard_limits()
        groups = (
            list(group_by_shard(ids, sharding).values())
            if parallel_reads(self._store) > 1
            else [ids]
        )
        found: dict[int, bytes | None] = {}
        for part in fan_out(
            self._store,
            lambda group: read_chunks(
                functools.partial(self._store.get_range, max_size=shard_bytes),
                group,
                sharding,
                prefix=f"{self._key}/",
                max_chunk_bytes=chunk_bytes,
                max_chunks=chunks,
                cache=self._index_cache,
            ),
            groups,
        ):
            found.update(part)
        return [found[cid] for cid in ids]

    # -- reading --------------------------------------------------------------------------------
    def read(self, bbox: BoundingBox) -> np.ndarray:
        """Voxels of `bbox` as a Fortran-ordered `(c, x, y, z)` array; 0 outside stored chunks.

        The chunks are fetched, decoded and copied into the result on the per-call thread pool
        (`webknossos_like.io_threads`); each chunk fills its own part of the result.
        """
        where = f"{self._store.url}/{self._key}"
        check_read_size(bbox, self._dtype, self._volume.num_channels, where)
        out = np.zeros((self._volume.num_channels, *bbox.size), dtype=self._dtype, order="F")
        inside = bbox.intersected_with(self.domain)
        if inside.is_empty():
            return out
        cells = self._cells(inside)
        channels = self._volume.num_channels
        low, high, origin = inside.topleft.to_tuple(), inside.bottomright.to_tuple(), bbox.topleft

        def place(cell: Vec3Int, raw: bytes | None) -> None:
            if raw is None:
                return
            begin, end = self._cell_bounds(cell)
            shape = (channels, *(e - b for b, e in zip(begin, end, strict=True)))
            lo = [max(begin[i], low[i]) for i in range(3)]
            hi = [min(end[i], high[i]) for i in range(3)]
            target = tuple(slice(lo[i] - origin[i], hi[i] - origin[i]) for i in range(3))
            source = (lo[0] - begin[0], lo[1] - begin[1], lo[2] - begin[2])
            decode_chunk_into(
                raw, self._encoding, shape, out[_ALL + target], source, block_size=self._block
            )

        threads = _threads_for(out.nbytes)
        if parallel_reads(self._store) > 1:  # remote: requests wait on the network, overlap them
            threads = max(threads, parallel_reads(self._store))
        if self._sharding is None:
            map_io(
                lambda cell: place(cell, self._get_unsharded(self._cell_box(cell))),
                cells,
                threads=threads,
            )
        else:
            found = self._fetch_sharded(cells)
            map_io(lambda pair: place(*pair), list(zip(cells, found, strict=True)), threads=threads)
        return out

    def list_written_boxes(self) -> Iterator[BoundingBox]:
        """Boxes of stored chunks (or shards); the whole domain where the store cannot list."""
        if not self._store.supports_listing:
            yield self.domain
            return
        if self._sharding is None:
            for key in self._store.list_prefix(f"{self._key}/"):
                relative = key[len(self._key) + 1 :]
                match = _CHUNK_NAME_RE.match(relative) or _NESTED_NAME_RE.match(relative)
                if match:
                    x0, x1, y0, y1, z0, z1 = (int(g) for g in match.groups())
                    yield BoundingBox((x0, y0, z0), (x1 - x0, y1 - y0, z1 - z0))
            return
        in_chunks = shard_shape_in_chunks(self._sharding, self.grid_shape.to_tuple())
        names = [key.rsplit("/", 1)[-1] for key in self._store.list_prefix(f"{self._key}/")]
        shards = [int(m.group(1), 16) for m in map(_SHARD_NAME_RE.match, names) if m]
        if in_chunks is None:
            if shards:
                yield self.domain
            return
        shard_voxels = self._chunk * Vec3Int(in_chunks)
        for shard in sorted(shards):
            first = self._first_cell_of_shard(shard, self._sharding)
            if first is None:
                continue
            topleft = self._scale.offset + first * self._chunk
            box = BoundingBox(topleft, shard_voxels).intersected_with(self.domain)
            if not box.is_empty():
                yield box

    def stored_file(self, box: BoundingBox) -> str:
        """The chunk or shard file holding a box of `list_written_boxes` (a path when local,
        else a URL)."""
        root = self._store.url
        if root.startswith("file://"):
            root = file_url_to_path(root)
        if self._sharding is None:
            return f"{root}/{self._chunk_key(box)}"
        cell = (box.topleft - self._scale.offset) // self._chunk
        shard, _ = shard_and_minishard(self._chunk_ids([cell])[0], self._sharding)
        return f"{root}/{self._key}/{shard_file_name(shard, self._sharding)}"

    def _first_cell_of_shard(self, shard: int, spec: ShardingSpec) -> Vec3Int | None:
        bits_inside = spec.preshift_bits + spec.minishard_bits
        chunk_id = shard << bits_inside
        cells = decode_compressed_morton_codes(
            np.array([chunk_id], dtype=np.uint64), self.grid_shape.to_tuple()
        )
        cell = Vec3Int(cells[0].tolist())
        if any(c >= g for c, g in zip(cell, self.grid_shape, strict=True)):
            return None
        return cell

    # -- writing --------------------------------------------------------------------------------
    def write(self, offset: Vec3Int, data: np.ndarray) -> None:
        """Write `(c, x, y, z)` data at `offset`; partially covered chunks and shards are merged."""
        if data.ndim != 4 or data.shape[0] != self._volume.num_channels:
            raise DataShapeError(
                f"Expected (c, x, y, z) data with c={self._volume.num_channels}, got shape {data.shape}."
            )
        if data.dtype != self._dtype:
            raise DTypeError(
                f"Data of dtype {data.dtype} cannot be written to a {self._dtype} scale."
            )
        bbox = BoundingBox(offset, data.shape[1:])
        if not self.domain.contains_bbox(bbox):
            raise OutOfBoundsError(
                f"Cannot write {bbox} to scale {self._key!r} of {self._store.url}: outside its domain {self.domain}."
            )
        if bbox.is_empty():
            return
        cells = self._cells(bbox)
        expected = len(cells) if self._sharding is None else 0
        with put_batch(self._store, expected=expected) as batch:
            if self._sharding is None:
                self._write_unsharded(cells, bbox, data, batch)
                return
            ids = self._chunk_ids(cells)
            cell_of = dict(zip(ids, cells, strict=True))
            shards = list(group_by_shard(ids, self._sharding).items())
            # Whole shards in parallel; a single shard encodes its chunks in parallel instead.
            threads = _threads_for(data.nbytes)
            per_shard = len(shards) > 1 and threads > 1
            written = map_io(
                lambda item: self._write_shard(item[0], item[1], cell_of, bbox, data, batch),
                shards,
                threads=threads if per_shard else 1,
            )
        # Only now are the new shard files in place: drop what a read meanwhile may have cached.
        for key in written:
            self._index_cache.forget(key)

    def _write_unsharded(
        self, cells: list[Vec3Int], bbox: BoundingBox, data: np.ndarray, batch: PutBatch
    ) -> None:
        """Encode and stage the chunks `cells` of an unsharded scale; chunks that `data` covers
        whole are sliced straight out of it (plain ints: this runs once per chunk)."""
        encode = chunk_encoder(
            self._encoding,
            self._dtype,
            self._volume.num_channels,
            block_size=self._block,
            jpeg_quality=self._scale.jpeg_quality if self._scale.jpeg_quality is not None else 95,
            png_level=self._scale.png_level if self._scale.png_level is not None else 6,
        )
        low, high = bbox.topleft.to_tuple(), bbox.bottomright.to_tuple()
        plan: list[tuple[str, tuple[slice, ...] | None, Vec3Int]] = []
        for cell in cells:
            begin, end = self._cell_bounds(cell)
            whole = all(low[i] <= begin[i] and end[i] <= high[i] for i in range(3))
            where = (
                _ALL + tuple(slice(begin[i] - low[i], end[i] - low[i]) for i in range(3))
                if whole
                else None
            )
            plan.append((self._bounds_key(begin, end), where, cell))

        def encode_chunk(item: tuple[str, tuple[slice, ...] | None, Vec3Int]) -> bytes | bytearray:
            _, where, cell = item
            chunk = (
                data[where]
                if where is not None
                else self._merged(self._cell_box(cell), bbox, data, None)
            )
            return encode(chunk)

        threads = self._encoding_threads(data.nbytes)
        if getattr(self._store, "gzip", False):  # gzip in `put`: CPU work, on the pool too
            map_io(lambda item: batch.put(item[0], encode_chunk(item)), plan, threads=threads)
            return
        # Files are created and written by this thread alone, in order, while the pool encodes
        # the next chunks: file system calls from several threads (each needing the GIL back
        # after every call) were measured slower than from one.
        encoded_chunks = imap_io(encode_chunk, plan, threads=threads)
        try:
            for (key, _, _), encoded in zip(plan, encoded_chunks, strict=True):
                batch.put(key, encoded)
        finally:
            encoded_chunks.close()  # on failure: no task left running once the batch aborts

    def _encoding_threads(self, nbytes: int) -> int:
        """Threads that encode the chunks of an unsharded write of `nbytes`.

        A raw chunk is one copy: handing it to another thread costs more than it saves (512
        raw 64^3 chunks on the measured 2-core machine: 0.18-0.20 s on the calling thread,
        0.22-0.25 s with two threads). Every other encoding is CPU work that releases the GIL.
        """
        if self._encoding == "raw" and not getattr(self._store, "gzip", False):
            return 1
        return _threads_for(nbytes)

    def _write_shard(
        self,
        shard: int,
        shard_ids: list[int],
        cell_of: dict[int, Vec3Int],
        bbox: BoundingBox,
        data: np.ndarray,
        batch: PutBatch,
    ) -> str:
        """Merge the chunks `shard_ids` of `data` into shard `shard`; stage the new shard file."""
        assert self._sharding is not None
        key = f"{self._key}/{shard_file_name(shard, self._sharding)}"
        chunk_bytes, chunks, shard_bytes = self._shard_limits()
        existing_bytes = self._store.get(key, max_size=shard_bytes)
        stored = (
            parse_shard(
                existing_bytes,
                self._sharding,
                key=key,
                max_chunk_bytes=chunk_bytes,
                max_chunks=chunks,
            )
            if existing_bytes
            else {}
        )

        def encode(cid: int) -> bytes:
            box = self._cell_box(cell_of[cid])
            encoded = self._encode(self._merged(box, bbox, data, stored.get(cid)))
            return encoded if isinstance(encoded, bytes) else bytes(encoded)

        threads = _threads_for(data.nbytes)
        for cid, encoded in zip(shard_ids, map_io(encode, shard_ids, threads=threads), strict=True):
            stored[cid] = encoded
        batch.put(key, encode_shard(stored, self._sharding))
        return key

    def _merged(
        self, box: BoundingBox, bbox: BoundingBox, data: np.ndarray, existing: bytes | None
    ) -> np.ndarray:
        """The new content of chunk `box`: the written part of `data`, the rest as stored."""
        overlap = box.intersected_with(bbox)
        source = data[_ALL + overlap.offset(-bbox.topleft).to_slices()]
        if overlap == box:
            return source
        if existing is None and self._sharding is None:
            existing = self._store.get(
                self._chunk_key(box), max_size=self._max_chunk_bytes(box.size.to_tuple())
            )
        chunk = self._decode(existing, box)
        chunk[_ALL + overlap.offset(-box.topleft).to_slices()] = source
        return chunk


def read_info(store: KVStore) -> VolumeInfo:
    """Load and validate `info` at the root of `store`."""
    raw = store.get("info", max_size=MAX_INFO_BYTES)
    if raw is None:
        raise DatasetNotFoundError(f"No precomputed volume at {store.url}: 'info' not found.")
    return loads_info(raw, path=f"{store.url}/info")


__all__ = ["DATA_FORMAT", "PrecomputedArray", "read_info"]
