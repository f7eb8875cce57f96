"""`Layer` and `SegmentationLayer`: one named channel set of a dataset with its mags."""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import (
    InvalidArgumentError,
    InvalidNameError,
    LayerExistsError,
    MagExistsError,
    MagNotFoundError,
    NotASegmentationLayerError,
    ReadOnlyError,
    StorageError,
    UnsupportedFormatError,
)
from ..geometry import BoundingBox, Mag, MagLike, Vec3Int, Vec3IntLike
from ..ops.interpolation import parse_interpolation_mode
from ..ops.pyramid import downsample_chain, downsample_into, upsample_into
from ..ops.sampling import (
    check_sampling_scheme,
    default_coarsest_mag,
    downsampling_factor,
    mags_to_downsample,
    parse_sampling_mode,
)
from ..properties import (
    DatasetProperties,
    LayerProperties,
    LayerViewConfiguration,
    MagViewProperties,
    SegmentationLayerProperties,
    dtype_per_channel,
)
from ..properties.coordinate_transformations import (
    CoordinateTransformation,
    coordinate_transformation_from_json,
)
from ..storage import ArrayBackend
from ..storage.format import MagSettings, StorageFormat, check_location
from ..storage.formats import as_data_format, get_format
from ..storage.s3.path import is_s3_path, remove_tree
from ._aliases import LayerAliases
from ._compat import mag_from_path, shape_args
from ._incomplete import abandoned_mags, building, marker
from ._naming import validate_layer_name
from ._rename import apply_rename, write_journal
from .attachments import Attachments
from .mag_view import MagView
from .view import View

if TYPE_CHECKING:
    from PIL import Image

    from .dataset import Dataset


def bbox_from_properties(props: LayerProperties) -> BoundingBox:
    """The layer's bounding box as a geometry value."""
    box = props.bounding_box
    return BoundingBox(box.top_left, (box.width, box.height, box.depth))


def set_bbox_properties(props: LayerProperties, box: BoundingBox) -> None:
    """Store `box` in the layer properties, keeping unknown keys of `boundingBox`."""
    props.bounding_box.top_left = box.topleft.to_list()
    props.bounding_box.width, props.bounding_box.height, props.bounding_box.depth = box.size


class Layer(LayerAliases):
    """A color layer; get one from `Dataset.add_layer` / `Dataset.get_layer`.

    Every metadata change is written through to `datasource-properties.json` at once and merged
    with what other processes saved meanwhile.
    """

    def __init__(self, dataset: Dataset, name: str) -> None:
        self._dataset = dataset
        self._name = name
        self._mag_views: dict[Mag, MagView] = {}
        # chunk/shard shapes given to `add_layer`, the defaults of this handle's `add_mag`.
        self._default_shapes: tuple[Vec3Int | None, Vec3Int | None] = (None, None)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_get_layer, (self._dataset, self._name))

    # -- properties -----------------------------------------------------------------------------
    @property
    def _properties(self) -> LayerProperties:
        return self._dataset._layer_properties(self._name)

    def _update(self, mutate: Any) -> Any:
        """Apply `mutate(layer_properties)` to the freshest properties under the lock, and save."""
        name = self._name

        def apply(props: DatasetProperties) -> Any:
            return mutate(self._dataset._find_layer(props, name))

        return self._dataset._update(apply)

    @property
    def dataset(self) -> Dataset:
        """The dataset holding this layer."""
        return self._dataset

    @property
    def name(self) -> str:
        """The layer's name (= its folder name); assigning renames the folder."""
        return self._name

    @name.setter
    def name(self, new_name: str) -> None:
        self._check_writable()
        validate_layer_name(new_name)
        if new_name == self._name:
            return
        if is_s3_path(self.path):
            raise UnsupportedFormatError(
                f"Cannot rename layer {self._name!r} at {self._dataset.location}: object storage "
                "has no rename (copy the layer under the new name, then delete it)."
            )
        old_name, old_path = self._name, self.path
        new_path = self._dataset.path / new_name
        dataset_path = self._dataset.path

        def rename(props: DatasetProperties) -> None:
            if not apply_rename(props, old_name, new_name, dataset_path):
                self._dataset._find_layer(props, old_name)  # raises LayerNotFoundError
                raise LayerExistsError(
                    f"Cannot rename layer {old_name!r}: {new_name!r} already exists."
                )

        # Journal, folder, properties, under the properties lock: a crash anywhere in between
        # is rolled forward by the next opener (`_rename.finish_interrupted_renames`).
        with self._dataset._properties_file.lock:
            self._dataset._refresh()
            if new_name in self._dataset.layers:
                raise LayerExistsError(
                    f"Cannot rename layer {old_name!r}: {new_name!r} already exists."
                )
            if new_path.exists():
                raise LayerExistsError(
                    f"Cannot rename layer {old_name!r}: {new_path} already exists."
                )
            for view in self._mag_views.values():
                if view._array is not None:
                    view._array.close()
            journal = write_journal(dataset_path, old_name, new_name)
            try:
                if old_path.exists():
                    os.rename(old_path, new_path)
                try:
                    self._dataset._update(rename)
                except BaseException:
                    if new_path.exists():
                        os.rename(new_path, old_path)
                    raise
            finally:
                journal.unlink(missing_ok=True)
        self._name = new_name
        # MagViews handed out before stay valid: they follow the folder to its new name.
        for mag, view in list(self._mag_views.items()):
            view._array = None
            try:
                view._path = self._mag_path(self._mag_entry(mag))
            except MagNotFoundError:
                del self._mag_views[mag]
        self._dataset._renamed_layer(old_name, self)

    @property
    def path(self) -> Path:
        """The layer folder."""
        return self._dataset.path / self._name

    @property
    def category(self) -> str:
        """`color` or `segmentation`."""
        return self._properties.category

    @property
    def data_format(self) -> str:
        """The storage format of the layer's mags, as the properties spell it (`wkw`, `zarr3`,
        `neuroglancerPrecomputed`), a `DataFormat` member for the built-in ones."""
        return as_data_format(self._properties.data_format)

    @property
    def _format(self) -> StorageFormat:
        """The format that stores this layer's mags (`storage.formats`)."""
        try:
            storage_format = get_format(self.data_format)
        except UnsupportedFormatError as exc:
            raise UnsupportedFormatError(
                f"Layer {self._name!r} has data format {self.data_format!r}, which this version "
                f"cannot read: {exc}"
            ) from None
        check_location(storage_format, self._dataset.path)
        return storage_format

    @property
    def num_channels(self) -> int:
        """Channels per voxel."""
        return self._properties.num_channels

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of one channel."""
        props = self._properties
        return dtype_per_channel(props.element_class, props.num_channels)

    @property
    def read_only(self) -> bool:
        """Whether this layer refuses changes: a read-only dataset, or a layer whose folder is
        not a valid name inside the dataset (e.g. a symlink to another dataset)."""
        return self._dataset.read_only or not self._owns_folder()

    def _owns_folder(self) -> bool:
        """Whether the layer's folder is a valid name that resolves inside the dataset folder."""
        try:
            validate_layer_name(self._name)
        except InvalidNameError:
            return False
        return self._dataset._bare is not None or not self._is_foreign(self.path)

    @property
    def bounding_box(self) -> BoundingBox:
        """The region holding data, in mag-1 voxels; grows when writes go beyond it."""
        return bbox_from_properties(self._properties)

    @bounding_box.setter
    def bounding_box(self, box: BoundingBox) -> None:
        self._check_writable()
        if not isinstance(box, BoundingBox):
            raise InvalidArgumentError(f"bounding_box must be a BoundingBox, got {box!r}.")
        self._check_bbox_storable(box)
        self._format.before_growth(self, box)

        def assign(props: LayerProperties) -> None:
            set_bbox_properties(props, box)

        self._update(assign)
        self._resized()

    @property
    def default_view_configuration(self) -> LayerViewConfiguration | None:
        """How webknossos first shows the layer; assigning saves it (None removes it)."""
        data = self._properties.default_view_configuration
        return None if data is None else LayerViewConfiguration.from_json(data)

    @default_view_configuration.setter
    def default_view_configuration(self, value: LayerViewConfiguration | None) -> None:
        self._check_writable()
        if value is not None and not isinstance(value, LayerViewConfiguration):
            raise InvalidArgumentError(
                f"default_view_configuration must be a LayerViewConfiguration, got {value!r}."
            )
        data = None if value is None else value.to_json()

        def assign(props: LayerProperties) -> None:
            props.default_view_configuration = data

        self._update(assign)

    @property
    def coordinate_transformations(self) -> tuple[CoordinateTransformation, ...]:
        """How the layer is placed into the dataset's space (applied in order; empty: as is)."""
        entries = self._properties.coordinate_transformations or []
        return tuple(
            coordinate_transformation_from_json(
                entry, f"layer {self._name!r} coordinateTransformations[{index}]"
            )
            for index, entry in enumerate(entries)
        )

    @coordinate_transformations.setter
    def coordinate_transformations(self, value: Sequence[CoordinateTransformation] | None) -> None:
        self._check_writable()
        items = list(value or ())
        for item in items:
            if not isinstance(item, CoordinateTransformation):
                raise InvalidArgumentError(
                    "coordinate_transformations must hold AffineCoordinateTransformation or "
                    f"ThinPlateSplineCoordinateTransformation values, got {item!r}."
                )
        data = [item.to_json() for item in items] or None

        def assign(props: LayerProperties) -> None:
            props.coordinate_transformations = data

        self._update(assign)

    def _check_bbox_storable(self, box: BoundingBox) -> None:
        self._format.check_box(box)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._name!r}, dtype={self.dtype}, "
            f"num_channels={self.num_channels}, bounding_box={self.bounding_box}, "
            f"mags=[{', '.join(m.to_layer_name() for m in self.mags)}])"
        )

    def _repr_html_(self) -> str:
        """A table of the layer for Jupyter (`webknossos_like.notebook.layer_html`)."""
        from ..notebook.html import layer_html

        return layer_html(self)

    def thumbnail(
        self,
        axis: str = "z",
        index: int | None = None,
        *,
        mag: MagLike | None = None,
        **options: Any,
    ) -> Image.Image:
        """One slice of a mag (default: the finest) as a PIL image, e.g.
        `color.thumbnail(overlay=segmentation, alpha=0.4)`; see `webknossos_like.notebook`."""
        from ..notebook.thumbnail import thumbnail

        view = self.get_finest_mag() if mag is None else self.get_mag(mag)
        return thumbnail(view, axis, index, **options)

    def to_png(
        self,
        path: str | os.PathLike[str],
        axis: str = "z",
        index: int | None = None,
        *,
        mag: MagLike | None = None,
        **options: Any,
    ) -> None:
        """Write `thumbnail(axis, index, mag=mag, **options)` to `path` as a PNG file."""
        self.thumbnail(axis, index, mag=mag, **options).save(os.fspath(path), format="PNG")

    def as_segmentation_layer(self) -> SegmentationLayer:
        """This layer typed as a `SegmentationLayer`; `NotASegmentationLayerError` (a TypeError) for color."""
        if not isinstance(self, SegmentationLayer):
            raise NotASegmentationLayerError(
                f"Layer {self._name!r} is a {self.category} layer, not segmentation."
            )
        return self

    # -- bookkeeping after writes ---------------------------------------------------------------
    def _after_write(
        self, box: BoundingBox, array: np.ndarray, mag: Mag, was_empty: bool = False
    ) -> None:
        """Save the metadata a write (to `box`, mag-1, in `mag`) changed, in one merged update.

        `was_empty`: the layer's bounding box was empty before this write.
        """
        changes = self._metadata_changes(box, array, mag, was_empty)
        if changes:

            def apply_all(props: LayerProperties) -> None:
                for change in changes:
                    change(props)

            self._update(apply_all)
            self._resized()

    def _metadata_changes(
        self, box: BoundingBox, array: np.ndarray, mag: Mag, was_empty: bool = False
    ) -> list[Any]:
        """Property mutations a write of `array` to `box` requires: growing the bounding box.

        A write in a coarser mag that stays inside the layer box rounded out to that mag (as
        pyramid building does) does not grow it.
        """
        self._dataset._refresh()
        if self.bounding_box.align_with_mag(mag, ceil=True).contains_bbox(box):
            return []
        self._check_bbox_storable(box)

        def grow(props: LayerProperties) -> None:
            set_bbox_properties(props, bbox_from_properties(props).extended_by(box))

        return [grow]

    def _check_writable(self) -> None:
        """Refuse changes through read-only datasets and layers whose folder lies elsewhere."""
        self._dataset._check_writable()
        validate_layer_name(self._name)
        if not self._owns_folder():
            raise ReadOnlyError(
                f"Layer {self._name!r} lives outside the dataset folder ({self.path.resolve()}); "
                "it can be read but not changed through this dataset."
            )

    # -- mags -----------------------------------------------------------------------------------
    def _mag_path(self, entry: MagViewProperties) -> Path:
        mag = Mag(entry.mag)
        if entry.path is not None:
            return (
                (self._dataset.path / entry.path).resolve()
                if not os.path.isabs(entry.path)
                else Path(entry.path)
            )
        for name in (mag.to_layer_name(), mag.to_long_layer_name()):
            if (self.path / name).exists():
                return self.path / name
        return self.path / mag.to_layer_name()

    def _mag_entry(self, mag: Mag) -> MagViewProperties:
        for entry in self._properties.mags:
            if Mag(entry.mag) == mag:
                return entry
        raise MagNotFoundError(f"Layer {self._name!r} has no mag {mag.to_layer_name()}.")

    def _open_backend(self, mag: Mag, path: Path) -> ArrayBackend:
        read_only = self.read_only or self._is_foreign(path)
        return self._format.open_mag(self, mag, path, read_only=read_only)

    def _add_mag_entry(self, entry: MagViewProperties) -> None:
        """List a new mag in the properties (formats call this once its storage exists)."""
        key = Mag(entry.mag)

        def add(props: LayerProperties) -> None:
            if any(Mag(existing.mag) == key for existing in props.mags):
                raise MagExistsError(f"Layer {self._name!r} already has mag {key.to_layer_name()}.")
            props.mags.append(entry)
            props.mags.sort(key=lambda e: Mag(e.mag))

        self._update(add)

    def _resized(self) -> None:
        """After the bounding box grew: formats that store extents grow them; reopen the arrays."""
        storage_format = self._format
        if not storage_format.stores_extents:
            return
        storage_format.after_growth(self)
        for mag, view in self._mag_views.items():
            view._array = None
            with contextlib.suppress(MagNotFoundError):  # removed meanwhile
                view._path = self._mag_path(self._mag_entry(mag))

    def _before_write(self, box: BoundingBox, mag: Mag) -> None:
        """Formats that store extents (precomputed) must cover `box` before the data is written."""
        if self._format.stores_extents and not self.bounding_box.align_with_mag(
            mag, ceil=True
        ).contains_bbox(box):
            self._format.before_growth(self, self.bounding_box.extended_by(box))

            def grow(props: LayerProperties) -> None:
                set_bbox_properties(props, bbox_from_properties(props).extended_by(box))

            self._update(grow)
            self._resized()

    def _is_foreign(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self._dataset.path.resolve())
        except ValueError:
            return True
        return False

    @property
    def mags(self) -> Mapping[Mag, MagView]:
        """This layer's mags, finest first."""
        entries = {Mag(entry.mag): entry for entry in self._properties.mags}
        for mag in list(self._mag_views):
            if mag not in entries:
                del self._mag_views[mag]
        for mag, entry in entries.items():
            if mag not in self._mag_views:
                path = self._mag_path(entry)
                read_only = self.read_only or self._is_foreign(path)
                self._mag_views[mag] = MagView(self, mag, path, read_only=read_only)
        return MappingProxyType({mag: self._mag_views[mag] for mag in sorted(entries)})

    def get_mag(self, mag: MagLike) -> MagView:
        """The view of one mag; `MagNotFoundError` (a KeyError) if the layer lacks it."""
        key = Mag(mag)
        views = self.mags
        if key not in views:
            have = ", ".join(m.to_layer_name() for m in views) or "none"
            raise MagNotFoundError(
                f"Layer {self._name!r} has no mag {key.to_layer_name()} (has: {have})."
            )
        return views[key]

    def get_finest_mag(self) -> MagView:
        """The mag with the smallest voxels."""
        views = self.mags
        if not views:
            raise MagNotFoundError(f"Layer {self._name!r} has no mags yet.")
        return views[min(views)]

    def add_mag(
        self,
        mag: MagLike,
        chunk_shape: Vec3IntLike | None = None,
        shard_shape: Vec3IntLike | None = None,
        compress: bool = True,
        chunks_per_shard: Vec3IntLike | None = None,
        **format_options: Any,
    ) -> MagView:
        """Create a new mag (storage, properties entry) and return its view.

        Defaults depend on the format (docs/storage-formats.md). WKW: chunk 32, shard 128,
        `compress` means LZ4HC. Zarr v3: chunk 32, shard 128, zstd. Precomputed: chunk 64, a
        new scale in the layer's `info`; `compress` picks compressed_segmentation for
        uint32/uint64 segmentation (and gzip inside shards); its `format_options` are
        `encoding=` (raw, compressed_segmentation, jpeg, png), `sharded=` and `jpeg_quality=`.
        `chunks_per_shard` is deprecated (webknossos): shard = chunk * chunks_per_shard.
        Shapes not given fall back to those passed to `add_layer` for this layer.
        """
        self._check_writable()
        chunk_shape, shard_shape = shape_args(chunk_shape, shard_shape, chunks_per_shard)
        if chunk_shape is None:
            chunk_shape = self._default_shapes[0]
        if shard_shape is None:
            shard_shape = self._default_shapes[1]
        key = Mag(mag)
        if key in self.mags:
            raise MagExistsError(f"Layer {self._name!r} already has mag {key.to_layer_name()}.")
        storage_format = self._format
        path = self.path / key.to_layer_name()
        if path.exists():
            raise MagExistsError(
                f"Cannot add mag {key.to_layer_name()} to {self._name!r}: {path} exists but is not "
                "listed in the properties. Delete it or use Dataset.add_layer_for_existing_files."
            )
        settings = MagSettings(
            chunk_shape=_positive_shape("chunk_shape", chunk_shape),
            shard_shape=_positive_shape("shard_shape", shard_shape),
            compress=bool(compress),
            # Options left at their "off" value are the same as not passing them.
            options={k: v for k, v in format_options.items() if v is not None and v is not False},
        )
        storage_format.add_mag(self, key, settings)
        return self.get_mag(key)

    def get_or_add_mag(
        self,
        mag: MagLike,
        chunk_shape: Vec3IntLike | None = None,
        shard_shape: Vec3IntLike | None = None,
        compress: bool | None = None,
        chunks_per_shard: Vec3IntLike | None = None,
    ) -> MagView:
        """The existing mag (checked against the given parameters) or a new one."""
        chunk_shape, shard_shape = shape_args(chunk_shape, shard_shape, chunks_per_shard)
        key = Mag(mag)
        if key not in self.mags:
            return self.add_mag(
                key,
                chunk_shape=chunk_shape,
                shard_shape=shard_shape,
                compress=True if compress is None else compress,
            )
        view = self.get_mag(key)
        info = view.info
        for label, wanted, actual in (
            (
                "chunk_shape",
                None if chunk_shape is None else Vec3Int(chunk_shape),
                info.chunk_shape,
            ),
            (
                "shard_shape",
                None if shard_shape is None else Vec3Int(shard_shape),
                info.shard_shape,
            ),
            ("compress", compress, info.compressed),
        ):
            if wanted is not None and wanted != actual:
                raise InvalidArgumentError(
                    f"Mag {key.to_layer_name()} of {self._name!r} exists with {label}={actual}, "
                    f"not {wanted}."
                )
        return view

    def delete_mag(self, mag: MagLike) -> None:
        """Remove a mag from the properties, then delete its folder (foreign mags are kept)."""
        self._check_writable()
        view = self.get_mag(mag)
        key = view.mag

        def remove(props: LayerProperties) -> None:
            props.mags = [entry for entry in props.mags if Mag(entry.mag) != key]

        self._update(remove)
        self._mag_views.pop(key, None)
        if view._array is not None:
            view._array.close()
        self._format.remove_mag(self, view.path, listed=True)
        if not self._is_foreign(view.path):
            if remove_tree(view.path):
                pass
            elif view.path.is_symlink():
                view.path.unlink()
            else:
                shutil.rmtree(view.path, ignore_errors=True)

    def add_mag_as_copy(
        self,
        foreign_mag_view_or_path: MagView | str | os.PathLike[str],
        *,
        mag: MagLike | None = None,
        extend_layer_bounding_box: bool = True,
        chunk_shape: Vec3IntLike | None = None,
        shard_shape: Vec3IntLike | None = None,
        chunks_per_shard: Vec3IntLike | None = None,
        compress: bool | None = None,
        executor: Executor | None = None,
        **format_options: Any,
    ) -> MagView:
        """Copy the voxels of another mag (a view, or the path of a mag folder) into a new mag.

        With `extend_layer_bounding_box=False` only the part inside this layer's box is copied
        and the box stays as it is; otherwise the box grows to cover the source. Compression,
        chunk and shard shapes follow the source unless given (or the format needs others);
        `format_options` are the format's own `add_mag` keywords (precomputed: `encoding`...).
        """
        from ..ops.copy import copy_view_into

        chunk_shape, shard_shape = shape_args(chunk_shape, shard_shape, chunks_per_shard)
        source: View = (
            mag_from_path(foreign_mag_view_or_path)
            if isinstance(foreign_mag_view_or_path, (str, os.PathLike))
            else foreign_mag_view_or_path
        )
        key = source.mag if mag is None else Mag(mag)
        if not extend_layer_bounding_box:
            inside = source.bounding_box.intersected_with(
                self.bounding_box.align_with_mag(source.mag, ceil=True)
            )
            source = source.get_view(absolute_bounding_box=inside, read_only=True)
        with building(self.path, [key]):
            target = self.add_mag(
                key,
                **self._settings_like(source, chunk_shape, shard_shape, compress, format_options),
            )
            try:
                if not source.bounding_box.is_empty():
                    copy_view_into(source, target, executor=executor)
            except BaseException:
                self.delete_mag(key)
                raise
        return target

    def add_mag_from_zarrarray(
        self,
        mag: MagLike,
        path: str | os.PathLike[str],
        *,
        move: bool = False,
        extend_layer_bounding_box: bool = True,
    ) -> MagView:
        """Take the Zarr v3 array folder `path` in as `mag` of this (Zarr v3) layer: copied file
        by file, or moved with `move=True`, as webknossos does. The array must be stored as
        `c, x, y, z` with this layer's dtype and channels; the layer box grows to its extent
        unless `extend_layer_bounding_box=False`. Other arrays: `add_mag_as_copy`."""
        self._check_writable()
        key = Mag(mag)
        if any(Mag(entry.mag) == key for entry in self._properties.mags):
            raise MagExistsError(f"Layer {self._name!r} already has mag {key.to_layer_name()}.")
        source = Path(path)
        if not source.is_dir():
            raise InvalidArgumentError(f"{source} is not a Zarr array folder.")
        extent = self._format.adopt_array(self, key, source, move=move)
        if extend_layer_bounding_box and extent.is_positive(strictly_positive=True):
            reach = extent * key.as_vec3_int

            def grow(props: LayerProperties) -> None:  # the box as stored now, not as read
                box = bbox_from_properties(props)
                set_bbox_properties(props, BoundingBox(box.topleft, box.size.pairmax(reach)))

            self._update(grow)
        return self.get_mag(key)

    def add_mag_as_ref(
        self,
        foreign_mag_view_or_path: MagView | str | os.PathLike[str],
        *,
        mag: MagLike | None = None,
        extend_layer_bounding_box: bool = True,
        make_relative: bool = False,
    ) -> MagView:
        """List another dataset's mag (a view or a mag folder) as a read-only mag of this layer.

        No files are copied: the properties entry points at the foreign folder (absolute path,
        or relative to this dataset with `make_relative`). Format, dtype and channels must match.
        """
        self._check_writable()
        source = (
            mag_from_path(foreign_mag_view_or_path)
            if isinstance(foreign_mag_view_or_path, (str, os.PathLike))
            else foreign_mag_view_or_path
        )
        key = source.mag if mag is None else Mag(mag)
        foreign = source.layer
        if foreign.dataset.path.resolve() == self._dataset.path.resolve():
            raise InvalidArgumentError(
                f"Cannot reference mag {source.name} of the same dataset; use add_mag_as_copy."
            )
        mine = (self.data_format, self.dtype, self.num_channels)
        theirs = (foreign.data_format, source.dtype, source.num_channels)
        if mine != theirs:
            raise InvalidArgumentError(
                f"Cannot reference a {theirs} mag from a {mine} layer "
                "(data format, dtype and channels must match)."
            )
        storage_format = self._format
        if storage_format.stores_extents:
            raise UnsupportedFormatError(
                f"{storage_format.name} layers keep their scales in one file; mags cannot be "
                "referenced, copy them instead."
            )
        target = source.path.resolve()
        entry = storage_format.mag_entry(self._name, key, source._backend)
        entry.path = (
            os.path.relpath(target, self._dataset.path.resolve()) if make_relative else str(target)
        )
        entry.mag = key.as_vec3_int.to_list()
        self._add_mag_entry(entry)
        if extend_layer_bounding_box:
            grown = self.bounding_box.extended_by(source.layer.bounding_box)
            if grown != self.bounding_box:

                def grow(props: LayerProperties) -> None:
                    set_bbox_properties(props, bbox_from_properties(props).extended_by(grown))

                self._update(grow)
        return self.get_mag(key)

    def _settings_like(
        self,
        source: View,
        chunk_shape: Vec3IntLike | None,
        shard_shape: Vec3IntLike | None,
        compress: bool | None,
        format_options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`add_mag` arguments that store like `source` where nothing else is requested (the
        format's `settings_like` decides what it can keep)."""
        requested = MagSettings(
            chunk_shape=_positive_shape("chunk_shape", chunk_shape),
            shard_shape=_positive_shape("shard_shape", shard_shape),
            compress=compress,
            options={k: v for k, v in (format_options or {}).items() if v is not None},
        )
        settings = self._format.settings_like(self, source, requested)
        return {
            "chunk_shape": settings.chunk_shape,
            "shard_shape": settings.shard_shape,
            "compress": source.info.compressed if settings.compress is None else settings.compress,
            **settings.options,
        }

    # -- pyramids -------------------------------------------------------------------------------
    def downsample_mag(
        self,
        from_mag: MagLike,
        target_mag: MagLike,
        interpolation_mode: str = "default",
        compress: bool | None = None,
        executor: Executor | None = None,
        allow_overwrite: bool = False,
        from_mag_view: MagView | None = None,
        *,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        buffer_shape: Vec3IntLike | int | None = None,
        only_setup_mag: bool = False,
    ) -> MagView:
        """Compute `target_mag` from `from_mag` (or the view `from_mag_view`); a mag this
        creates is removed again on failure.

        `only_setup_mag=True` creates the (empty) mag without computing it, for a later
        `downsample_mag(..., allow_overwrite=True)`. `buffer_shape` is accepted for webknossos
        scripts; memory is bounded by the slab-wise computation either way.
        """
        self._check_writable()
        del buffer_shape
        source = from_mag_view if from_mag_view is not None else self.get_mag(from_mag)
        target_key = Mag(target_mag)
        downsampling_factor(source.mag, target_key)
        if target_key == source.mag:
            raise InvalidArgumentError(
                f"Cannot downsample mag {target_key.to_layer_name()} into itself."
            )
        mode = parse_interpolation_mode(interpolation_mode, self.category)
        chunk, shard = shape_args(chunk_shape, shard_shape, chunks_per_shard)
        settings = self._settings_like(source, chunk, shard, compress)
        if only_setup_mag:
            if target_key in self.mags:
                raise MagExistsError(f"Layer {self._name!r} already has mag {target_key}.")
            return self.add_mag(target_key, **settings)
        return self._build_mag(
            source,
            target_key,
            settings,
            allow_overwrite,
            lambda t: downsample_into(source, t, mode, executor),
        )

    def _build_mag(
        self,
        source: MagView,
        target_key: Mag,
        settings: dict[str, Any],
        allow_overwrite: bool,
        fill: Any,
    ) -> MagView:
        """Create (or reuse, if allowed) the target mag, fill it, and roll a new mag back on error."""
        self._discard_abandoned_mags()
        if target_key in self.mags:
            if not allow_overwrite:
                raise MagExistsError(
                    f"Layer {self._name!r} already has mag {target_key.to_layer_name()}; "
                    "pass allow_overwrite=True to recompute it."
                )
            target = self.get_mag(target_key)
            with building(self.path, [target_key]):
                fill(target)
            return target
        with building(self.path, [target_key]):
            target = self.add_mag(target_key, **settings)
            try:
                fill(target)
            except BaseException:
                self.delete_mag(target_key)
                raise
        return target

    def _discard_abandoned_mags(self) -> None:
        """Delete the mags whose builder (a pyramid step or copy) died before filling them, so
        they are built again rather than trusted (`_incomplete`)."""
        if self.read_only:
            return
        for mag in abandoned_mags(self.path):
            held = marker(self.path, mag)
            try:
                held.create()
            except StorageError:  # another process is repairing it right now
                continue
            try:
                if mag in self.mags:
                    self.delete_mag(mag)
                else:  # killed inside add_mag: storage made, properties entry not yet saved
                    self._remove_unlisted_storage(mag)
            finally:
                held.remove()

    def _remove_unlisted_storage(self, mag: Mag) -> None:
        """Delete what an interrupted `add_mag` made for a mag the properties do not list."""
        folder = self.path / mag.to_layer_name()
        self._format.remove_mag(self, folder, listed=False)
        if folder.is_symlink():
            folder.unlink()
        elif folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)

    def downsample(
        self,
        from_mag: MagLike | None = None,
        coarsest_mag: MagLike | None = None,
        interpolation_mode: str = "default",
        sampling_mode: str = "anisotropic",
        compress: bool | None = None,
        executor: Executor | None = None,
        align_with_other_layers: bool | Dataset = True,
        from_mag_view: MagView | None = None,
        *,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        buffer_shape: Vec3IntLike | int | None = None,
        force_sampling_scheme: bool = False,
        allow_overwrite: bool = False,
        only_setup_mags: bool = False,
    ) -> list[MagView]:
        """Build the pyramid from `from_mag` (default: the coarsest existing mag) up to `coarsest_mag`.

        Each new mag is computed from the previous one. `coarsest_mag` defaults to the power of
        two that brings x/y to about 100 voxels (webknossos' rule). `from_mag_view` is
        webknossos' alias of `from_mag`. `align_with_other_layers` may name another dataset
        whose layers' mags the new mags should match. A layer one voxel deep is downsampled
        with `constant_z` (with a warning), and a scheme with two mags of the same largest
        factor is refused unless `force_sampling_scheme=True`, both as in webknossos.
        `only_setup_mags=True` creates the empty mags without computing them;
        `allow_overwrite=True` recomputes target mags that exist; `buffer_shape` is accepted
        for webknossos scripts (memory is bounded by the slab-wise computation either way).
        """
        del buffer_shape
        self._discard_abandoned_mags()
        if from_mag is None and from_mag_view is not None:
            from_mag = from_mag_view.mag
        source = self.get_mag(from_mag) if from_mag is not None else self.mags[max(self.mags)]
        coarsest = (
            default_coarsest_mag(self.bounding_box) if coarsest_mag is None else Mag(coarsest_mag)
        )
        align: list[Mag] = []
        if align_with_other_layers is not False and align_with_other_layers is not None:
            from .dataset import Dataset

            other = (
                align_with_other_layers
                if isinstance(align_with_other_layers, Dataset)
                else self._dataset
            )
            for layer in other.layers.values():
                if other is not self._dataset or layer.name != self._name:
                    align.extend(layer.mags)
        if self.bounding_box.size.z == 1 and parse_sampling_mode(sampling_mode) != "constant_z":
            warnings.warn(
                f"Layer {self._name!r} is one voxel deep: downsampling it with sampling_mode="
                "'constant_z' instead (other modes would halve z of 2-D data), as webknossos does.",
                UserWarning,
                stacklevel=2,
            )
            sampling_mode = "constant_z"
        targets = mags_to_downsample(
            source.mag, coarsest, sampling_mode, self._dataset.voxel_size, align
        )
        check_sampling_scheme(targets, force_sampling_scheme)
        mode = parse_interpolation_mode(interpolation_mode, self.category)
        chunk, shard = shape_args(chunk_shape, shard_shape, chunks_per_shard)
        if only_setup_mags:
            settings = self._settings_like(source, chunk, shard, compress)
            return [self.add_mag(key, **settings) for key in targets if key not in self.mags]
        if allow_overwrite:
            created = []
            for target in targets:
                created.append(
                    self.downsample_mag(
                        source.mag,
                        target,
                        interpolation_mode,
                        compress=compress,
                        executor=executor,
                        allow_overwrite=True,
                        chunk_shape=chunk,
                        shard_shape=shard,
                    )
                )
                source = created[-1]
            return created
        created = []
        index = 0
        while index < len(targets):
            if targets[index] in self.mags:  # reuse an existing mag as the next source
                source = self.get_mag(targets[index])
                index += 1
                continue
            run = []  # consecutive missing mags: built in one pass (see `downsample_chain`)
            while index < len(targets) and targets[index] not in self.mags:
                run.append(targets[index])
                index += 1
            created.extend(self._build_chain(source, run, mode, (chunk, shard, compress), executor))
            source = created[-1]
        return created

    def _build_chain(
        self,
        source: MagView,
        keys: list[Mag],
        mode: str,
        storage: tuple[Vec3Int | None, Vec3Int | None, bool | None],
        executor: Executor | None,
    ) -> list[MagView]:
        """Create the mags `keys` (each coarser than the last), fill them from `source`, and
        remove them all again if anything fails."""
        self._check_writable()
        settings = self._settings_like(source, *storage)
        made: list[MagView] = []
        with building(self.path, keys):
            try:
                for key in keys:
                    downsampling_factor(made[-1].mag if made else source.mag, key)
                    made.append(self.add_mag(key, **settings))
                downsample_chain(source, made, mode, executor)
            except BaseException:
                for mag in made:
                    self.delete_mag(mag.mag)
                raise
        return made

    def downsample_mag_list(
        self,
        from_mag: MagLike,
        target_mags: list[MagLike],
        interpolation_mode: str = "default",
        compress: bool | None = None,
        executor: Executor | None = None,
        allow_overwrite: bool = False,
    ) -> list[MagView]:
        """Compute each of `target_mags` (finer to coarser) from the previous one, starting
        at `from_mag`."""
        source = Mag(from_mag)
        created = []
        for target in sorted(Mag(m) for m in target_mags):
            created.append(
                self.downsample_mag(
                    source,
                    target,
                    interpolation_mode,
                    compress=compress,
                    executor=executor,
                    allow_overwrite=allow_overwrite,
                )
            )
            source = target
        return created

    def redownsample(
        self, interpolation_mode: str = "default", executor: Executor | None = None
    ) -> None:
        """Recompute every mag from the finest one, in order, overwriting them."""
        mags = sorted(self.mags)
        for previous, target in pairwise(mags):
            self.downsample_mag(
                previous, target, interpolation_mode, executor=executor, allow_overwrite=True
            )

    def upsample(
        self,
        from_mag: MagLike,
        finest_mag: MagLike = 1,
        compress: bool | None = None,
        sampling_mode: str = "anisotropic",
        executor: Executor | None = None,
        *,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        buffer_shape: Vec3IntLike | int | None = None,
    ) -> list[MagView]:
        """Create the missing finer mags down to `finest_mag` by repeating the voxels of `from_mag`.

        Every target shard is written whole and aligned; a mag whose computation fails is removed.
        """
        source = self.get_mag(from_mag)
        finest = Mag(finest_mag)
        downsampling_factor(finest, source.mag)
        chain = [
            finest,
            *mags_to_downsample(finest, source.mag, sampling_mode, self._dataset.voxel_size),
        ]
        targets = [m for m in chain if m < source.mag and m not in self.mags]
        del buffer_shape
        settings = self._settings_like(
            source, *shape_args(chunk_shape, shard_shape, chunks_per_shard), compress
        )
        created = []
        for target in sorted(targets, reverse=True):
            downsampling_factor(target, source.mag)
            created.append(
                self._build_mag(
                    source, target, settings, False, lambda t: upsample_into(source, t, executor)
                )
            )
        return created


class SegmentationLayer(Layer):
    """A segmentation layer: labels, plus `largest_segment_id`, kept up to date by writes."""

    @property
    def _properties(self) -> SegmentationLayerProperties:
        props = self._dataset._layer_properties(self._name)
        assert isinstance(props, SegmentationLayerProperties)  # guaranteed by the category
        return props

    @property
    def attachments(self) -> Attachments:
        """Meshes, agglomerates, connectomes, segment index/statistics and cumsum of this layer."""
        return Attachments(self)

    @property
    def largest_segment_id(self) -> int | None:
        """The largest label in the layer (None if unknown); raised automatically by writes."""
        return self._properties.largest_segment_id

    @largest_segment_id.setter
    def largest_segment_id(self, value: int | None) -> None:
        self._check_writable()
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, np.integer))
        ):
            raise InvalidArgumentError(f"largest_segment_id must be an int or None, got {value!r}.")
        new_value = None if value is None else int(value)

        def assign(props: LayerProperties) -> None:
            if isinstance(props, SegmentationLayerProperties):
                props.largest_segment_id = new_value

        self._update(assign)

    def _metadata_changes(
        self, box: BoundingBox, array: np.ndarray, mag: Mag, was_empty: bool = False
    ) -> list[Any]:
        """Also raise `largest_segment_id` when the write holds a larger label."""
        changes = super()._metadata_changes(box, array, mag, was_empty)
        current = self.largest_segment_id
        if current is None and not was_empty:
            return changes  # unknown: a partial write cannot tell the true maximum
        # A new layer starts at None (as in webknossos); its first write makes the id known.
        written_max = int(array.max())
        if current is None or written_max > current:

            def raise_id(props: LayerProperties) -> None:
                if not isinstance(props, SegmentationLayerProperties):
                    return
                if props.largest_segment_id is None:
                    props.largest_segment_id = written_max
                else:
                    props.largest_segment_id = max(props.largest_segment_id, written_max)

            changes.append(raise_id)
        return changes

    def refresh_largest_segment_id(
        self, chunk_shape: Vec3IntLike | None = None, executor: Executor | None = None
    ) -> int:
        """Scan the finest mag for the largest label and store it; returns it."""
        view = self.get_finest_mag().get_view(read_only=True)
        maxima = view.map_chunk(
            _max_label,
            chunk_shape=chunk_shape,
            executor=executor,
            progress_desc=f"Scanning {self.name} for the largest segment id",
        )
        self.largest_segment_id = max(maxima, default=0)
        return max(maxima, default=0)


def _positive_shape(name: str, shape: Vec3IntLike | None) -> Vec3Int | None:
    """A chunk or shard shape argument as a `Vec3Int` (None stays None); must be positive."""
    if shape is None:
        return None
    value = Vec3Int(shape)
    if not value.is_positive(strictly_positive=True):
        raise InvalidArgumentError(f"{name} must be positive, got {value}.")
    return value


def _max_label(view: Any) -> int:
    """Largest label in a view; module-level so it pickles to worker processes."""
    return int(view.read().max())


def _get_layer(dataset: Dataset, name: str) -> Layer:
    return dataset.get_layer(name)
