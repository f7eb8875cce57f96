"""The contract every on-disk format implements for one mag of one layer."""

from __future__ import annotations

import functools
import os
import resource
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np

from ..errors import InvalidArgumentError
from ..geometry import BoundingBox, Vec3Int


@attrs.frozen
class ArrayInfo:
    """What a mag array stores and how: the parts the view layer needs to plan I/O."""

    data_format: str
    dtype: np.dtype[np.generic]
    num_channels: int
    chunk_shape: Vec3Int
    shard_shape: Vec3Int
    compressed: bool
    # Where the storage's chunk/shard grid is anchored (precomputed: `voxel_offset`), in mag voxels.
    grid_origin: Vec3Int = attrs.field(factory=Vec3Int.zeros)
    # Whether writers of disjoint chunk-aligned parts of one shard may run at once (raw WKW
    # patches chunks in place); otherwise shards are rewritten whole and must not be shared.
    chunk_parallel_writes: bool = False
    #: The format's own name for how chunks are encoded (precomputed: `raw`,
    #: `compressed_segmentation`, `jpeg`...), or None where `compressed` says it all.
    encoding: str | None = None
    #: Whether chunks are grouped into shard files (False: one file per chunk).
    sharded: bool = True

    @property
    def write_alignment(self) -> Vec3Int:
        """The unit of independent writes: parallel writers aligned to it never share a file."""
        return self.shard_shape


class ArrayBackend(Protocol):
    """One mag of one layer, in that mag's voxel coordinates; arrays are `(c, x, y, z)`.

    Invariants: `read` of never-written voxels returns 0; `write` is crash-safe per file
    (temp file + rename) and does read-modify-write of partially covered shards itself;
    instances pickle cheaply (handles are reopened lazily in the receiving process).
    """

    @property
    def info(self) -> ArrayInfo: ...

    def read(self, bbox: BoundingBox) -> np.ndarray: ...

    def write(self, offset: Vec3Int, data: np.ndarray) -> None: ...

    def list_written_boxes(self) -> Iterator[BoundingBox]: ...

    def close(self) -> None: ...


@runtime_checkable
class StoredChunkSource(Protocol):
    """A backend that hands out the chunks of an uncompressed shard as stored, so pyramid
    building can reduce each chunk where it lies instead of assembling the region (raw WKW)."""

    def chunk_buffer(self, batch_bytes: int = 1 << 20) -> np.ndarray: ...

    def iter_stored_chunks(
        self, shard_index: Vec3Int, batch_bytes: int = 1 << 20, buffer: np.ndarray | None = None
    ) -> Iterator[tuple[int, np.ndarray]]: ...

    def stored_chunk_corners(self) -> np.ndarray: ...


@runtime_checkable
class StoredFileNamer(Protocol):
    """A backend that names the file (or key) behind one of its `list_written_boxes`, so
    checks can say which file is broken."""

    def stored_file(self, box: BoundingBox) -> str: ...


#: Environment variable that sets the read cap in bytes (see `max_read_bytes`).
MAX_READ_BYTES_ENV = "WKL_MAX_READ_BYTES"


@functools.cache
def _physical_memory() -> int:
    """Bytes of RAM (asked once: this runs on every read)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def max_read_bytes() -> int:
    """The largest array one `read` may return, in bytes.

    `WKL_MAX_READ_BYTES` if set; otherwise half of the smaller of physical memory and the
    process's address-space limit (`RLIMIT_AS`): a read also needs room for decoded chunks, and
    anything larger could only end in `MemoryError` or swapping.
    """
    configured = os.environ.get(MAX_READ_BYTES_ENV, "").strip()
    if configured:
        try:
            return max(0, int(configured))
        except ValueError:
            raise InvalidArgumentError(
                f"{MAX_READ_BYTES_ENV}={configured!r} is not a number of bytes."
            ) from None
    limit = _physical_memory()
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, soft)
    return limit // 2


def check_read_size(bbox: BoundingBox, dtype: np.dtype[Any], num_channels: int, where: str) -> None:
    """Refuse, before allocating, a read whose `(c, x, y, z)` result exceeds `max_read_bytes()`.

    Huge boxes come from metadata (a layer box of 2^40 voxels per axis) more often than from
    intent; the error names the box, the size and what to do instead.
    """
    size = bbox.size
    nbytes = num_channels * size.x * size.y * size.z * dtype.itemsize
    cap = max_read_bytes()
    if nbytes > cap:
        raise InvalidArgumentError(
            f"Reading {bbox} from {where} would return {nbytes} bytes ({size.x}x{size.y}x{size.z}"
            f" voxels, {num_channels} channel(s) of {dtype}), more than the {cap}-byte read cap "
            f"(half the memory available, or ${MAX_READ_BYTES_ENV}); read a sub-box instead, e.g. "
            "with View.chunk() or for_each_chunk()."
        )
