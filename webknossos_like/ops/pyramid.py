"""Build mags from other mags: downsampling and upsampling, shard by shard, with any executor."""

from __future__ import annotations

import itertools
from concurrent.futures import Executor
from typing import TYPE_CHECKING

import numpy as np

from ..geometry import BoundingBox, Mag, Vec3Int
from ..parallel import run_tasks
from ..storage.backend import StoredChunkSource
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
    straight from the stored chunks of uncompressed shards (`StoredChunkSource`: raw WKW);
    False (`out` untouched) where that does not apply, and the caller reads instead.

    Skipping the assembly of the source region saves most of the read time: raw shard files are
    read with plain file reads in cache-sized batches and each chunk is reduced where it lies.
    """
    backend = source._backend
    compiled = compiled_kernels()
    if compiled is None or backend.info.compressed or not isinstance(backend, StoredChunkSource):
        return False
    info = backend.info
    if not compiled.supports(mode, info.dtype, factor.to_tuple()):
        return False
    region = box.in_mag(source.mag)
    shard, chunk = info.shard_shape, info.chunk_shape
    aligned = region.topleft % shard == Vec3Int.zeros() and region.size % shard == Vec3Int.zeros()
    if not aligned or chunk % factor != Vec3Int.zeros():
        return False
    corners = backend.stored_chunk_corners()
    buffer = backend.chunk_buffer()  # one scratch buffer for all shards of the region
    for piece in region.chunk(shard):
        # a missing shard yields nothing: it reads as zeros, which reduce to zeros
        at = corners + np.asarray((piece.topleft - region.topleft).to_tuple(), dtype=np.int64)
        for first, chunks in backend.iter_stored_chunks(piece.topleft // shard, buffer=buffer):
            compiled.downsample_chunks(
                chunks, at[first : first + len(chunks)], out, factor.to_tuple(), mode
            )
    return True


def _downsample_box(source: View, target: View, mode: str, limit: BoundingBox) -> np.ndarray:
    """The voxels of one target box (a view of the target mag), computed from the source mag.

    Source voxels are read only inside `limit` (the source layer's box); partial blocks at its
    border are completed by repeating the nearest voxel inside, so nothing outside is invented.
    """
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
        out[_ALL + rel.to_slices()] = downsample_data(
            _pad(data, clipped, piece, source_mag), factor, mode
        )
    return out


def _pad(data: np.ndarray, clipped: BoundingBox, box: BoundingBox, mag: Vec3Int) -> np.ndarray:
    """Extend `data` (the voxels of `clipped`, in `mag`) to all of `box` by repeating edge voxels."""
    front = (clipped.topleft - box.topleft) // mag
    back = (box.bottomright - clipped.bottomright) // mag
    if front == Vec3Int.zeros() and back == Vec3Int.zeros():
        return data
    widths = [(0, 0), *zip(front.to_list(), back.to_list(), strict=True)]
    return np.pad(data, widths, mode="edge")


def _reduce_level(
    data: np.ndarray,
    box: BoundingBox,
    data_mag: Vec3Int,
    target: View,
    mode: str,
    limit: BoundingBox,
) -> np.ndarray:
    """The voxels of `target` computed from `data`, the finer level's voxels of `box` in memory.

    Same voxels `_downsample_box` would read back from the finer mag: only those inside `limit`,
    edge-padded (`_chain_depth` makes sure the target box needs nothing outside `box`).
    """
    new_box = target.bounding_box
    clipped = new_box.intersected_with(limit).align_with_mag(Mag(data_mag), ceil=True)
    rel = clipped.offset(-box.topleft)
    rel = BoundingBox(rel.topleft // data_mag, rel.size // data_mag)
    part = _pad(data[_ALL + rel.to_slices()], clipped, new_box, data_mag)
    return downsample_data(part, target.mag.as_vec3_int // data_mag, mode)


def _chain_task(task: tuple[View, list[View], str, BoundingBox]) -> None:
    """Fill one box of the first target from the source, then the same region of each further
    target from the level before it, in memory."""
    source, targets, mode, limit = task
    data = _downsample_box(source, targets[0], mode, limit)
    targets[0].write(data, absolute_offset=targets[0].bounding_box.topleft)
    for finer, coarser in itertools.pairwise(targets):
        box = finer.bounding_box
        data = _reduce_level(data, box, finer.mag.as_vec3_int, coarser, mode, limit)
        coarser.write(data, absolute_offset=coarser.bounding_box.topleft)


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
    """The target's shards in `region`; for targets that take chunk-parallel writes (raw WKW)
    with fewer than `_MIN_TASKS` shards,
    split further along chunk lines so coarse mags keep every worker busy.

    Raw WKW shards are patched in place chunk by chunk, so writers of disjoint chunk-aligned
    parts of one shard file do not interfere (compressed shards are rewritten whole: never split).
    """
    boxes = list(target.shard_aligned_boxes(region))
    info = target.info
    if not info.chunk_parallel_writes:
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
            target._region_view(chunk),
        )
        for chunk in _work_boxes(target, region)
        if stored.touches(chunk)
    ]


def _chain_depth(boxes: list[BoundingBox], region: BoundingBox, targets: list[MagView]) -> int:
    """How many of `targets` one task per box can compute: the first from the source, each
    further one from the level before it in memory.

    A further target qualifies when it takes chunk-parallel writes (raw WKW) and every box starts and ends on its chunk
    grid or at the edge of `region`: then the tasks write disjoint chunks of its shards (safe in
    place, see `_work_boxes`) and need no voxel another task computes (what lies beyond the
    region's edge is outside the layer, filled by edge padding).
    """
    depth = 1
    for target in targets[1:]:
        info = target.info
        if not info.chunk_parallel_writes:
            break
        grid = info.chunk_shape * target.mag.as_vec3_int
        start, end = region.topleft, region.bottomright
        if not all(
            (box.topleft[a] % grid[a] == 0 or box.topleft[a] == start[a])
            and (box.bottomright[a] % grid[a] == 0 or box.bottomright[a] == end[a])
            for box in boxes
            for a in range(3)
        ):
            break
        depth += 1
    return depth


def downsample_chain(
    source: MagView, targets: list[MagView], mode: str, executor: Executor | None = None
) -> None:
    """Compute each of `targets` (coarser and coarser) from the one before, the first from
    `source`. Where the task boxes allow (`_chain_depth`), one task builds several levels of its
    region from memory, so coarser mags are never read back."""
    limit = source.layer.bounding_box
    level = 0
    while level < len(targets):
        pairs = _target_tasks(source, targets[level])
        region = limit.align_with_mag(targets[level].mag, ceil=True)
        depth = _chain_depth([t.bounding_box for _, t in pairs], region, targets[level:])
        chain = targets[level : level + depth]
        tasks = [
            (
                s,
                [
                    t,
                    *(
                        m._region_view(t.bounding_box.align_with_mag(m.mag, ceil=True))
                        for m in chain[1:]
                    ),
                ],
                mode,
                limit,
            )
            for s, t in pairs
        ]
        names = ", ".join(m.mag.to_layer_name() for m in chain)
        desc = f"Downsampling {source.layer.name} to {names}"
        run_tasks(_chain_task, tasks, executor, desc=desc)
        source = chain[-1]
        level += depth


def downsample_into(
    source: MagView, target: MagView, mode: str, executor: Executor | None = None
) -> None:
    """Compute `target` (coarser) from `source`, one target shard per task."""
    downsample_chain(source, [target], mode, executor)


def upsample_into(source: MagView, target: MagView, executor: Executor | None = None) -> None:
    """Compute `target` (finer) from `source` by nearest-neighbour repetition, per target shard."""
    run_tasks(
        _upsample_task,
        _target_tasks(source, target),
        executor,
        desc=f"Upsampling {target.layer.name} to {target.mag.to_layer_name()}",
    )
