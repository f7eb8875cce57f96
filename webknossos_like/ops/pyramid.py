"""Build mags from other mags: downsampling and upsampling, shard by shard, with any executor."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import TYPE_CHECKING

import numpy as np

from ..geometry import BoundingBox, Vec3Int
from ..parallel import run_tasks
from ..storage.wkw_array import WKWArray, morton_corners
from ._stored import StoredShards
from .interpolation import compiled_kernels, downsample_data, upsample_data

if TYPE_CHECKING:
    from ..dataset.mag_view import MagView
    from ..dataset.view import View

# Largest source region (voxels) one task reads at once; bounds peak memory per worker.
_MAX_SOURCE_VOXELS = 256**3
_ALL = (slice(None),)


def _pieces(box: BoundingBox, target_mag: Vec3Int, factor: Vec3Int) -> list[BoundingBox]:
    """Split a target box (mag-1) so each piece's source region stays under the memory budget."""
    in_target = BoundingBox(box.topleft // target_mag, box.size // target_mag)
    step = in_target.size
    while step.prod() * factor.prod() > _MAX_SOURCE_VOXELS and max(step) > 1:
        values = step.to_list()
        axis = values.index(max(values))
        values[axis] = max(1, values[axis] // 2)
        step = Vec3Int(values)
    return [
        BoundingBox(piece.topleft * target_mag, piece.size * target_mag)
        for piece in in_target.chunk(step)
    ]


def _reduce_stored(source: View, box: BoundingBox, factor: Vec3Int, mode: str) -> np.ndarray | None:
    """`downsample_data(source.read(box), factor, mode)`, computed straight from the stored chunks
    of uncompressed WKW shards; None where that does not apply (then the caller reads).

    Skipping the assembly of the source region saves most of the read time: raw shard files are
    read with one plain file read and each chunk is reduced where it lies.
    """
    backend = source._backend
    compiled = compiled_kernels()
    if compiled is None or not isinstance(backend, WKWArray) or backend.info.compressed:
        return None
    info = backend.info
    if not compiled.supports(mode, info.dtype, factor.to_tuple()):
        return None
    region = box.in_mag(source.mag)
    shard, chunk = info.shard_shape, info.chunk_shape
    aligned = region.topleft % shard == Vec3Int.zeros() and region.size % shard == Vec3Int.zeros()
    if not aligned or chunk % factor != Vec3Int.zeros():
        return None
    out = np.zeros((info.num_channels, *(region.size // factor)), dtype=info.dtype, order="F")
    corners = morton_corners(shard.x // chunk.x, chunk.x)
    for piece in region.chunk(shard):
        # a missing shard yields nothing: it reads as zeros, which reduce to zeros
        at = corners + np.asarray((piece.topleft - region.topleft).to_tuple(), dtype=np.int64)
        for first, chunks in backend.iter_stored_chunks(piece.topleft // shard):
            compiled.downsample_chunks(
                chunks, at[first : first + len(chunks)], out, factor.to_tuple(), mode
            )
    return out


def _downsample_task(task: tuple[View, View, str, BoundingBox]) -> None:
    """Fill one target shard (a view of the target mag) from the source mag.

    Source voxels are read only inside `limit` (the source layer's box); partial blocks at its
    border are completed by repeating the nearest voxel inside, so nothing outside is invented.
    """
    source, target, mode, limit = task
    source_mag = source.mag.as_vec3_int
    target_mag = target.mag.as_vec3_int
    factor = target_mag // source_mag
    box = target.bounding_box
    out = np.zeros((target.num_channels, *(box.size // target_mag)), dtype=target.dtype, order="F")
    for piece in _pieces(box, target_mag, factor):
        clipped = piece.intersected_with(limit).align_with_mag(source.mag, ceil=True)
        if clipped.is_empty():
            continue
        rel = piece.offset(-box.topleft)
        rel = BoundingBox(rel.topleft // target_mag, rel.size // target_mag)
        reduced = _reduce_stored(source, piece, factor, mode) if clipped == piece else None
        if reduced is not None:
            out[_ALL + rel.to_slices()] = reduced
            continue
        data = source.read(absolute_bounding_box=clipped)
        front = (clipped.topleft - piece.topleft) // source_mag
        back = (piece.bottomright - clipped.bottomright) // source_mag
        if front != Vec3Int.zeros() or back != Vec3Int.zeros():
            widths = [(0, 0), *zip(front.to_list(), back.to_list(), strict=True)]
            data = np.pad(data, widths, mode="edge")
        out[_ALL + rel.to_slices()] = downsample_data(data, factor, mode)
    target.write(out, absolute_offset=box.topleft)


def _upsample_task(task: tuple[View, View]) -> None:
    """Fill one target shard by repeating the voxels of the coarser source mag."""
    source, target = task
    factor = source.mag.as_vec3_int // target.mag.as_vec3_int
    box = target.bounding_box
    source_box = box.align_with_mag(source.mag, ceil=True)
    data = upsample_data(source.read(absolute_bounding_box=source_box), factor)
    rel = box.offset(-source_box.topleft).in_mag(target.mag)
    target.write(np.asfortranarray(data[_ALL + rel.to_slices()]), absolute_offset=box.topleft)


def _target_tasks(source: MagView, target: MagView) -> list[tuple[View, View]]:
    """One (source, target-shard) pair per target shard where the source stores data."""
    region = source.layer.bounding_box.align_with_mag(target.mag, ceil=True)
    stored = StoredShards(source)
    return [
        (
            source.get_view(
                absolute_bounding_box=chunk.align_with_mag(source.mag, ceil=True), read_only=True
            ),
            target.get_view(absolute_bounding_box=chunk),
        )
        for chunk in target.shard_aligned_boxes(region)
        if stored.touches(chunk)
    ]


def downsample_into(
    source: MagView, target: MagView, mode: str, executor: Executor | None = None
) -> None:
    """Compute `target` (coarser) from `source`, one target shard per task."""
    limit = source.layer.bounding_box
    tasks = [(s, t, mode, limit) for s, t in _target_tasks(source, target)]
    run_tasks(
        _downsample_task, tasks, executor, desc=f"Downsampling to mag {target.mag.to_layer_name()}"
    )


def upsample_into(source: MagView, target: MagView, executor: Executor | None = None) -> None:
    """Compute `target` (finer) from `source` by nearest-neighbour repetition, per target shard."""
    run_tasks(
        _upsample_task,
        _target_tasks(source, target),
        executor,
        desc=f"Upsampling to mag {target.mag.to_layer_name()}",
    )
