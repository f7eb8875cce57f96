"""A toy storage format written only against the public contract: one `.npy` file per shard.

It proves the seam: registered at run time, it works through `Dataset`, `Layer`, views,
pyramids and copies without a line of `dataset/` knowing it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from webknossos_like.errors import ReadOnlyError
from webknossos_like.geometry import BoundingBox, Mag, Vec3Int
from webknossos_like.properties import MagViewProperties
from webknossos_like.storage.backend import ArrayBackend, ArrayInfo
from webknossos_like.storage.format import MagSettings, StorageFormat

if TYPE_CHECKING:
    from webknossos_like.dataset.layer import Layer

_SHARD = re.compile(r"^(\d+)_(\d+)_(\d+)\.npy$")


class NpyArray:
    """Shards of `shard` voxels per edge as `x_y_z.npy` files; `meta.npy` holds dtype/channels."""

    def __init__(self, path: Path, *, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        meta = np.load(path / "meta.npy", allow_pickle=False)
        self._dtype = np.dtype(str(meta[0]))
        self._channels, self._shard = int(meta[1]), int(meta[2])

    @classmethod
    def create(cls, path: Path, dtype: np.dtype[Any], channels: int, shard: int) -> NpyArray:
        path.mkdir(parents=True)
        np.save(path / "meta.npy", np.array([dtype.str, str(channels), str(shard)]))
        return cls(path, read_only=False)

    @property
    def info(self) -> ArrayInfo:
        return ArrayInfo(
            data_format=NpyFormat.name,
            dtype=self._dtype,
            num_channels=self._channels,
            chunk_shape=Vec3Int(self._shard),
            shard_shape=Vec3Int(self._shard),
            compressed=False,
        )

    def _shards(self, bbox: BoundingBox) -> Iterator[BoundingBox]:
        grid = Vec3Int(self._shard)
        yield from bbox.chunk(grid, grid)

    def _file(self, cell: BoundingBox) -> Path:
        index = cell.topleft // self._shard
        return self.path / f"{index.x}_{index.y}_{index.z}.npy"

    def read(self, bbox: BoundingBox) -> np.ndarray:
        out = np.zeros((self._channels, *bbox.size), self._dtype)
        for part in self._shards(bbox):
            file = self._file(part)
            if not file.exists():
                continue
            shard = np.load(file)
            cell = BoundingBox((part.topleft // self._shard) * self._shard, Vec3Int(self._shard))
            src = part.offset(-cell.topleft)
            dst = part.offset(-bbox.topleft)
            out[(slice(None), *dst.to_slices())] = shard[(slice(None), *src.to_slices())]
        return out

    def write(self, offset: Vec3Int, data: np.ndarray) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{self.path} is read-only.")
        bbox = BoundingBox(offset, data.shape[1:])
        for part in self._shards(bbox):
            cell = BoundingBox((part.topleft // self._shard) * self._shard, Vec3Int(self._shard))
            shard = self.read(cell)
            shard[(slice(None), *part.offset(-cell.topleft).to_slices())] = data[
                (slice(None), *part.offset(-bbox.topleft).to_slices())
            ]
            fd, tmp = tempfile.mkstemp(dir=self.path, suffix=".tmp")
            with os.fdopen(fd, "wb") as file:
                np.save(file, shard)
            os.replace(tmp, self._file(part))

    def list_written_boxes(self) -> Iterator[BoundingBox]:
        for file in sorted(self.path.iterdir()):
            match = _SHARD.match(file.name)
            if match:
                index = Vec3Int(*(int(g) for g in match.groups()))
                yield BoundingBox(index * self._shard, Vec3Int(self._shard))

    def close(self) -> None:
        pass


class NpyFormat(StorageFormat):
    """The toy format: no compression, no negative offsets, mags as folders of `.npy` shards."""

    name: ClassVar[str] = "npy-test"
    aliases: ClassVar[tuple[str, ...]] = ("npy",)

    def add_mag(self, layer: Layer, mag: Mag, settings: MagSettings) -> None:
        self.refuse_options(self.name, settings)
        shard = (settings.shard_shape or Vec3Int(32)).x
        NpyArray.create(layer.path / mag.to_layer_name(), layer.dtype, layer.num_channels, shard)
        layer._add_mag_entry(
            MagViewProperties(mag=mag.to_list(), path=f"./{layer.name}/{mag.to_layer_name()}")
        )

    def open_mag(self, layer: Layer, mag: Mag, path: Path, *, read_only: bool) -> ArrayBackend:
        return NpyArray(path, read_only=read_only)
