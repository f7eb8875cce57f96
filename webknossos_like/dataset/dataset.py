"""`Dataset`: a folder with `datasource-properties.json` holding named layers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from .._atomic import TEMP_PREFIX
from ..errors import (
    ConcurrentUpdateError,
    DatasetExistsError,
    DatasetNotFoundError,
    DTypeError,
    InvalidArgumentError,
    InvalidCategoryError,
    LayerExistsError,
    LayerNotFoundError,
    NotADatasetFolderError,
    NotASegmentationLayerError,
    ReadOnlyError,
    StorageError,
    UnsupportedFormatError,
)
from ..geometry import BoundingBox, Mag, Vec3Int, Vec3IntLike
from ..properties import (
    LOCK_FILE_NAME,
    PROPERTIES_FILE_NAME,
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    DatasetViewConfiguration,
    LayerProperties,
    PropertiesFile,
    SegmentationLayerProperties,
    VoxelSize,
    element_class_for,
    normalize_length_unit,
)
from ..storage import ArrayBackend, formats
from ..storage.format import BareVolume, check_location
from ..storage.s3.path import remove_tree
from ._aliases import DatasetAliases
from ._compat import dtype_arg, layer_from_path, shape_args
from ._naming import validate_layer_name
from ._rename import finish_interrupted_renames
from .attachments import carry_attachments
from .layer import Layer, SegmentationLayer

if TYPE_CHECKING:
    from ..serve import ServerHandle, ViewerLink
    from ..storage.format import PropertiesSource
    from ..storage.s3.kvstore import S3KVStore

T = TypeVar("T")

COLOR_CATEGORY = "color"
SEGMENTATION_CATEGORY = "segmentation"
#: The format of new layers unless `data_format=` says otherwise.
DEFAULT_DATA_FORMAT = formats.DEFAULT_DATA_FORMAT
_COLOR_DTYPES = tuple(
    np.dtype(t) for t in ("uint8", "uint16", "uint32", "int8", "int16", "int32", "float32")
)
#: dtype names of `elementClass` that mean something else to NumPy ("float" is float64 there).
_WK_DTYPE_NAMES = {"float": "float32", "double": "float64"}
_SEGMENTATION_DTYPES = tuple(
    np.dtype(t) for t in ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
)


class Dataset(DatasetAliases):
    """A dataset folder. `Dataset(path, voxel_size=...)` creates one, `Dataset.open(path)` opens one.

    Every metadata change (new layer or mag, a write that grows a bounding box, a rename) is saved
    to `datasource-properties.json` at once, atomically, merged with other writers' changes.
    """

    def __init__(
        self,
        dataset_path: str | os.PathLike[str],
        voxel_size: tuple[float, float, float] | None = None,
        name: str | None = None,
        exist_ok: bool = False,
        *,
        voxel_size_unit: str = "nanometer",
        voxel_size_with_unit: VoxelSize | None = None,
        read_only: bool = False,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Create a dataset folder or `s3://` prefix (or reopen it with `exist_ok=True`);
        positional order as in webknossos: path, voxel size, name, exist_ok.
        `voxel_size_with_unit=VoxelSize(...)` (webknossos' spelling) replaces `voxel_size` and
        `voxel_size_unit`. `storage_options` (S3 only): `endpoint_url`, `region`, `key`,
        `secret`, `profile`..."""
        if voxel_size_with_unit is not None:
            if voxel_size is not None:
                raise InvalidArgumentError("Pass voxel_size or voxel_size_with_unit, not both.")
            voxel_size = _voxel_factor(voxel_size_with_unit)
            voxel_size_unit = normalize_length_unit(voxel_size_with_unit.unit)
        if _is_s3(dataset_path):
            self._create_s3(
                str(dataset_path),
                voxel_size,
                name,
                exist_ok,
                voxel_size_unit,
                read_only,
                storage_options,
            )
            return
        _refuse_options(dataset_path, storage_options)
        path = Path(dataset_path)
        properties_file = PropertiesFile(path)
        if properties_file.path.exists():
            if not exist_ok:
                raise DatasetExistsError(
                    f"A dataset already exists at {path}; use Dataset.open() or exist_ok=True."
                )
            self._init_open(path, read_only)
            if (
                voxel_size is not None
                and VoxelSize(voxel_size, voxel_size_unit).to_nanometer()
                != self._properties.scale.to_nanometer()
            ):
                raise DatasetExistsError(
                    f"The dataset at {path} has voxel size {self.voxel_size_with_unit.factor} "
                    f"{self.voxel_size_unit}, "
                    f"not {tuple(voxel_size)} {voxel_size_unit}."
                )
            if name is not None and name != self.name:
                raise DatasetExistsError(
                    f"The dataset at {path} is named {self.name!r}, not {name!r}."
                )
            return
        if read_only:
            raise ReadOnlyError(f"Cannot create a dataset at {path} read-only.")
        if path.exists() and not path.is_dir():
            raise NotADatasetFolderError(f"Cannot create a dataset at {path}: it is a file.")
        if path.is_dir() and any(not _is_own_leftover(p.name) for p in path.iterdir()):
            raise DatasetExistsError(
                f"Cannot create a dataset at {path}: the folder is not empty and has no "
                "datasource-properties.json."
            )
        if voxel_size is None:
            raise InvalidArgumentError(
                "Creating a dataset needs voxel_size, e.g. (11.24, 11.24, 25)."
            )
        scale = VoxelSize(voxel_size, voxel_size_unit)
        path.mkdir(parents=True, exist_ok=True)
        properties = DatasetProperties(
            id=DatasetId(name=name or path.resolve().name), scale=scale, data_layers=[]
        )
        properties_file.save(properties)
        self._init_open(path, read_only=False)

    def _init_open(self, path: Path, read_only: bool) -> None:
        self._path = path
        self._read_only = read_only
        self._properties_file: PropertiesSource = PropertiesFile(path)
        self._properties: DatasetProperties = self._properties_file.load()
        self._layer_objects: dict[str, Layer] = {}
        # Set for a bare volume (a precomputed `info` or an OME-Zarr image, no properties file).
        self._bare: BareVolume | None = None
        self._location = str(path)
        finish_interrupted_renames(self)

    @classmethod
    def open(
        cls,
        dataset_path: str | os.PathLike[str],
        read_only: bool = False,
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> Dataset:
        """Open a dataset folder or `s3://` prefix, or a bare volume (a precomputed folder or
        URL, an OME-Zarr image) as a one-layer dataset.

        HTTP URLs (`https://`, `precomputed://`, `gs://`) are always read-only; `s3://` is read
        and written through `storage_options` or the usual AWS settings.
        `DatasetNotFoundError` if there is nothing to open at the path.
        """
        dataset = cls.__new__(cls)
        hint, location = formats.split_location(os.fspath(dataset_path))
        if _is_s3(location):
            dataset._open_s3(location, read_only, hint, storage_options)
            return dataset
        _refuse_options(dataset_path, storage_options)
        if formats.is_url(location):
            volume = formats.open_bare(location, read_only=True, hint=hint)
            if volume is None:
                raise DatasetNotFoundError(f"No volume at {location}.")
            dataset._init_bare(volume, read_only=True)
            return dataset
        path = formats.local_path(location)
        try:
            listed = (path / PROPERTIES_FILE_NAME).exists()
            volume = (
                None if listed else formats.open_bare(str(path), read_only=read_only, hint=hint)
            )
        except OSError as exc:  # e.g. a path too long for the file system (ENAMETOOLONG)
            raise StorageError(f"Cannot open a dataset at {path}: {exc.strerror}") from exc
        if volume is not None:
            dataset._init_bare(volume, read_only=read_only)
            return dataset
        dataset._init_open(path, read_only)
        return dataset

    @classmethod
    def from_images(
        cls,
        input_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        output_path: str | os.PathLike[str],
        voxel_size: tuple[float, float, float] | None = None,
        name: str | None = None,
        *,
        voxel_size_unit: str | None = None,
        layer_name: str | None = None,
        layer_category: str | None = None,
        data_format: str = DEFAULT_DATA_FORMAT,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        compress: bool = True,
        z_slices_sort_key: Callable[[Path], Any] | None = None,
        dtype: Any = None,
        batch_size: int | None = None,
        downsample: bool = False,
        executor: Executor | None = None,
    ) -> Dataset:
        """A new dataset at `output_path` with one layer from an image stack (docs/images.md).

        Input: a folder of 2-D TIFF/PNG/JPEG slices (natural order of the numbers in the names
        unless `z_slices_sort_key`), a multi-page or OME-TIFF, or a NIfTI file. `voxel_size`
        defaults to the one in OME-TIFF, ImageJ or NIfTI metadata. The layer is named after its
        category (`color`, or `segmentation` when `layer_category` or the input's name says labels).
        Streams one shard-deep slab per task on `executor`; nothing is left at `output_path`
        if it fails. `downsample=True` builds the pyramid too.
        """
        from ..images import from_images

        return from_images(
            cls,
            input_path,
            output_path,
            voxel_size,
            name,
            voxel_size_unit=voxel_size_unit,
            layer_name=layer_name,
            layer_category=layer_category,
            data_format=data_format,
            chunk_shape=chunk_shape,
            shard_shape=shard_shape,
            chunks_per_shard=chunks_per_shard,
            compress=compress,
            z_slices_sort_key=z_slices_sort_key,
            dtype=dtype,
            batch_size=batch_size,
            downsample=downsample,
            executor=executor,
        )

    def _open_s3(
        self,
        url: str,
        read_only: bool,
        hint: str | None,
        storage_options: Mapping[str, Any] | None,
    ) -> None:
        """`open` for `s3://`: a dataset prefix, else a bare precomputed or OME-Zarr volume."""
        from ..storage.s3.kvstore import S3KVStore

        store = S3KVStore(url, storage_options=storage_options, read_only=read_only)
        if hint is None and store.exists(PROPERTIES_FILE_NAME):
            self._init_s3(store, read_only)
            return
        from ..storage.s3.bare import open_bare_s3

        volume = open_bare_s3(store, read_only=read_only, hint=hint)
        if volume is None:
            raise DatasetNotFoundError(
                f"No dataset at {store.url}: no datasource-properties.json, precomputed info or "
                "OME-Zarr metadata there."
            )
        self._init_bare(volume, read_only=read_only)
        self._storage_options = store.options

    def _init_bare(self, volume: BareVolume, *, read_only: bool) -> None:
        self._path = volume.path
        self._read_only = read_only or volume.read_only
        self._properties_file = volume.properties
        self._properties = self._properties_file.load()
        self._layer_objects = {}
        self._bare = volume
        self._location = volume.location

    def _create_s3(
        self,
        url: str,
        voxel_size: tuple[float, float, float] | None,
        name: str | None,
        exist_ok: bool,
        voxel_size_unit: str,
        read_only: bool,
        storage_options: Mapping[str, Any] | None,
    ) -> None:
        """`__init__` for an `s3://` prefix: the properties object is created with
        If-None-Match, so two creators never both win; nothing local is created."""
        from ..storage.s3.kvstore import S3KVStore
        from ..storage.s3.properties import S3PropertiesFile

        store = S3KVStore(url, storage_options=storage_options, read_only=read_only)
        properties_file = S3PropertiesFile(store)
        if not properties_file.exists():
            if read_only:
                raise ReadOnlyError(f"Cannot create a dataset at {store.url} read-only.")
            if voxel_size is None:
                raise InvalidArgumentError(
                    "Creating a dataset needs voxel_size, e.g. (11.24, 11.24, 25)."
                )
            if store.has_keys():
                raise DatasetExistsError(
                    f"Cannot create a dataset at {store.url}: the prefix holds objects and no "
                    "datasource-properties.json."
                )
            properties = DatasetProperties(
                id=DatasetId(name=name or store.location.name),
                scale=VoxelSize(voxel_size, voxel_size_unit),
                data_layers=[],
            )
            try:
                properties_file.save(properties)
            except ConcurrentUpdateError:
                if not exist_ok:
                    raise DatasetExistsError(
                        f"A dataset was created at {store.url} at the same time."
                    ) from None
            self._init_s3(store, read_only=False)
            return
        if not exist_ok:
            raise DatasetExistsError(
                f"A dataset already exists at {store.url}; use Dataset.open() or exist_ok=True."
            )
        self._init_s3(store, read_only)
        if (
            voxel_size is not None
            and VoxelSize(voxel_size, voxel_size_unit).to_nanometer()
            != self._properties.scale.to_nanometer()
        ):
            raise DatasetExistsError(
                f"The dataset at {store.url} has voxel size {self.voxel_size} "
                f"{self.voxel_size_unit}, not {tuple(voxel_size)} {voxel_size_unit}."
            )

    def _init_s3(self, store: S3KVStore, read_only: bool) -> None:
        """Open the dataset whose properties object is at the root of `store`."""
        from ..storage.s3.path import S3Path
        from ..storage.s3.properties import S3PropertiesFile

        # S3Path offers the Path operations the object model uses (and no `__fspath__`).
        self._path = cast(Path, S3Path(store))
        self._read_only = read_only
        self._properties_file = S3PropertiesFile(store)
        self._properties = self._properties_file.load()
        self._layer_objects = {}
        self._bare = None
        self._location = store.url
        self._storage_options = store.options

    def __reduce__(self) -> tuple[Any, ...]:
        options = getattr(self, "_storage_options", None)
        if options is not None:  # S3: workers reopen with the same endpoint and credentials
            return (_open_s3_dataset, (self._location, self._read_only, options))
        return (Dataset.open, (self._location, self._read_only))

    def __repr__(self) -> str:
        return f"Dataset({self._location!r}, layers={list(self.layers)}, voxel_size={self.voxel_size_with_unit.factor})"

    def serve(self, **kwargs: Any) -> ServerHandle:
        """Serve every layer as Neuroglancer precomputed over HTTP (`webknossos_like.serve.serve_dataset`)."""
        from ..serve import serve_dataset

        return serve_dataset(self, **kwargs)

    def view(self, **kwargs: Any) -> ViewerLink:
        """The Neuroglancer URL of this dataset, served in the background: a `str` that Jupyter
        shows as a link (`webknossos_like.serve.view_dataset`; `public_url=` for proxies)."""
        from ..serve import view_dataset

        return view_dataset(self, **kwargs)

    def _repr_html_(self) -> str:
        """A table of the dataset for Jupyter (`webknossos_like.notebook.dataset_html`)."""
        from ..notebook.html import dataset_html

        return dataset_html(self)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Dataset)
            and self._path.resolve() == other._path.resolve()
            and self._read_only == other._read_only
        )

    def __hash__(self) -> int:
        return hash((self._path.resolve(), self._read_only))

    # -- metadata plumbing ----------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"The dataset at {self._path} was opened read-only.")

    def _update(self, mutate: Callable[[DatasetProperties], T]) -> T:
        """Apply `mutate` to the freshest properties under the inter-process lock and save them."""
        self._check_writable()
        properties, result = self._properties_file.update(mutate)
        self._properties = properties
        return result

    def reload(self) -> None:
        """Re-read the properties file (picks up other processes' changes)."""
        self._properties = self._properties_file.load()

    def _refresh(self) -> None:
        """Reload the properties if another process saved them since (one `stat`); decisions
        that skip a metadata update (e.g. after a write) must not rest on a stale copy."""
        if self._properties_file.is_stale():
            self.reload()

    @property
    def location(self) -> str:
        """Where the dataset lives: its folder, or the URL it was opened from."""
        return self._location

    @staticmethod
    def _find_layer(properties: DatasetProperties, name: str) -> LayerProperties:
        layer = properties.get_layer(name)
        if layer is None:
            raise LayerNotFoundError(f"The dataset has no layer {name!r}.")
        return layer

    def _layer_properties(self, name: str) -> LayerProperties:
        try:
            return self._find_layer(self._properties, name)
        except LayerNotFoundError:
            self.reload()  # another process may have added it since
            return self._find_layer(self._properties, name)

    def _renamed_layer(self, old_name: str, layer: Layer) -> None:
        self._layer_objects.pop(old_name, None)
        self._layer_objects[layer.name] = layer

    # -- simple properties ----------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The dataset folder."""
        return self._path

    @property
    def read_only(self) -> bool:
        """Whether the dataset refuses changes."""
        return self._read_only

    @property
    def name(self) -> str:
        """The dataset name (`id.name` in the properties); assigning saves it."""
        return self._properties.id.name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise InvalidArgumentError(f"A dataset name must be a non-empty string, got {value!r}.")

        def assign(props: DatasetProperties) -> None:
            props.id.name = value

        self._update(assign)

    @property
    def default_view_configuration(self) -> DatasetViewConfiguration | None:
        """How webknossos first shows the dataset; assigning saves it (None removes it)."""
        data = self._properties.default_view_configuration
        return None if data is None else DatasetViewConfiguration.from_json(data)

    @default_view_configuration.setter
    def default_view_configuration(self, value: DatasetViewConfiguration | None) -> None:
        if value is not None and not isinstance(value, DatasetViewConfiguration):
            raise InvalidArgumentError(
                f"default_view_configuration must be a DatasetViewConfiguration, got {value!r}."
            )
        data = None if value is None else value.to_json()

        def assign(props: DatasetProperties) -> None:
            props.default_view_configuration = data

        self._update(assign)

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        """Physical size of a mag-1 voxel in nanometers, whatever unit is stored (as in
        webknossos); `voxel_size_with_unit` holds the stored factor and unit."""
        return self._properties.scale.to_nanometer()

    @property
    def voxel_size_unit(self) -> str:
        """The unit of `voxel_size` (e.g. `nanometer`)."""
        return self._properties.scale.unit

    @property
    def voxel_size_with_unit(self) -> VoxelSize:
        """Voxel size and unit together (webknossos' `VoxelSize`, with `to_nanometer()`)."""
        scale = self._properties.scale
        return VoxelSize(scale.factor, scale.unit)

    @property
    def layers(self) -> Mapping[str, Layer]:
        """The layers by name, in the order of the properties file."""
        current = {props.name: props for props in self._properties.data_layers}
        for stale in set(self._layer_objects) - set(current):
            del self._layer_objects[stale]
        for name, props in current.items():
            layer = self._layer_objects.get(name)
            expected = SegmentationLayer if props.category == SEGMENTATION_CATEGORY else Layer
            if type(layer) is not expected:
                self._layer_objects[name] = expected(self, name)
        return MappingProxyType({name: self._layer_objects[name] for name in current})

    def get_layer(self, layer_name: str) -> Layer:
        """The layer called `layer_name`; `LayerNotFoundError` (a KeyError) if there is none."""
        layers = self.layers
        if layer_name not in layers:
            self.reload()
            layers = self.layers
        if layer_name not in layers:
            raise LayerNotFoundError(
                f"The dataset at {self._path} has no layer {layer_name!r} (has: {', '.join(layers) or 'none'})."
            )
        return layers[layer_name]

    def get_segmentation_layer(self, layer_name: str) -> SegmentationLayer:
        """The segmentation layer called `layer_name`."""
        layer = self.get_layer(layer_name)
        if not isinstance(layer, SegmentationLayer):
            raise NotASegmentationLayerError(f"Layer {layer_name!r} is a {layer.category} layer.")
        return layer

    def get_color_layers(self) -> list[Layer]:
        """All color layers."""
        return [layer for layer in self.layers.values() if layer.category == COLOR_CATEGORY]

    def get_segmentation_layers(self) -> list[SegmentationLayer]:
        """All segmentation layers."""
        return [layer for layer in self.layers.values() if isinstance(layer, SegmentationLayer)]

    def calculate_bounding_box(self) -> BoundingBox:
        """The union of all layers' bounding boxes."""
        box = BoundingBox.empty()
        for layer in self.layers.values():
            box = box.extended_by(layer.bounding_box)
        return box

    # -- adding and removing layers -------------------------------------------------------------
    def add_layer(
        self,
        layer_name: str,
        category: str,
        *,
        dtype: Any = None,
        dtype_per_channel: Any = None,
        num_channels: int | None = None,
        data_format: str = DEFAULT_DATA_FORMAT,
        bounding_box: BoundingBox | None = None,
        largest_segment_id: int | None = None,
        mappings: list[str] | None = None,
        chunk_shape: Vec3IntLike | None = None,
        shard_shape: Vec3IntLike | None = None,
    ) -> Layer:
        """Add an empty layer (no mags yet) and save it to the properties.

        Defaults: uint8, one channel. `dtype="float"` is float32 (webknossos' meaning);
        `dtype_per_channel` is the deprecated spelling of `dtype`. `chunk_shape`/`shard_shape`
        become the defaults of this layer handle's `add_mag` (webknossos ignores them).
        """
        self._check_writable()
        validate_layer_name(layer_name)
        if category not in (COLOR_CATEGORY, SEGMENTATION_CATEGORY):
            raise InvalidCategoryError(
                f"Layer category must be 'color' or 'segmentation', got {category!r}."
            )
        dtype = dtype_arg(dtype, dtype_per_channel)
        if dtype is None:
            dtype = "uint8"
        if num_channels is None:
            num_channels = 1
        default_shapes = shape_args(chunk_shape, shard_shape, None)
        try:
            dtype = np.dtype(_WK_DTYPE_NAMES.get(dtype, dtype) if isinstance(dtype, str) else dtype)
        except TypeError as exc:
            raise DTypeError(f"{dtype!r} is not a dtype.") from exc
        allowed = _COLOR_DTYPES if category == COLOR_CATEGORY else _SEGMENTATION_DTYPES
        if dtype not in allowed:
            raise DTypeError(
                f"Cannot add {category} layer with dtype {dtype}. Supported dtypes are: "
                f"{', '.join(str(d) for d in allowed)}."
            )
        if isinstance(num_channels, bool) or not isinstance(num_channels, int) or num_channels < 1:
            raise InvalidArgumentError(
                f"num_channels must be a positive int, got {num_channels!r}."
            )
        storage_format = formats.get_format(data_format)  # UnsupportedFormatError if unknown
        check_location(storage_format, self._path)
        data_format = storage_format.name
        box = bounding_box if bounding_box is not None else BoundingBox.empty()
        storage_format.check_box(box)
        common: dict[str, Any] = {
            "name": layer_name,
            "category": category,
            "bounding_box": BoundingBoxProperties(
                top_left=box.topleft.to_list(),
                width=box.size.x,
                height=box.size.y,
                depth=box.size.z,
            ),
            "data_format": data_format,
            "mags": [],
            "num_channels": num_channels,
            "element_class": element_class_for(dtype, num_channels),
        }
        if category == SEGMENTATION_CATEGORY:
            if largest_segment_id is not None and (
                isinstance(largest_segment_id, bool)
                or not isinstance(largest_segment_id, (int, np.integer))
            ):
                raise InvalidArgumentError(
                    f"largest_segment_id must be an int, got {largest_segment_id!r}."
                )
            new_layer: LayerProperties = SegmentationLayerProperties(
                **common,
                # Unknown (None) unless given, as in webknossos; refresh_largest_segment_id() sets it.
                largest_segment_id=None if largest_segment_id is None else int(largest_segment_id),
                mappings=mappings,
            )
        else:
            new_layer = LayerProperties(**common)

        def add(props: DatasetProperties) -> None:
            if props.get_layer(layer_name) is not None:
                raise LayerExistsError(f"The dataset already has a layer {layer_name!r}.")
            props.data_layers.append(new_layer)

        self._update(add)
        layer = self.get_layer(layer_name)
        layer._default_shapes = default_shapes
        storage_format.layer_created(layer)
        return layer

    def get_or_add_layer(
        self,
        layer_name: str,
        category: str,
        *,
        dtype: Any = None,
        dtype_per_channel: Any = None,
        num_channels: int | None = None,
        data_format: str = DEFAULT_DATA_FORMAT,
        **kwargs: Any,
    ) -> Layer:
        """The existing layer (checked against the given category/dtype/channels) or a new one."""
        dtype = dtype_arg(dtype, dtype_per_channel)
        if isinstance(dtype, str):
            dtype = _WK_DTYPE_NAMES.get(dtype, dtype)
        if layer_name in self.layers:
            layer = self.layers[layer_name]
            mismatches = []
            if layer.category != category:
                mismatches.append(f"category {layer.category!r} != {category!r}")
            if dtype is not None and layer.dtype != np.dtype(dtype):
                mismatches.append(f"dtype {layer.dtype} != {np.dtype(dtype)}")
            if num_channels is not None and layer.num_channels != num_channels:
                mismatches.append(f"num_channels {layer.num_channels} != {num_channels}")
            if mismatches:
                raise LayerExistsError(
                    f"Layer {layer_name!r} exists with different settings: {'; '.join(mismatches)}."
                )
            return layer
        return self.add_layer(
            layer_name,
            category,
            dtype="uint8" if dtype is None else dtype,
            num_channels=1 if num_channels is None else num_channels,
            data_format=data_format,
            **kwargs,
        )

    def add_layer_from_images(
        self,
        images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        layer_name: str,
        category: str | None = COLOR_CATEGORY,
        *,
        data_format: str = DEFAULT_DATA_FORMAT,
        mag: Any = 1,
        chunk_shape: Vec3IntLike | int | None = None,
        shard_shape: Vec3IntLike | int | None = None,
        chunks_per_shard: Vec3IntLike | int | None = None,
        compress: bool = True,
        topleft: Vec3IntLike = (0, 0, 0),
        dtype: Any = None,
        z_slices_sort_key: Callable[[Path], Any] | None = None,
        batch_size: int | None = None,
        downsample: bool = False,
        executor: Executor | None = None,
    ) -> Layer:
        """Add a layer holding an image stack (a folder, glob, file list or one file; see
        `from_images`) in `mag` at the mag-1 `topleft`; `dtype` casts the pixels.

        Segmentation layers get `largest_segment_id`; `category=None` guesses it from the path.
        A failed import removes the layer again.
        """
        from ..images import add_layer_from_images

        return add_layer_from_images(
            self,
            images,
            layer_name,
            category,
            data_format=data_format,
            mag=mag,
            chunk_shape=chunk_shape,
            shard_shape=shard_shape,
            chunks_per_shard=chunks_per_shard,
            compress=compress,
            topleft=topleft,
            dtype=dtype,
            z_slices_sort_key=z_slices_sort_key,
            batch_size=batch_size,
            downsample=downsample,
            executor=executor,
        )

    def delete_layer(self, layer_name: str) -> None:
        """Remove a layer from the properties, then delete its folder (a symlink is unlinked)."""
        self._check_writable()
        layer = self.get_layer(layer_name)
        validate_layer_name(layer_name)

        def remove(props: DatasetProperties) -> None:
            self._find_layer(props, layer_name)
            props.data_layers = [entry for entry in props.data_layers if entry.name != layer_name]

        self._update(remove)
        self._layer_objects.pop(layer_name, None)
        path = layer.path
        if remove_tree(path):
            pass
        elif path.is_symlink():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)

    def add_layer_like(
        self, other_layer: Layer, layer_name: str, *, data_format: str | None = None
    ) -> Layer:
        """A new empty layer with another layer's category, dtype, channels and bounding box."""
        extra: dict[str, Any] = {}
        if isinstance(other_layer, SegmentationLayer):
            extra["largest_segment_id"] = other_layer.largest_segment_id
        return self.add_layer(
            layer_name,
            other_layer.category,
            dtype=other_layer.dtype,
            num_channels=other_layer.num_channels,
            data_format=other_layer.data_format if data_format is None else data_format,
            bounding_box=other_layer.bounding_box,
            **extra,
        )

    def add_layer_as_copy(
        self,
        foreign_layer: Layer | str | os.PathLike[str],
        new_layer_name: str | None = None,
        *,
        chunk_shape: Vec3IntLike | None = None,
        shard_shape: Vec3IntLike | None = None,
        chunks_per_shard: Vec3IntLike | None = None,
        compress: bool | None = None,
        data_format: str | None = None,
        executor: Executor | None = None,
        **format_options: Any,
    ) -> Layer:
        """Copy a layer (an object, or the path of a layer folder) with all its mags, shard by shard.

        `data_format` converts on the way (between `wkw`, `zarr3` and `neuroglancerPrecomputed`);
        each mag keeps its compression, chunk and shard shapes unless given or the target format
        needs others. `format_options` are the target format's `add_mag` keywords.
        """
        chunk_shape, shard_shape = shape_args(chunk_shape, shard_shape, chunks_per_shard)
        if isinstance(foreign_layer, (str, os.PathLike)):
            foreign_layer = layer_from_path(foreign_layer)
        name = foreign_layer.name if new_layer_name is None else new_layer_name
        layer = self.add_layer_like(foreign_layer, name, data_format=data_format)
        _copy_layer_metadata(foreign_layer, layer)
        for mag_view in foreign_layer.mags.values():
            layer.add_mag_as_copy(
                mag_view,
                chunk_shape=chunk_shape,
                shard_shape=shard_shape,
                compress=compress,
                executor=executor,
                **format_options,
            )
        carry_attachments(foreign_layer, layer, copy_files=True)
        return layer

    def add_layer_as_ref(
        self,
        foreign_layer: Layer | str | os.PathLike[str],
        new_layer_name: str | None = None,
        *,
        make_relative: bool = False,
    ) -> Layer:
        """A layer whose mags are another dataset's (read-only references, no files copied)."""
        if isinstance(foreign_layer, (str, os.PathLike)):
            foreign_layer = layer_from_path(foreign_layer)
        if foreign_layer.dataset.path.resolve() == self._path.resolve():
            raise InvalidArgumentError(
                f"Cannot reference layer {foreign_layer.name!r} of the same dataset."
            )
        name = foreign_layer.name if new_layer_name is None else new_layer_name
        layer = self.add_layer_like(foreign_layer, name)
        _copy_layer_metadata(foreign_layer, layer)
        try:
            for view in foreign_layer.mags.values():
                layer.add_mag_as_ref(view, make_relative=make_relative)
            carry_attachments(foreign_layer, layer, copy_files=False, make_relative=make_relative)
        except BaseException:
            self.delete_layer(name)
            raise
        return layer

    def shallow_copy_dataset(
        self,
        new_dataset_path: str | os.PathLike[str],
        *,
        name: str | None = None,
        layers_to_ignore: list[str] | None = None,
        make_relative: bool | None = None,
    ) -> Dataset:
        """A new dataset whose layers reference this one's mags (`add_layer_as_ref`)."""
        target = Dataset(
            new_dataset_path,
            voxel_size=self.voxel_size_with_unit.factor,
            name=self.name if name is None else name,
            voxel_size_unit=self.voxel_size_unit,
        )
        target.default_view_configuration = self.default_view_configuration
        for layer in self.layers.values():
            if layers_to_ignore and layer.name in layers_to_ignore:
                continue
            target.add_layer_as_ref(layer, make_relative=bool(make_relative))
        return target

    def add_layer_for_existing_files(
        self,
        layer_name: str,
        category: str,
        *,
        bounding_box: BoundingBox | None = None,
        largest_segment_id: int | None = None,
        data_format: str | None = None,
    ) -> Layer:
        """Register a layer folder of mags already on disk (WKW or Zarr v3; `data_format` to
        look for one only): dtype, channels, mags and bbox are read from the files."""
        self._check_writable()
        validate_layer_name(layer_name)
        folder = self._path / layer_name
        arrays: dict[Mag, ArrayBackend] = {}
        storage_format = None
        for name in formats.format_names() if data_format is None else (data_format,):
            try:
                storage_format = formats.get_format(name)
            except UnsupportedFormatError:
                if data_format is not None:
                    raise
                continue  # not installed: cannot be what is on disk
            arrays = storage_format.existing_mags(folder)
            if arrays:
                break
        if not arrays or storage_format is None:
            raise StorageError(
                f"No mags (folders like '1' or '2-2-1' that a format recognises: {', '.join(formats.format_names())}) in "
                f"{folder}."
            )
        infos = {(a.info.dtype, a.info.num_channels) for a in arrays.values()}
        if len(infos) != 1:
            raise StorageError(
                f"The mags in {folder} disagree on dtype/channels: {sorted(map(str, infos))}."
            )
        dtype, num_channels = infos.pop()
        finest = min(arrays)
        if bounding_box is None:
            bounding_box = BoundingBox.empty()
            for box in arrays[finest].list_written_boxes():
                bounding_box = bounding_box.extended_by(box.from_mag_to_mag1(finest))
        layer = (
            self.add_layer(
                layer_name,
                category,
                dtype=dtype,
                num_channels=num_channels,
                bounding_box=bounding_box,
                largest_segment_id=largest_segment_id,
                data_format=storage_format.name,
            )
            if category == SEGMENTATION_CATEGORY
            else self.add_layer(
                layer_name,
                category,
                dtype=dtype,
                num_channels=num_channels,
                bounding_box=bounding_box,
                data_format=storage_format.name,
            )
        )
        if isinstance(layer, SegmentationLayer) and largest_segment_id is None:
            layer.largest_segment_id = None  # unknown until refresh_largest_segment_id()
        entries = [
            storage_format.mag_entry(layer_name, mag, array)
            for mag, array in sorted(arrays.items())
        ]

        def register(props: DatasetProperties) -> None:
            self._find_layer(props, layer_name).mags = entries

        self._update(register)
        return layer

    def copy_dataset(
        self,
        new_dataset_path: str | os.PathLike[str],
        *,
        data_format: str | None = None,
        chunk_shape: Vec3IntLike | None = None,
        shard_shape: Vec3IntLike | None = None,
        chunks_per_shard: Vec3IntLike | None = None,
        compress: bool | None = None,
        voxel_size: tuple[float, float, float] | None = None,
        layers_to_ignore: list[str] | None = None,
        exist_ok: bool = False,
        executor: Executor | None = None,
        **format_options: Any,
    ) -> Dataset:
        """Copy every layer and mag to a new dataset, converting the format if asked.

        Each mag keeps its compression, chunk and shard shapes unless given here or the target
        format needs others; `format_options` are the target format's own `add_mag` keywords
        (precomputed: `encoding`, `sharded`, `jpeg_quality`).

        Chunk-parallel with any executor; verify with `content_is_equal` or `wkl check SRC DST`.
        With `exist_ok=True` an interrupted copy into the same target is finished: layers and
        mags already copied whole are kept, mags whose copy died are copied again.
        """
        chunk_shape, shard_shape = shape_args(chunk_shape, shard_shape, chunks_per_shard)
        target = Dataset(
            new_dataset_path,
            voxel_size=self.voxel_size_with_unit.factor if voxel_size is None else voxel_size,
            voxel_size_unit=self.voxel_size_unit,
            name=self.name,
            exist_ok=exist_ok,
        )
        if target.default_view_configuration is None:
            target.default_view_configuration = self.default_view_configuration
        settings: dict[str, Any] = {
            "chunk_shape": chunk_shape,
            "shard_shape": shard_shape,
            "compress": compress,
            "executor": executor,
            **format_options,
        }
        for layer in self.layers.values():
            if layers_to_ignore and layer.name in layers_to_ignore:
                continue
            existing = target.layers.get(layer.name)
            if existing is None:
                target.add_layer_as_copy(layer, data_format=data_format, **settings)
                continue
            _check_same_layer_kind(existing, layer)
            existing._discard_abandoned_mags()
            for mag, view in layer.mags.items():
                if mag not in existing.mags:
                    existing.add_mag_as_copy(view, **settings)
            carry_attachments(layer, existing, copy_files=True)
        return target

    def write_layer(
        self,
        layer_name: str,
        category: str,
        data: np.ndarray,
        *,
        data_format: str = DEFAULT_DATA_FORMAT,
        downsample: bool = True,
        chunk_shape: Vec3IntLike | None = None,
        shard_shape: Vec3IntLike | None = None,
        chunks_per_shard: Vec3IntLike | None = None,
        axes: Any = None,
        absolute_offset: Vec3IntLike | None = None,
        mag: Any = 1,
        executor: Executor | None = None,
    ) -> Layer:
        """Add a layer holding `data` (`(x, y, z)` or `(c, x, y, z)`, in `mag`) in one call.

        dtype, channels and bounding box come from the array; the mag is compressed; with
        `downsample` the pyramid is built (sequentially unless an `executor` is given).
        """
        if axes is not None and tuple(axes) not in (("x", "y", "z"), ("c", "x", "y", "z")):
            raise InvalidArgumentError(
                f"Only 3-D data (axes x, y, z, optionally with c first) is supported, got {axes!r}."
            )
        array = np.asarray(data)
        if array.ndim not in (3, 4):
            raise InvalidArgumentError(
                f"write_layer needs (x, y, z) or (c, x, y, z) data, got shape {array.shape}."
            )
        num_channels = 1 if array.ndim == 3 else array.shape[0]
        key = Mag(mag)
        topleft = Vec3Int.zeros() if absolute_offset is None else Vec3Int(absolute_offset)
        box = BoundingBox(topleft, Vec3Int(array.shape[-3:]) * key.as_vec3_int)
        layer = self.add_layer(
            layer_name,
            category,
            dtype=array.dtype,
            num_channels=num_channels,
            data_format=data_format,
            bounding_box=box,
        )
        chunk, shard = shape_args(chunk_shape, shard_shape, chunks_per_shard)
        view = layer.add_mag(key, chunk_shape=chunk, shard_shape=shard, compress=True)
        view.write(array, absolute_offset=topleft)
        if downsample:
            layer.downsample(executor=executor)
        return layer

    def compress(self, executor: Executor | None = None) -> None:
        """Compress every uncompressed mag of every layer in place (see `MagView.compress`)."""
        for layer in self.layers.values():
            for view in layer.mags.values():
                if not view.info.compressed and not view.read_only:
                    view.compress(executor=executor)

    def downsample(
        self,
        coarsest_mag: Any = None,
        interpolation_mode: str = "default",
        sampling_mode: str = "anisotropic",
        compress: bool | None = None,
        executor: Executor | None = None,
    ) -> None:
        """Build the pyramid of every layer (layers reuse each other's mags so they stay aligned)."""
        for layer in list(self.layers.values()):
            if layer.mags:
                layer.downsample(
                    coarsest_mag=coarsest_mag,
                    interpolation_mode=interpolation_mode,
                    sampling_mode=sampling_mode,
                    compress=compress,
                    executor=executor,
                )


def _check_same_layer_kind(existing: Layer, source: Layer) -> None:
    """Refuse to finish a copy into a layer that holds something else."""
    mine = (existing.category, existing.dtype, existing.num_channels)
    theirs = (source.category, source.dtype, source.num_channels)
    if mine != theirs:
        raise LayerExistsError(
            f"Cannot copy layer {source.name!r} into {existing.path}: a layer with other settings "
            f"(category, dtype, channels {mine} instead of {theirs}) is already there."
        )


def _is_s3(location: object) -> bool:
    """Whether a dataset location is an `s3://` URL."""
    from ..storage.s3.location import is_s3_url

    return isinstance(location, str) and is_s3_url(location)


def _refuse_options(location: object, storage_options: Mapping[str, Any] | None) -> None:
    """`storage_options` only mean something for object storage."""
    if storage_options:
        raise InvalidArgumentError(
            f"storage_options apply to s3:// locations, not to {os.fspath(location)!r}."  # type: ignore[call-overload]
        )


def _open_s3_dataset(location: str, read_only: bool, options: Any) -> Dataset:
    """Reopen an S3 dataset after unpickling (module-level so it pickles)."""
    return Dataset.open(location, read_only=read_only, storage_options=options)


def _is_own_leftover(name: str) -> bool:
    """Whether a file in a folder without properties is what a creation killed early leaves:
    the properties lock or a temp file (so creating the dataset again may go ahead)."""
    return name == LOCK_FILE_NAME or name.startswith(TEMP_PREFIX)


def _copy_layer_metadata(source: Layer, target: Layer) -> None:
    """Carry the view configuration and coordinate transformations over to a copied layer."""
    if source.default_view_configuration is not None:
        target.default_view_configuration = source.default_view_configuration
    if source.coordinate_transformations:
        target.coordinate_transformations = source.coordinate_transformations


def _voxel_factor(size: Any) -> tuple[float, float, float]:
    """The (x, y, z) factor of our or webknossos' `VoxelSize`."""
    x, y, z = (float(v) for v in size.factor)
    return (x, y, z)
