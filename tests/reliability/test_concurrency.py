"""Several processes write one mag and change one dataset's metadata at the same time.

Writers get disjoint, shard-aligned boxes (`View.shard_aligned_boxes` over the mag's shard grid,
`MagView.info.shard_shape`), dealt round-robin, so no two processes ever write the same file;
the boxes reach beyond the layer's bounding box, so the writers also grow it concurrently.
At the same time other processes add layers (with mags and data) and add mags to the layer
being written. Afterwards every layer and mag must be listed, the layer box must be the union
of all boxes, and every voxel must be what its writer wrote.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import filelock
import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset
from webknossos_like.errors import AlignmentError
from webknossos_like.storage.precomputed.kvstore import FileKVStore

from ._workers import (
    Box,
    add_layers,
    add_mags,
    box_data,
    refresh_largest_segment_id,
    union,
    write_boxes,
)

WRITERS = 3
LAYER_ADDERS = 2
LAYERS_EACH = 3
SEED = 7
PRECOMPUTED = "neuroglancerPrecomputed"


def _run(processes: list[tuple[Any, tuple[Any, ...]]], method: str = "spawn") -> None:
    """Start every process at once (a barrier after their imports) and wait for all."""
    ctx = multiprocessing.get_context(method)
    barrier = ctx.Barrier(len(processes))
    procs = [ctx.Process(target=fn, args=(barrier, *args)) for fn, args in processes]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    hung = [proc for proc in procs if proc.is_alive()]
    for proc in hung:
        proc.kill()
        proc.join()
    assert not hung, f"{len(hung)} processes hung"
    codes = [proc.exitcode for proc in procs]
    assert codes == [0] * len(procs), f"a worker process failed: exit codes {codes}"


def _scenario(
    path: Path, data_format: str, target: BoundingBox, mag_kwargs: dict[str, Any], presize: bool
) -> tuple[list[Box], list[str]]:
    """Create the dataset, run writers and metadata changers at once; return boxes and mags."""
    ds = Dataset(path, voxel_size=(1, 1, 1))
    shared = ds.add_layer(
        "shared", "color", data_format=data_format, bounding_box=target if presize else None
    )
    mag = shared.add_mag(1, **mag_kwargs)
    shard = mag.info.shard_shape
    boxes: list[Box] = [
        (box.topleft.to_tuple(), box.size.to_tuple()) for box in mag.shard_aligned_boxes(target)
    ]
    assert len(boxes) >= 2 * WRITERS, f"shard {shard} leaves too few boxes in {target}"
    for topleft, _ in boxes:  # really shard-aligned: disjoint files per writer
        assert all(t % s == 0 for t, s in zip(topleft, shard, strict=True))
    indexed = list(enumerate(boxes))
    extra_mags = ["2", "4-4-2", "8"]
    jobs: list[tuple[Any, tuple[Any, ...]]] = [
        (write_boxes, (str(path), "shared", indexed[w::WRITERS], SEED, "uint8"))
        for w in range(WRITERS)
    ]
    jobs += [
        (add_layers, (str(path), f"extra{a}_", LAYERS_EACH, data_format))
        for a in range(LAYER_ADDERS)
    ]
    jobs.append((add_mags, (str(path), "shared", extra_mags)))
    _run(jobs)
    return boxes, ["1", *extra_mags]


def _check(path: Path, boxes: list[Box], mags: list[str], expect_box: BoundingBox) -> None:
    ds = Dataset.open(path)
    expected_layers = {"shared"} | {
        f"extra{a}_{k}" for a in range(LAYER_ADDERS) for k in range(LAYERS_EACH)
    }
    assert set(ds.layers) == expected_layers
    for a in range(LAYER_ADDERS):
        for k in range(LAYERS_EACH):
            layer = ds.get_layer(f"extra{a}_{k}")
            assert [m.to_layer_name() for m in layer.mags] == ["1", "2"]
            block = layer.get_mag(1).read(absolute_offset=(8 * k, 0, 0), size=(8, 8, 8))
            assert (block == k + 1).all()
    shared = ds.get_layer("shared")
    assert sorted(m.to_layer_name() for m in shared.mags) == sorted(mags)
    assert shared.bounding_box == expect_box
    volume = shared.get_mag(1).read(absolute_bounding_box=expect_box)[0]
    wrong = []
    for index, (topleft, size) in enumerate(boxes):
        piece = BoundingBox(topleft, size).offset(-expect_box.topleft)
        got = volume[piece.to_slices()]
        if not np.array_equal(got, box_data(SEED, index, size, "uint8")):
            wrong.append((index, topleft, int((got == 0).sum())))
    assert not wrong, (
        f"{len(wrong)}/{len(boxes)} boxes wrong (index, topleft, zero voxels): {wrong[:5]}"
    )


def test_wkw_concurrent_writers_and_metadata_changes(fast_tmp: Path, stats: Counter[str]) -> None:
    target = BoundingBox((0, 0, 0), (256, 256, 128))
    kwargs = {"compress": True, "chunk_shape": 32, "shard_shape": 64}
    boxes, mags = _scenario(fast_tmp / "ds", "wkw", target, kwargs, presize=False)
    _check(fast_tmp / "ds", boxes, mags, union(boxes))
    stats["concurrency: shard-aligned boxes written in parallel (wkw)"] += len(boxes)


def test_wkw_raw_concurrent_writers(fast_tmp: Path, stats: Counter[str]) -> None:
    target = BoundingBox((0, 0, 0), (256, 256, 128))
    kwargs = {"compress": False, "chunk_shape": 32, "shard_shape": 64}
    boxes, mags = _scenario(fast_tmp / "ds", "wkw", target, kwargs, presize=False)
    _check(fast_tmp / "ds", boxes, mags, union(boxes))
    stats["concurrency: shard-aligned boxes written in parallel (wkw raw)"] += len(boxes)


@pytest.mark.parametrize("compress", [True, False], ids=["zstd", "raw"])
def test_zarr3_concurrent_writers_and_metadata_changes(
    fast_tmp: Path, stats: Counter[str], compress: bool
) -> None:
    """Processes writing different shards of one Zarr v3 mag at once (each growing the layer
    box and the array shape) lose nothing."""
    target = BoundingBox((0, 0, 0), (256, 256, 128))
    kwargs = {"compress": compress, "chunk_shape": 32, "shard_shape": 64}
    boxes, mags = _scenario(fast_tmp / "ds", "zarr3", target, kwargs, presize=False)
    _check(fast_tmp / "ds", boxes, mags, union(boxes))
    stats["concurrency: shard-aligned boxes written in parallel (zarr3)"] += len(boxes)


@pytest.mark.parametrize("presize", [True, False], ids=["presized", "growing"])
def test_precomputed_concurrent_writers_and_metadata_changes(
    fast_tmp: Path, stats: Counter[str], presize: bool
) -> None:
    target = BoundingBox((0, 0, 0), (256, 256, 128))
    kwargs = {"compress": False, "chunk_shape": 64}
    boxes, mags = _scenario(fast_tmp / "ds", PRECOMPUTED, target, kwargs, presize=presize)
    _check(fast_tmp / "ds", boxes, mags, target if presize else union(boxes))
    stats[f"concurrency: chunk-aligned boxes written in parallel (precomputed, {presize=})"] += len(
        boxes
    )


def test_precomputed_sharded_concurrent_writers_on_disjoint_shards(
    fast_tmp: Path, stats: Counter[str]
) -> None:
    """Sharded scales: the shard grid follows from the scale's size, so the layer is created
    with its final bounding box; then 8 shards of 8x8x8 chunks take disjoint writers."""
    target = BoundingBox((0, 0, 0), (256, 256, 256))
    kwargs = {"sharded": True, "chunk_shape": 16}
    boxes, mags = _scenario(fast_tmp / "ds", PRECOMPUTED, target, kwargs, presize=True)
    _check(fast_tmp / "ds", boxes, mags, target)
    stats["concurrency: shard-aligned boxes written in parallel (precomputed sharded)"] += len(
        boxes
    )


def _interleave_after_first_info_save(
    monkeypatch: pytest.MonkeyPatch, lock_path: Path, other: Callable[[], None]
) -> dict[str, bool]:
    """Run `other()` once, inside the next write, at the first moment after that write has saved
    the layer's `info` and released the info lock (i.e. where another process could run)."""
    state = {"armed": False, "done": False}
    put, get = FileKVStore.put, FileKVStore.get

    def lock_is_free() -> bool:
        lock = filelock.FileLock(str(lock_path))
        try:
            lock.acquire(timeout=0)
        except (filelock.Timeout, RuntimeError):  # held: by another instance in this thread
            return False
        lock.release()
        return True

    def maybe_run() -> None:
        if state["armed"] and not state["done"] and lock_is_free():
            state["done"] = True
            other()

    def hooked_put(self: FileKVStore, key: str, data: bytes) -> None:
        put(self, key, data)
        if key == "info":
            state["armed"] = True
        maybe_run()

    def hooked_get(self: FileKVStore, key: str, *, max_size: int | None = None) -> bytes | None:
        maybe_run()
        return get(self, key, max_size=max_size)

    monkeypatch.setattr(FileKVStore, "put", hooked_put)
    monkeypatch.setattr(FileKVStore, "get", hooked_get)
    return state


@pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: precomputed growth saves a scale domain computed before another writer grew "
    "it (sync_domains/_regrid resize without re-merging), shrinking the domain: that writer's "
    "data reads as 0 and later writes inside the layer box raise OutOfBoundsError",
)
def test_precomputed_growth_by_two_writers_interleaved(
    fast_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic form of the race `test_precomputed_concurrent_..._growing` can only hit by
    chance: writer B grows the layer between writer A's two `info` updates."""
    path = fast_tmp / "ds"
    a = Dataset(path, voxel_size=(1, 1, 1))
    a.add_layer("l", "color", data_format=PRECOMPUTED).add_mag(1, compress=False)
    a.get_layer("l").get_mag(1).write(np.full((64, 64, 64), 1, np.uint8))
    b = Dataset.open(path)

    def writer_b() -> None:
        b.get_layer("l").get_mag(1).write(
            np.full((64, 64, 64), 3, np.uint8), absolute_offset=(128, 0, 0)
        )

    state = _interleave_after_first_info_save(monkeypatch, path / "l" / ".info.lock", writer_b)
    a.get_layer("l").get_mag(1).write(
        np.full((64, 64, 64), 2, np.uint8), absolute_offset=(64, 0, 0)
    )
    monkeypatch.undo()
    if not state["done"]:  # the write no longer has that window: run B afterwards
        writer_b()
    layer = Dataset.open(path).get_layer("l")
    assert layer.bounding_box == BoundingBox((0, 0, 0), (192, 64, 64))
    mag = layer.get_mag(1)
    for x, value in ((0, 1), (64, 2), (128, 3)):
        block = mag.read(absolute_offset=(x, 0, 0), size=(64, 64, 64))
        assert (block == value).all(), f"block at x={x}: {np.unique(block)} instead of {value}"
    # A later write inside the layer box must still work.
    mag.write(np.full((8, 8, 8), 4, np.uint8), absolute_offset=(150, 0, 0))


def _noop(args: Any) -> None:
    """A chunk job that must never run (module-level so it would pickle)."""
    raise AssertionError("a misaligned chunk job ran")


@pytest.mark.parametrize("data_format", ["wkw", "zarr3", PRECOMPUTED])
def test_parallel_helpers_refuse_chunks_that_share_a_shard(
    fast_tmp: Path, data_format: str
) -> None:
    """Unaligned concurrent writes to one shard are unsafe (docs/reliability.md); the parallel
    helpers refuse writable chunks that are not whole shards, before any job runs."""
    ds = Dataset(fast_tmp / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer(
        "l", "color", data_format=data_format, bounding_box=BoundingBox((0, 0, 0), (128, 128, 64))
    )
    kwargs: dict[str, Any] = (
        {"chunk_shape": 32, "shard_shape": 64}
        if data_format != PRECOMPUTED
        else {"chunk_shape": 64}
    )
    mag = layer.add_mag(1, **kwargs)
    half_shard = mag.info.shard_shape // 2
    with pytest.raises(AlignmentError):
        mag.for_each_chunk(_noop, chunk_shape=half_shard)
    with pytest.raises(AlignmentError):
        mag.map_chunk(_noop, chunk_shape=half_shard)
    # Read-only views may use any chunking.
    assert len(mag.get_view(read_only=True).map_chunk(_count, chunk_shape=half_shard)) == 4 * 4 * 2


def _count(view: Any) -> int:
    return 1


@pytest.mark.parametrize("data_format", ["wkw", PRECOMPUTED])
@pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: properties_file._lock_for caches one FileLock per path for the whole process; a "
    "child forked (multiprocessing's default start method on Linux) after the parent saved "
    "metadata reuses it, and filelock refuses: RuntimeError 'UnixFileLock ... was inherited "
    "across fork; construct a new instance' on the child's first metadata change",
)
def test_forked_writers_after_the_parent_wrote(fast_tmp: Path, data_format: str) -> None:
    """Writers forked from a process that has already written the dataset (e.g. a
    `multiprocessing.Pool()` on Linux) grow the layer and write, like spawned ones."""
    path = fast_tmp / "ds"
    ds = Dataset(path, voxel_size=(1, 1, 1))
    mag = ds.add_layer("shared", "color", data_format=data_format).add_mag(1, compress=False)
    mag.write(np.ones((8, 8, 8), np.uint8))
    boxes: list[Box] = [((64 * i, 0, 0), (64, 64, 64)) for i in range(4)]
    indexed = list(enumerate(boxes))
    _run(
        [(write_boxes, (str(path), "shared", indexed[w::2], SEED, "uint8")) for w in range(2)],
        method="fork",
    )
    shared = Dataset.open(path).get_layer("shared")
    assert shared.bounding_box == union(boxes)
    for index, (topleft, size) in indexed:
        got = shared.get_mag(1).read(absolute_offset=topleft, size=size)[0]
        assert np.array_equal(got, box_data(SEED, index, size, "uint8"))


@pytest.mark.regression(
    reason="bug: a process holding a segmentation layer whose largest_segment_id was None kept "
    "skipping the id update on writes after another process had set the id: labels above the "
    "saved id went unrecorded"
)
def test_largest_segment_id_set_by_another_process_is_raised_by_writes(fast_tmp: Path) -> None:
    ds = Dataset(fast_tmp / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("seg", "segmentation", dtype="uint32")
    layer.add_mag(1).write(np.full((8, 8, 8), 5, np.uint32))
    layer.largest_segment_id = None
    holder = Dataset.open(fast_tmp / "ds").get_segmentation_layer("seg")  # A: sees None
    assert holder.largest_segment_id is None
    _run([(refresh_largest_segment_id, (str(fast_tmp / "ds"), "seg"))])  # B, another process
    assert Dataset.open(fast_tmp / "ds").get_segmentation_layer("seg").largest_segment_id == 5
    holder.get_mag(1).write(np.full((8, 8, 8), 9, np.uint32), absolute_offset=(8, 0, 0))
    assert Dataset.open(fast_tmp / "ds").get_segmentation_layer("seg").largest_segment_id == 9
    holder.get_mag(1).write(np.full((8, 8, 8), 12, np.uint32), absolute_offset=(0, 0, 0))
    assert Dataset.open(fast_tmp / "ds").get_segmentation_layer("seg").largest_segment_id == 12
    assert holder.largest_segment_id == 12
