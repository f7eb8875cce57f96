"""Zarr v3 as a `StorageFormat`: webknossos' layout, one sharded array per mag.

`<dataset>/zarr.json` and `<layer>/zarr.json` are OME-NGFF 0.5 groups (the layer group lists
every mag under `multiscales`); `<layer>/<mag>/zarr.json` is the array. The group metadata is
derived from the properties JSON under its lock whenever a mag is added or removed, so it is
never more than one mag change behind, and the next change repairs it.
"""

from __future__ import annotations

import shutil
import uuid
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..._atomic import TEMP_PREFIX, swap_folder
from ...errors import InvalidArgumentError, ReadOnlyError, StorageError, UnsupportedFormatError
from ...geometry import Mag, Vec3Int
from ...properties import LENGTH_UNIT_TO_NANOMETER, MagViewProperties
from ..backend import ArrayBackend
from ..format import BareVolume, MagSettings, StorageFormat

if TYPE_CHECKING:
    from ...dataset.layer import Layer

FORMAT_NAME = "zarr3"
DEFAULT_CHUNK_SHAPE = 32
# Shard edge: as for WKW (webknossos writes 1024^3 shards, which makes a small write into a
# compressed mag rewrite a shard of up to 1 GiB of voxels).
DEFAULT_SHARD_SHAPE = 128
AXIS_ORDER = {"c": 0, "x": 1, "y": 2, "z": 3}
GROUP_FILE = "zarr.json"


class Zarr3Format(StorageFormat):
    """Zarr v3 arrays with the `sharding_indexed` codec (zstd when compressed), via tensorstore."""

    name: ClassVar[str] = FORMAT_NAME
    compresses_in_place: ClassVar[bool] = True

    # -- mags -------------------------------------------------------------------------------------
    def add_mag(self, layer: Layer, mag: Mag, settings: MagSettings) -> None:
        """A new array `<layer>/<mag>`, its properties entry, and the OME group updated."""
        from .array import Zarr3Array

        self.refuse_options(self.name, settings)
        chunk = settings.chunk_shape or Vec3Int(DEFAULT_CHUNK_SHAPE)
        # default: the multiple of the chunk closest to 128 from below (at least one chunk)
        shard = settings.shard_shape or chunk * (Vec3Int(DEFAULT_SHARD_SHAPE) // chunk).pairmax(1)
        path = layer.path / mag.to_layer_name()
        box = layer.bounding_box
        shape = (
            Vec3Int.zeros()
            if box.is_empty()
            else box.align_with_mag(mag, ceil=True).in_mag(mag).bottomright
        )
        _ensure_groups(layer)
        Zarr3Array.create(
            path,
            dtype=layer.dtype,
            num_channels=layer.num_channels,
            chunk_shape=chunk,
            shard_shape=shard,
            compressed=bool(settings.compress),
            shape=shape,
        )
        entry = MagViewProperties(
            mag=mag.to_list(),
            path=f"./{layer.name}/{mag.to_layer_name()}",
            axis_order=dict(AXIS_ORDER),
        )
        try:
            layer._add_mag_entry(entry)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        sync_group(layer)

    def open_mag(self, layer: Layer, mag: Mag, path: Path, *, read_only: bool) -> ArrayBackend:
        """The mag's array; a bare OME-Zarr image maps its axes to `(c, x, y, z)`."""
        from .array import Zarr3Array

        bare = layer.dataset._bare
        axes = bare.root.axis_names if bare is not None else None
        return Zarr3Array(path, read_only=read_only, axes=axes)

    def remove_mag(self, layer: Layer, path: Path, *, listed: bool) -> None:
        """Drop the mag from the layer's OME group (the properties no longer list it)."""
        if layer.dataset._bare is None and not layer.read_only:
            sync_group(layer)

    def layer_created(self, layer: Layer) -> None:
        """The dataset and layer groups, as webknossos writes them."""
        _ensure_groups(layer)
        sync_group(layer)

    def existing_mags(self, folder: Path) -> dict[Mag, ArrayBackend]:
        """Mag folders (`1`, `2-2-1`) holding a Zarr v3 array."""
        from .array import Zarr3Array

        return {
            mag: Zarr3Array(path, read_only=True)
            for mag, path in self.mag_folders(folder, GROUP_FILE).items()
        }

    def adopt_array(self, layer: Layer, mag: Mag, source: Path, *, move: bool) -> Vec3Int:
        """A Zarr v3 array stored as `c, x, y, z` with the layer's dtype and channels becomes
        `<layer>/<mag>`: copied beside it under a temporary name (or moved) and renamed into
        place, then listed; the OME group is updated."""
        from .array import Zarr3Array

        try:
            array = Zarr3Array(source, read_only=True)
        except (StorageError, OSError, ValueError) as exc:
            raise InvalidArgumentError(f"{source} is not a Zarr array: {exc}") from None
        theirs = (array.info.dtype, array.info.num_channels)
        if theirs != (layer.dtype, layer.num_channels):
            raise InvalidArgumentError(
                f"The Zarr array {source} holds {theirs[1]} channel(s) of {theirs[0]}, layer "
                f"{layer.name!r} {layer.num_channels} of {layer.dtype}."
            )
        if array._meta.zarr_format != 3 or not array._mapping.is_identity:
            raise UnsupportedFormatError(
                f"{source} is not a Zarr v3 array stored as (c, x, y, z); copy its voxels "
                "with add_mag_as_copy instead."
            )
        extent = array.shape
        target = layer.path / mag.to_layer_name()
        if target.exists():
            raise StorageError(f"{target} exists already; delete it or choose another mag.")
        _ensure_groups(layer)
        if move:
            shutil.move(source, target)
        else:
            staged = layer.path / f"{TEMP_PREFIX}{mag.to_layer_name()}-{uuid.uuid4().hex}"
            try:
                shutil.copytree(source, staged)
                staged.rename(target)
            finally:
                shutil.rmtree(staged, ignore_errors=True)
        try:
            layer._add_mag_entry(self.mag_entry(layer.name, mag, array))
        except BaseException:
            if not move:
                shutil.rmtree(target, ignore_errors=True)
            raise
        sync_group(layer)
        return extent

    def mag_entry(self, layer_name: str, mag: Mag, array: ArrayBackend) -> MagViewProperties:
        """The entry webknossos writes for a Zarr v3 mag: path and axis order."""
        return MagViewProperties(
            mag=mag.to_list(),
            path=f"./{layer_name}/{mag.to_layer_name()}",
            axis_order=dict(AXIS_ORDER),
        )

    # -- compression ------------------------------------------------------------------------------
    def compress_in_place(self, array: ArrayBackend, executor: Executor | None, desc: str) -> None:
        """A zstd copy built beside the mag, then swapped in with two renames.

        Unlike WKW there is no swap lock: writes by other processes during the copy are lost,
        so compress a Zarr mag while nothing else writes to it (docs/reliability.md).
        """
        from .array import Zarr3Array

        if not isinstance(array, Zarr3Array) or array.read_only:
            raise ReadOnlyError(f"{desc}: the mag is read-only and cannot be compressed in place.")
        if array.info.compressed:
            return
        folder = array.path
        scratch = folder.parent / f"{TEMP_PREFIX}{folder.name}-compress-{uuid.uuid4().hex}"
        self.write_compressed_copy(array, scratch, executor, desc)
        array.close()
        swap_folder(folder, scratch)

    def create_like(self, array: ArrayBackend, path: Path, *, compressed: bool) -> ArrayBackend:
        """An empty Zarr v3 mag with `array`'s geometry and shape (`compressed`: zstd)."""
        from .array import Zarr3Array

        if not isinstance(array, Zarr3Array):
            raise UnsupportedFormatError(f"{array!r} is not a Zarr v3 mag.")
        info = array.info
        return Zarr3Array.create(
            path,
            dtype=info.dtype,
            num_channels=info.num_channels,
            chunk_shape=info.chunk_shape,
            shard_shape=info.shard_shape,
            compressed=compressed,
            shape=array.shape,
        )

    # -- bare OME-Zarr images ---------------------------------------------------------------------
    def open_bare(self, location: str, *, read_only: bool) -> BareVolume | None:
        """An OME-Zarr image folder (NGFF 0.4 `.zattrs` or 0.5 `zarr.json`), read-only."""
        path = Path(location)
        if not ((path / ".zattrs").is_file() or (path / GROUP_FILE).is_file()):
            return None
        from .bare import load_ome_image

        return load_ome_image(path)


def _ensure_groups(layer: Layer) -> None:
    """`<dataset>/zarr.json` (a plain group) if missing, and the layer folder."""
    from .ome import dataset_group_metadata, write_json_atomically

    root = layer.dataset.path / GROUP_FILE
    if not root.exists():
        write_json_atomically(root, dataset_group_metadata())
    layer.path.mkdir(parents=True, exist_ok=True)


def sync_group(layer: Layer) -> None:
    """Rewrite `<layer>/zarr.json` from the properties (under their lock): one OME dataset per
    mag stored in the layer folder, with its scale in the dataset's unit."""
    from .ome import layer_group_metadata, write_json_atomically

    with layer.dataset._properties_file.lock:
        layer.dataset._refresh()
        props = layer._properties
        mags = []
        for entry in props.mags:
            mag = Mag(entry.mag)
            path = entry.path or f"./{layer.name}/{mag.to_layer_name()}"
            prefix = f"./{layer.name}/"
            if not path.startswith(prefix):
                continue  # a mag stored elsewhere is no dataset of this group
            mags.append((mag.to_list(), path[len(prefix) :]))
        unit = layer.dataset.voxel_size_unit
        if unit not in LENGTH_UNIT_TO_NANOMETER:
            raise StorageError(f"Unknown length unit {unit!r} for the OME metadata.")
        metadata: dict[str, Any] = layer_group_metadata(
            layer.name, mags, layer.dataset.voxel_size_with_unit.factor, unit, layer.num_channels
        )
        layer.path.mkdir(parents=True, exist_ok=True)
        write_json_atomically(layer.path / GROUP_FILE, metadata)
