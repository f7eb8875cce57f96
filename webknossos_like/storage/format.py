"""The contract between the object model and one on-disk format (the storage seam).

`dataset/` never names a format: it asks the layer's `StorageFormat` (found by name in
`storage.formats`) to create, open and remove mag arrays, and to keep the format's own
layer-level metadata (precomputed `info`, OME `zarr.json`) in step with the properties JSON.
A format is one package under `storage/` plus one registry line; see docs/storage-formats.md.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import attrs

from .._atomic import TEMP_PREFIX
from ..errors import InvalidArgumentError, OutOfBoundsError, UnsupportedFormatError
from ..geometry import BoundingBox, Mag, Vec3Int
from .backend import ArrayBackend

if TYPE_CHECKING:
    from ..dataset.layer import Layer
    from ..dataset.view import View
    from ..properties import DatasetProperties, MagViewProperties

T = TypeVar("T")


class PropertiesSource(Protocol):
    """Where a dataset's metadata lives: `PropertiesFile`, or a bare volume's in-memory copy."""

    path: Any

    def load(self) -> DatasetProperties: ...

    def save(self, props: DatasetProperties) -> None: ...

    def update(self, mutate: Callable[[DatasetProperties], T]) -> tuple[DatasetProperties, T]: ...

    def is_stale(self) -> bool: ...

    @property
    def lock(self) -> Any: ...


@attrs.frozen
class BareVolume:
    """A volume without `datasource-properties.json` (a precomputed `info`, an OME-Zarr image)
    opened as a one-layer dataset: its derived properties and the format's handle on its root."""

    properties: PropertiesSource
    root: Any
    location: str
    path: Path
    #: Whether the volume can only be read, whatever the caller asked for.
    read_only: bool = False


@attrs.frozen
class MagSettings:
    """What `Layer.add_mag` was asked for; `None` means the format's default.

    `options` holds the format's own keywords (precomputed: `encoding`, `sharded`,
    `jpeg_quality`); each format refuses the ones it does not know.
    """

    chunk_shape: Vec3Int | None
    shard_shape: Vec3Int | None
    #: None only while `settings_like` works out a copy's settings: "as the source".
    compress: bool | None
    options: Mapping[str, Any] = attrs.field(factory=dict)


class StorageFormat:
    """One on-disk format, seen from the object model. Subclasses override what differs.

    Every hook gets the `Layer` it acts for; the layer offers its properties (`_properties`,
    `_update(mutate)` under the properties lock), its folder, dtype, channels and dataset.
    """

    #: The spelling in `datasource-properties.json` (`dataFormat`).
    name: ClassVar[str]
    #: Other spellings users pass (e.g. tensorstore's driver names).
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Whether volumes of this format open from URLs (`https://`, `gs://`), read-only.
    remote: ClassVar[bool] = False
    #: Why the format cannot live on object storage (`s3://`), or None if it can.
    local_only: ClassVar[str | None] = None
    #: Whether layer boxes may start below zero.
    negative_offsets: ClassVar[bool] = False
    #: Whether the format stores extents that must cover a box before data is written there
    #: (`before_growth` runs, and the box is saved, before the voxels are written).
    stores_extents: ClassVar[bool] = False
    #: Whether `serve` hands the stored chunks out as they are (they are precomputed already).
    served_as_is: ClassVar[bool] = False
    #: Whether `compress_in_place` is supported (mags rewritten compressed in place).
    compresses_in_place: ClassVar[bool] = False

    # -- creating, opening and removing mags ----------------------------------------------------
    def add_mag(self, layer: Layer, mag: Mag, settings: MagSettings) -> None:
        """Create the mag's storage and its properties entry (an orphan left by a killed
        `add_mag` may be replaced). Raise `MagExistsError` if the properties list it already."""
        raise NotImplementedError

    def open_mag(self, layer: Layer, mag: Mag, path: Path, *, read_only: bool) -> ArrayBackend:
        """The array of one mag stored at `path` (`read_only`: the dataset or the folder is
        not ours to change)."""
        raise NotImplementedError

    def remove_mag(self, layer: Layer, path: Path, *, listed: bool) -> None:
        """Update the layer-level metadata for a mag about to be deleted (its folder is removed
        by the caller). `listed` is False for storage an interrupted `add_mag` left unlisted."""

    def existing_mags(self, folder: Path) -> dict[Mag, ArrayBackend]:
        """The mag arrays already in a layer folder (`Dataset.add_layer_for_existing_files`)."""
        return {}

    def mag_entry(self, layer_name: str, mag: Mag, array: ArrayBackend) -> MagViewProperties:
        """The properties entry of a mag found by `existing_mags`."""
        raise UnsupportedFormatError(f"{self.name} cannot register existing mags.")

    def adopt_array(self, layer: Layer, mag: Mag, source: Path, *, move: bool) -> Vec3Int:
        """Bring the array folder `source` of this format into `layer` as `mag` (copied, or
        moved with `move`), list it, and return its extent in mag voxels (x, y, z)."""
        raise UnsupportedFormatError(
            f"{self.name} layers cannot take in an existing array folder; open it and use "
            "add_mag_as_copy instead."
        )

    # -- the layer box ---------------------------------------------------------------------------
    def check_box(self, box: BoundingBox) -> None:
        """Refuse a layer box the format cannot store (e.g. negative coordinates)."""
        if not self.negative_offsets and not box.is_empty() and min(box.topleft) < 0:
            raise OutOfBoundsError(f"{self.name} layers cannot have negative coordinates: {box}.")

    def before_growth(self, layer: Layer, box: BoundingBox) -> None:
        """Check (before anything is saved) that the layer box can grow to `box`."""

    def after_growth(self, layer: Layer) -> None:
        """Bring the format's stored extents in line with the (grown) layer box."""

    def layer_created(self, layer: Layer) -> None:
        """Write the layer-level metadata of a new layer (e.g. an OME group)."""

    # -- copying and compressing -----------------------------------------------------------------
    def settings_like(self, layer: Layer, source: View, requested: MagSettings) -> MagSettings:
        """The settings of a new mag that stores like `source` where nothing else is requested:
        its chunk and shard shapes and its compression, from any format (a conversion keeps
        what was chosen), made storable by `fit_shapes`."""
        info = source.info
        chunk = requested.chunk_shape if requested.chunk_shape is not None else info.chunk_shape
        shard = requested.shard_shape if requested.shard_shape is not None else info.shard_shape
        chunk, shard = self.fit_shapes(chunk, shard)
        return MagSettings(
            chunk_shape=chunk,
            shard_shape=shard,
            compress=info.compressed if requested.compress is None else requested.compress,
            options=requested.options,
        )

    def fit_shapes(self, chunk: Vec3Int, shard: Vec3Int) -> tuple[Vec3Int, Vec3Int]:
        """The nearest chunk and shard shapes this format can store: by default the shard is
        rounded up to a whole number of chunks (formats with stricter grids override this)."""
        return chunk, chunk * shard.ceildiv(chunk).pairmax(1)

    def compress_in_place(self, array: ArrayBackend, executor: Executor | None, desc: str) -> None:
        """Rewrite a mag compressed, in place, keeping concurrent writes."""
        raise UnsupportedFormatError(f"compress() does not support {self.name} mags.")

    def create_like(self, array: ArrayBackend, path: Path, *, compressed: bool) -> ArrayBackend:
        """A new empty array at `path` with `array`'s dtype, channels, chunk and shard shapes."""
        raise UnsupportedFormatError(f"compress() does not support {self.name} mags.")

    def compress_to(
        self, array: ArrayBackend, target: Path, executor: Executor | None, desc: str
    ) -> None:
        """Write a compressed copy of a mag to `target`, leaving the mag as it is: built in a
        scratch folder beside `target` (`write_compressed_copy`), then renamed into place."""
        scratch = target.parent / f"{TEMP_PREFIX}{target.name}-compress-{uuid.uuid4().hex}"
        try:
            self.write_compressed_copy(array, scratch, executor, desc)
            os.replace(scratch, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def write_compressed_copy(
        self, array: ArrayBackend, path: Path, executor: Executor | None, desc: str
    ) -> None:
        """Copy every stored shard of `array` into a new compressed array at `path`."""
        copy = self.create_like(array, path, compressed=True)
        try:
            self.copy_written(array, copy, executor, desc)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise

    # -- volumes without properties --------------------------------------------------------------
    def open_bare(self, location: str, *, read_only: bool) -> BareVolume | None:
        """Open `location` as a bare volume of this format, or None if it is not one."""
        return None

    # -- helpers for subclasses ------------------------------------------------------------------
    @staticmethod
    def mag_folders(folder: Path, marker: str) -> dict[Mag, Path]:
        """Mag folders (`1`, `2-2-1`, `2`) of a layer folder that hold the file `marker`; the
        first spelling of each mag wins, hidden folders are skipped."""
        found: dict[Mag, Path] = {}
        for child in sorted(folder.iterdir()) if folder.is_dir() else []:
            if child.name.startswith(".") or not (child / marker).is_file():
                continue
            try:
                mag = Mag(child.name)
            except ValueError:
                continue
            found.setdefault(mag, child)
        return found

    @staticmethod
    def copy_written(
        source: ArrayBackend, target: ArrayBackend, executor: Executor | None, desc: str
    ) -> None:
        """Copy every stored shard of `source` into `target` (same grid), shard-parallel."""
        from ..parallel import run_tasks

        run_tasks(
            _copy_box,
            [(source, target, box) for box in source.list_written_boxes()],
            executor,
            desc=desc,
        )

    @staticmethod
    def refuse_options(name: str, settings: MagSettings) -> None:
        """Refuse format keywords a format does not take."""
        if settings.options:
            raise InvalidArgumentError(
                f"{', '.join(sorted(settings.options))} do not apply to {name} layers."
            )


def check_location(storage_format: StorageFormat, location: object) -> None:
    """Refuse a local-only format (WKW) in a dataset on object storage, saying why."""
    from .s3.path import is_s3_path

    if storage_format.local_only is not None and is_s3_path(location):
        raise UnsupportedFormatError(
            f"{storage_format.name} layers cannot be stored at {location}: "
            f"{storage_format.local_only} Use data_format='zarr3' or "
            "'neuroglancerPrecomputed' on object storage."
        )


def _copy_box(task: tuple[ArrayBackend, ArrayBackend, BoundingBox]) -> None:
    """Copy one stored shard (mag coordinates) between arrays; module-level so it pickles."""
    source, target, box = task
    target.write(box.topleft, source.read(box))
