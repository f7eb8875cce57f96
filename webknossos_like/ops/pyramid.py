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
# Fewer tasks than this per mag would leave workers idle (see `_work_boxes`).
_MIN_TASKS = 8


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


def _reduce_stored(
    source: View, box: BoundingBox, factor: Vec3Int, mode: str, out: np.ndarray
) -> bool:
    """Fill the zeroed `out` with `downsample_data(source.read(box), factor, mode)`, computed
    straight from the stored chunks of uncompressed WKW shards; False (`out` untouched) where
    that does not apply, and the caller reads instead.

    Skipping the assembly of the source region saves most of the read time: raw shard files are
    read with plain file reads in cache-sized batches and each chunk is reduced where it lies.
    """
    backend = source._backend
    compiled = compiled_kernels()
    if compiled is None or not isinstance(backend, WKWArray) or backend.info.compressed:
        return False
    info = backend.info
    if not compiled.supports(mode, info.dtype, factor.to_tuple()):
        return False
    region = box.in_mag(source.mag)
    shard, chunk = info.shard_shape, info.chunk_shape
    aligned = region.topleft % shard == Vec3Int.zeros() and region.size % shard == Vec3Int.zeros()
    if not aligned or chunk % factor != Vec3Int.zeros():
        return False
    corners = morton_corners(shard.x // chunk.x, chunk.x)
    buffer = backend.chunk_buffer()  # one scratch buffer for all shards of the region
    for piece in region.chunk(shard):
        # a missing shard yields nothing: it reads as zeros, which reduce to zeros
        at = corners + np.asarray((piece.topleft - region.topleft).to_tuple(), dtype=np.int64)
        for first, chunks in backend.iter_stored_chunks(piece.topleft // shard, buffer=buffer):
            compiled.downsample_chunks(
                chunks, at[first : first + len(chunks)], out, factor.to_tuple(), mode
            )
    return True


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
        part = out[_ALL + rel.to_slices()]
        if clipped == piece and _reduce_stored(source, piece, factor, mode, part):
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


def _halve(box: BoundingBox, grid: Vec3Int) -> list[BoundingBox]:
    """Split `box` in two across its longest axis at a line of `grid`; `[box]` if none fits."""
    for axis in sorted(range(3), key=lambda a: -box.size[a]):
        low, high = box.topleft[axis], box.bottomright[axis]
        below = (low + high) // 2 // grid[axis] * grid[axis]  # the grid lines around the middle
        cut = below if below > low else below + grid[axis]
        if low < cut < high:
            size = box.size.to_list()
            size[axis] = cut - low
            first = BoundingBox(box.topleft, size)
            corner = box.topleft.to_list()
            corner[axis] = cut
            return [first, BoundingBox(corner, box.bottomright - Vec3Int(corner))]
    return [box]


def _work_boxes(target: MagView, region: BoundingBox) -> list[BoundingBox]:
    """The target's shards in `region`; for raw WKW targets with fewer than `_MIN_TASKS` shards,
    split further along chunk lines so coarse mags keep every worker busy.

    Raw WKW shards are patched in place chunk by chunk, so writers of disjoint chunk-aligned
    parts of one shard file do not interfere (compressed shards are rewritten whole: never split).
    """
    boxes = list(target.shard_aligned_boxes(region))
    info = target.info
    if info.data_format != "wkw" or info.compressed:
        return boxes
    grid = info.chunk_shape * target.mag.as_vec3_int
    while len(boxes) < _MIN_TASKS:
        split = [half for box in boxes for half in _halve(box, grid)]
        if len(split) == len(boxes):
            break
        boxes = split
    return boxes


def _target_tasks(source: MagView, target: MagView) -> list[tuple[View, View]]:
    """One (source, target-box) pair per target shard (or chunk-aligned part of one, see
    `_work_boxes`) where the source stores data."""
    region = source.layer.bounding_box.align_with_mag(target.mag, ceil=True)
    stored = StoredShards(source)
    return [
        (
            source.get_view(
                absolute_bounding_box=chunk.align_with_mag(source.mag, ceil=True), read_only=True
            ),
            target.get_view(absolute_bounding_box=chunk),
        )
        for chunk in _work_boxes(target, region)
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
