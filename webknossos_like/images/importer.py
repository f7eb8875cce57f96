"""Import an image stack into a layer slab by slab (one shard deep), on any executor.

Memory holds a few slabs (one per running task), never the stack. The mag is marked as under
construction while it fills (`dataset._incomplete.building`) and the layer is removed again if
the import fails, so a half-finished import never looks like a complete layer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from concurrent.futures import Executor
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from .._atomic import TEMP_PREFIX
from ..dataset._compat import shape_args
from ..dataset._incomplete import building
from ..errors import DatasetExistsError, DTypeError, InvalidArgumentError
from ..geometry import BoundingBox, Mag, MagLike, Vec3Int, Vec3IntLike
from ..parallel import run_tasks
from .inputs import ImagesArg, open_image_source
from .naming import SortKey, guess_category
from .source import ImageSource, convert_voxel_size

if TYPE_CHECKING:
    from ..dataset.dataset import Dataset
    from ..dataset.layer import Layer
    from ..dataset.mag_view import MagView

#: dtypes a color layer cannot store, and what image data of them becomes (float64: float32).
_COLOR_FALLBACK = {np.dtype(np.float64): np.dtype(np.float32)}


@attrs.frozen
class _Slab:
    """One import task: planes `z_start..z_stop` of the source into `view` at `offset` (mag 1)."""

    source: ImageSource
    view: MagView
    z_start: int
    z_stop: int
    offset: Vec3Int
    dtype: np.dtype[Any]
    want_max: bool


def _import_slab(slab: _Slab) -> int | None:
    """Read one slab, cast it, write it; the largest value for segmentation layers."""
    data = slab.source.read_slab(slab.z_start, slab.z_stop)
    if data.dtype != slab.dtype:
        data = data.astype(slab.dtype, order="F")
    slab.view.write(data, absolute_offset=slab.offset)
    return int(data.max()) if slab.want_max else None


def slab_bounds(first: int, count: int, depth: int, origin: int = 0) -> list[tuple[int, int]]:
    """Cut planes `first..first+count` (absolute, in the mag) at multiples of `depth` from
    `origin`, so no two slabs share a shard; returned relative to `first`."""
    cuts = [first]
    boundary = origin + ((first - origin) // depth + 1) * depth
    while boundary < first + count:
        cuts.append(boundary)
        boundary += depth
    cuts.append(first + count)
    return [(a - first, b - first) for a, b in pairwise(cuts)]


def _layer_dtype(source: ImageSource, category: str, dtype: Any) -> np.dtype[Any]:
    if dtype is not None:
        try:
            chosen: np.dtype[Any] = np.dtype(dtype)
        except TypeError as exc:
            raise DTypeError(f"{dtype!r} is not a dtype.") from exc
        return chosen
    found: np.dtype[Any] = source.info.dtype
    if category == "color":
        return _COLOR_FALLBACK.get(found, found)
    return found


def import_source(
    dataset: Dataset,
    source: ImageSource,
    layer_name: str,
    category: str,
    *,
    data_format: str,
    mag: MagLike = 1,
    chunk_shape: Vec3IntLike | None = None,
    shard_shape: Vec3IntLike | None = None,
    compress: bool = True,
    topleft: Vec3IntLike = (0, 0, 0),
    dtype: Any = None,
    batch_size: int | None = None,
    downsample: bool = False,
    executor: Executor | None = None,
) -> Layer:
    """Add `layer_name` holding `source` (in `mag`, at mag-1 `topleft`); see
    `Dataset.add_layer_from_images`."""
    info = source.info
    key = Mag(mag)
    corner = Vec3Int(topleft)
    target_dtype = _layer_dtype(source, category, dtype)
    box = BoundingBox(corner, info.size * key.as_vec3_int)
    if not box.is_aligned(key):
        raise InvalidArgumentError(f"topleft {corner} is not aligned to mag {key}.")
    layer = dataset.add_layer(
        layer_name,
        category,
        dtype=target_dtype,
        num_channels=info.num_channels,
        data_format=data_format,
        bounding_box=box,
    )
    try:
        with building(layer.path, [key]):
            view = layer.add_mag(
                key, chunk_shape=chunk_shape, shard_shape=shard_shape, compress=compress
            )
            depth = view.info.shard_shape.z
            if batch_size is not None:
                if batch_size < 1:
                    raise InvalidArgumentError(f"batch_size must be positive, got {batch_size}.")
                depth *= -(-batch_size // depth)  # whole shards, so slabs never share one
            first = corner.z // key.z
            tasks = [
                _Slab(
                    source,
                    view,
                    a,
                    b,
                    corner.with_z((first + a) * key.z),
                    target_dtype,
                    category == "segmentation",
                )
                for a, b in slab_bounds(first, info.size.z, depth, view.info.grid_origin.z)
            ]
            maxima = run_tasks(
                _import_slab,
                tasks,
                executor,
                desc=f"Importing {source.describe()} into layer {layer_name}",
            )
        if category == "segmentation":
            layer.as_segmentation_layer().largest_segment_id = max(
                (m for m in maxima if m is not None), default=0
            )
    except BaseException:
        with contextlib.suppress(Exception):
            dataset.delete_layer(layer_name)
        raise
    if downsample:
        layer.downsample(executor=executor)
    return layer


def add_layer_from_images(
    dataset: Dataset,
    images: ImagesArg,
    layer_name: str,
    category: str | None = "color",
    *,
    data_format: str,
    mag: MagLike = 1,
    chunk_shape: Vec3IntLike | int | None = None,
    shard_shape: Vec3IntLike | int | None = None,
    chunks_per_shard: Vec3IntLike | int | None = None,
    compress: bool = True,
    topleft: Vec3IntLike = (0, 0, 0),
    dtype: Any = None,
    z_slices_sort_key: SortKey | None = None,
    batch_size: int | None = None,
    downsample: bool = False,
    executor: Executor | None = None,
) -> Layer:
    """See `Dataset.add_layer_from_images`."""
    chunk, shard = shape_args(chunk_shape, shard_shape, chunks_per_shard)
    source = open_image_source(images, z_slices_sort_key)
    if category is None:
        category = guess_category(images if isinstance(images, (str, os.PathLike)) else "")
    return import_source(
        dataset,
        source,
        layer_name,
        category,
        data_format=data_format,
        mag=mag,
        chunk_shape=chunk,
        shard_shape=shard,
        compress=compress,
        topleft=topleft,
        dtype=dtype,
        batch_size=batch_size,
        downsample=downsample,
        executor=executor,
    )


def from_images(
    dataset_cls: type[Dataset],
    input_path: ImagesArg,
    output_path: str | os.PathLike[str],
    voxel_size: tuple[float, float, float] | None = None,
    name: str | None = None,
    *,
    voxel_size_unit: str | None = None,
    layer_name: str | None = None,
    layer_category: str | None = None,
    data_format: str,
    chunk_shape: Vec3IntLike | int | None = None,
    shard_shape: Vec3IntLike | int | None = None,
    chunks_per_shard: Vec3IntLike | int | None = None,
    compress: bool = True,
    z_slices_sort_key: SortKey | None = None,
    dtype: Any = None,
    batch_size: int | None = None,
    downsample: bool = False,
    executor: Executor | None = None,
) -> Dataset:
    """See `Dataset.from_images`: built in a scratch folder beside `output_path` and moved
    there only when complete, so an interrupted import leaves no dataset behind."""
    chunk, shard = shape_args(chunk_shape, shard_shape, chunks_per_shard)
    source = open_image_source(input_path, z_slices_sort_key)
    target = Path(output_path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DatasetExistsError(
            f"Cannot import into {target}: it exists and is not an empty folder."
        )
    size, unit = _voxel_size(source, voxel_size, voxel_size_unit)
    category = layer_category or guess_category(
        input_path if isinstance(input_path, (str, os.PathLike)) else ""
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.parent / f"{TEMP_PREFIX}{target.name}-import-{uuid.uuid4().hex}"
    try:
        dataset = dataset_cls(
            scratch, voxel_size=size, name=name or target.name, voxel_size_unit=unit
        )
        import_source(
            dataset,
            source,
            layer_name or category,
            category,
            data_format=data_format,
            chunk_shape=chunk,
            shard_shape=shard,
            compress=compress,
            dtype=dtype,
            batch_size=batch_size,
            downsample=downsample,
            executor=executor,
        )
        os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return dataset_cls.open(target)


def _voxel_size(
    source: ImageSource, given: tuple[float, float, float] | None, unit: str | None
) -> tuple[tuple[float, float, float], str]:
    """The voxel size passed, else the one in the input's metadata; one of them is needed."""
    if given is not None:
        x, y, z = (float(v) for v in given)
        return (x, y, z), unit or "nanometer"
    info = source.info
    if info.voxel_size is None:
        raise InvalidArgumentError(
            f"{source.describe()} carries no voxel size: pass voxel_size=(x, y, z) "
            "(wkl import: --voxel-size X,Y,Z)."
        )
    if unit is None:
        return info.voxel_size, info.voxel_size_unit
    converted = convert_voxel_size(info.voxel_size, info.voxel_size_unit, unit)
    if converted is None:
        raise InvalidArgumentError(f"Unknown voxel size unit {unit!r}.")
    return converted
