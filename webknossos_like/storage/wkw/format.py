"""WKW as a `StorageFormat`: one folder of shard files per mag, through the `wkw` package."""

from __future__ import annotations

import shutil
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ...errors import ReadOnlyError, UnsupportedFormatError
from ...geometry import Mag, Vec3Int
from ...properties import MagViewProperties
from ..backend import ArrayBackend
from ..format import MagSettings, StorageFormat
from .array import HEADER_FILE, MAX_FILE_LEN, WKWArray
from .swap import SwappableWKWArray, recover_swap

if TYPE_CHECKING:
    from ...dataset.layer import Layer

DEFAULT_CHUNK_SHAPE = 32
# Shard (= WKW file) edge: small enough that a small write into a compressed mag stays cheap
# (webknossos defaults to 1024, materialising multi-MB files for a 32^3 write).
DEFAULT_SHARD_SHAPE = 128
AXIS_ORDER = {"c": 0, "x": 1, "y": 2, "z": 3}


class WKWFormat(StorageFormat):
    """Local folders of `.wkw` shard files (raw, LZ4, LZ4HC); no negative coordinates."""

    name: ClassVar[str] = "wkw"
    compresses_in_place: ClassVar[bool] = True
    local_only: ClassVar[str | None] = (
        "the native wkw library reads and writes local files only (no object-store access)."
    )

    def add_mag(self, layer: Layer, mag: Mag, settings: MagSettings) -> None:
        """A new WKW folder (`compress` = LZ4HC), listed in the properties."""
        self.refuse_options(self.name, settings)
        chunk = settings.chunk_shape or Vec3Int(DEFAULT_CHUNK_SHAPE)
        shard = settings.shard_shape or Vec3Int(DEFAULT_SHARD_SHAPE).pairmax(chunk)
        path = layer.path / mag.to_layer_name()
        WKWArray.create(
            path,
            dtype=layer.dtype,
            num_channels=layer.num_channels,
            chunk_shape=chunk,
            shard_shape=shard,
            compressed=bool(settings.compress),
        )
        entry = MagViewProperties(
            mag=mag.to_list(),
            path=f"./{layer.name}/{mag.to_layer_name()}",
            cube_length=shard.x,
            axis_order=dict(AXIS_ORDER),
        )
        try:
            layer._add_mag_entry(entry)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise

    def fit_shapes(self, chunk: Vec3Int, shard: Vec3Int) -> tuple[Vec3Int, Vec3Int]:
        """WKW needs cubic power-of-two edges: a chunk that is none becomes the default, a
        shard the smallest such cube around it (at most `MAX_FILE_LEN` chunks per edge)."""
        if not chunk.is_uniform() or not _is_power_of_two(chunk.x):
            chunk = Vec3Int(DEFAULT_CHUNK_SHAPE)
        edge = _next_power_of_two(max(max(shard), chunk.x))
        edge = min(edge, chunk.x * MAX_FILE_LEN)
        return chunk, Vec3Int(edge)

    def open_mag(self, layer: Layer, mag: Mag, path: Path, *, read_only: bool) -> ArrayBackend:
        """The mag behind its swap lock (`SwappableWKWArray`), after finishing a killed swap."""
        return SwappableWKWArray(recover_swap(path, read_only=read_only), locking=not read_only)

    def existing_mags(self, folder: Path) -> dict[Mag, ArrayBackend]:
        """Mag folders (`1`, `2-2-1`, `2`) holding a `header.wkw`."""
        return {mag: WKWArray(path) for mag, path in self.mag_folders(folder, HEADER_FILE).items()}

    def mag_entry(self, layer_name: str, mag: Mag, array: ArrayBackend) -> MagViewProperties:
        """The entry webknossos writes for a WKW mag: path, cube length, axis order."""
        assert isinstance(array, WKWArray)  # made by existing_mags
        return MagViewProperties(
            mag=mag.to_list(),
            path=f"./{layer_name}/{array.path.name}",
            cube_length=array.info.shard_shape.x,
            axis_order=dict(AXIS_ORDER),
        )

    def compress_in_place(self, array: ArrayBackend, executor: Executor | None, desc: str) -> None:
        """LZ4HC copy beside the mag, swapped in (see `SwappableWKWArray.compress_in_place`)."""
        if not isinstance(array, SwappableWKWArray):
            raise ReadOnlyError(f"{desc}: the mag is read-only and cannot be compressed in place.")
        array.compress_in_place(executor, desc=desc)

    def create_like(self, array: ArrayBackend, path: Path, *, compressed: bool) -> ArrayBackend:
        """An empty WKW mag with `array`'s geometry (`compressed`: LZ4HC)."""
        if not isinstance(array, WKWArray):
            raise UnsupportedFormatError(f"{array!r} is not a WKW mag.")
        info = array.info
        return WKWArray.create(
            path,
            dtype=info.dtype,
            num_channels=info.num_channels,
            chunk_shape=info.chunk_shape,
            shard_shape=info.shard_shape,
            compressed=compressed,
        )


def _is_power_of_two(value: int) -> bool:
    """Whether `value` is 1, 2, 4, 8..."""
    return value > 0 and not value & (value - 1)


def _next_power_of_two(value: int) -> int:
    """The smallest power of two that is at least `value` (at least 1)."""
    return 1 << max(0, value - 1).bit_length()
