"""The contract every on-disk format implements for one mag of one layer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import attrs
import numpy as np

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
