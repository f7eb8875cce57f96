"""Zarr3Array on its own: round trips against numpy, growth, refusals, shard RMW, listing."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webknossos_like.errors import (
    DataShapeError,
    DTypeError,
    OutOfBoundsError,
    ReadOnlyError,
    StorageError,
    UnsupportedFormatError,
)
from webknossos_like.geometry import BoundingBox, Vec3Int
from webknossos_like.storage.backend import ArrayBackend
from webknossos_like.storage.zarr3.array import Zarr3Array

DTYPES = ["uint8", "uint16", "uint32", "uint64", "float32"]


def make(
    path: Path,
    dtype: str = "uint8",
    channels: int = 1,
    compressed: bool = True,
    chunk: int = 8,
    shard: int = 16,
) -> Zarr3Array:
    return Zarr3Array.create(
        path,
        dtype=dtype,
        num_channels=channels,
        chunk_shape=Vec3Int(chunk),
        shard_shape=Vec3Int(shard),
        compressed=compressed,
    )


def random_data(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "float32":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


def test_satisfies_backend_protocol(tmp_path: Path) -> None:
    array: ArrayBackend = make(tmp_path / "a")
    info = array.info
    assert (info.data_format, info.chunk_shape, info.shard_shape) == (
        "zarr3",
        Vec3Int(8),
        Vec3Int(16),
    )
    assert info.compressed and info.num_channels == 1 and info.dtype == np.uint8


boxes = st.tuples(st.tuples(*[st.integers(0, 40)] * 3), st.tuples(*[st.integers(1, 20)] * 3)).map(
    lambda t: BoundingBox(t[0], t[1])
)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("compressed", [True, False])
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(writes=st.lists(boxes, min_size=1, max_size=4), read=boxes, seed=st.integers(0, 2**32 - 1))
def test_round_trip_matches_numpy(
    tmp_path_factory: pytest.TempPathFactory,
    dtype: str,
    channels: int,
    compressed: bool,
    writes: list[BoundingBox],
    read: BoundingBox,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    array = make(tmp_path_factory.mktemp("rt") / "a", dtype, channels, compressed)
    reference = np.zeros((channels, 64, 64, 64), dtype=dtype)
    for box in writes:
        data = random_data(rng, dtype, (channels, *box.size.to_tuple()))
        array.write(box.topleft, data)
        reference[(slice(None), *box.to_slices())] = data
    end = Vec3Int(*np.max([b.bottomright.to_list() for b in writes], axis=0))
    assert array.shape == end
    # Reads beyond the shape return zeros (the reference is zero there).
    np.testing.assert_array_equal(array.read(read), reference[(slice(None), *read.to_slices())])
    fresh = Zarr3Array(array.path, read_only=True)
    everything = BoundingBox((0, 0, 0), (64, 64, 64))
    np.testing.assert_array_equal(fresh.read(everything), reference)


def test_write_grows_shape_and_resize_never_shrinks(tmp_path: Path) -> None:
    array = make(tmp_path / "a")
    assert array.shape == Vec3Int.zeros()
    array.write(Vec3Int(5, 0, 7), np.ones((1, 3, 4, 2), np.uint8))
    assert array.shape == Vec3Int(8, 4, 9)
    array.resize(Vec3Int(20, 2, 9))
    assert array.shape == Vec3Int(20, 4, 9)
    assert Zarr3Array(array.path).shape == Vec3Int(20, 4, 9)


def test_shape_seen_by_other_handle_after_growth(tmp_path: Path) -> None:
    first = make(tmp_path / "a")
    second = Zarr3Array(first.path)
    assert second.read(BoundingBox((0, 0, 0), (4, 4, 4))).sum() == 0  # opens the handle
    first.write(Vec3Int(30, 30, 30), np.full((1, 2, 2, 2), 7, np.uint8))
    assert second.read(BoundingBox((30, 30, 30), (2, 2, 2))).sum() == 56
    second.write(Vec3Int(40, 0, 0), np.full((1, 1, 1, 1), 1, np.uint8))
    assert Zarr3Array(first.path).shape == Vec3Int(41, 32, 32)


def test_concurrent_growth_from_threads(tmp_path: Path) -> None:
    array = make(tmp_path / "a")

    def work(i: int) -> None:
        array.write(Vec3Int(16 * i, 0, 0), np.full((1, 16, 16, 16), i + 1, np.uint8))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert array.shape == Vec3Int(96, 16, 16)
    data = array.read(BoundingBox((0, 0, 0), (96, 16, 16)))
    for i in range(6):
        assert (data[:, 16 * i : 16 * (i + 1)] == i + 1).all()


def test_refusals(tmp_path: Path) -> None:
    array = make(tmp_path / "a", dtype="uint16", channels=2)
    with pytest.raises(OutOfBoundsError):
        array.write(Vec3Int(-1, 0, 0), np.zeros((2, 1, 1, 1), np.uint16))
    with pytest.raises(DTypeError):
        array.write(Vec3Int(0, 0, 0), np.zeros((2, 1, 1, 1), np.uint8))
    with pytest.raises(DataShapeError):
        array.write(Vec3Int(0, 0, 0), np.zeros((1, 1, 1, 1), np.uint16))
    with pytest.raises(DataShapeError):
        array.write(Vec3Int(0, 0, 0), np.zeros((2, 1, 1), np.uint16))
    read_only = Zarr3Array(array.path, read_only=True)
    with pytest.raises(ReadOnlyError):
        read_only.write(Vec3Int(0, 0, 0), np.zeros((2, 1, 1, 1), np.uint16))
    with pytest.raises(ReadOnlyError):
        read_only.resize(Vec3Int(4, 4, 4))
    assert array.shape == Vec3Int.zeros()  # nothing was written by the refused calls
    with pytest.raises(StorageError):
        make(tmp_path / "a")
    with pytest.raises(DTypeError):
        make(tmp_path / "b", dtype="complex64")
    with pytest.raises(UnsupportedFormatError):
        make(tmp_path / "c", chunk=8, shard=12)


def test_pickle_reopens_lazily(tmp_path: Path) -> None:
    array = make(tmp_path / "a", channels=3)
    data = np.arange(3 * 4 * 5 * 6, dtype=np.uint8).reshape(3, 4, 5, 6)
    array.write(Vec3Int(1, 2, 3), data)
    blob = pickle.dumps(array)
    assert len(blob) < 1000
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone.read(BoundingBox((1, 2, 3), (4, 5, 6))), data)
    clone.write(Vec3Int(0, 0, 0), data)
    with pytest.raises(ReadOnlyError):
        pickle.loads(pickle.dumps(Zarr3Array(array.path, read_only=True))).write(
            Vec3Int(0, 0, 0), data
        )
    array.close()
    np.testing.assert_array_equal(array.read(BoundingBox((0, 0, 0), (4, 5, 6))), data)


def _mtimes(path: Path) -> dict[str, int]:
    return {
        str(p.relative_to(path)): p.stat().st_mtime_ns
        for p in (path / "c").rglob("*")
        if p.is_file()
    }


def test_unaligned_write_rewrites_only_touched_shards(tmp_path: Path) -> None:
    array = make(tmp_path / "a", chunk=8, shard=16)
    array.write(Vec3Int(0, 0, 0), np.full((1, 48, 32, 16), 5, np.uint8))
    before = _mtimes(array.path)
    assert len(before) == 3 * 2 * 1
    # Backdate every shard so that any rewrite shows as a changed mtime.
    for name in before:
        os.utime(array.path / name, ns=(0, 0))
    before = _mtimes(array.path)
    # Unaligned: x 20..27, y 3..9 lies inside shard (1, 0, 0) only.
    array.write(Vec3Int(20, 3, 1), np.full((1, 8, 7, 2), 9, np.uint8))
    after = _mtimes(array.path)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"c/0/1/0/0"}
    data = array.read(BoundingBox((0, 0, 0), (48, 32, 16)))
    assert (data[0, 20:28, 3:10, 1:3] == 9).all()
    assert (data == 9).sum() == 8 * 7 * 2 and (data == 5).sum() == 48 * 32 * 16 - 8 * 7 * 2


def test_list_written_boxes(tmp_path: Path) -> None:
    array = make(tmp_path / "a", chunk=8, shard=16)
    assert list(array.list_written_boxes()) == []
    array.write(Vec3Int(17, 3, 0), np.ones((1, 4, 4, 4), np.uint8))
    array.write(Vec3Int(40, 33, 2), np.ones((1, 1, 1, 1), np.uint8))
    # A tensorstore lock file from an interrupted write is no shard.
    (array.path / "c" / "0" / "1" / "0" / "1.__lock").write_bytes(b"")
    boxes = list(array.list_written_boxes())
    assert boxes == [
        BoundingBox((16, 0, 0), (16, 16, 4)),
        BoundingBox((32, 32, 0), (9, 2, 4)),  # clipped to the shape (41, 34, 4)
    ]


def test_list_written_boxes_unsharded(tmp_path: Path) -> None:
    array = make(tmp_path / "a", chunk=8, shard=8)
    array.write(Vec3Int(9, 0, 0), np.ones((1, 2, 2, 2), np.uint8))
    assert array.info.shard_shape == Vec3Int(8)
    assert list(array.list_written_boxes()) == [BoundingBox((8, 0, 0), (3, 2, 2))]


def test_io_threads_cap_tensorstore_chunk_threads(tmp_path: Path) -> None:
    """`io_threads` (and executor workers, which get 1) reach tensorstore as the
    `data_copy_concurrency` limit of the handle a call uses; the voxels are the same."""
    from concurrent.futures import ThreadPoolExecutor

    from webknossos_like import io_threads
    from webknossos_like.parallel import run_tasks

    array = Zarr3Array.create(
        tmp_path / "a",
        dtype="uint16",
        num_channels=1,
        chunk_shape=(16,) * 3,
        shard_shape=(32,) * 3,
        compressed=True,
    )
    data = np.arange(48**3, dtype=np.uint16).reshape(1, 48, 48, 48)
    with io_threads(3):
        array.write(Vec3Int(0, 0, 0), data)

    def limit() -> int:
        spec = array._handle().spec(retain_context=True).to_json()
        return int(spec["context"]["data_copy_concurrency"]["limit"])

    with io_threads(3):
        assert limit() == 3
    with io_threads(1):
        assert limit() == 1
        np.testing.assert_array_equal(array.read(BoundingBox((0, 0, 0), (48, 48, 48))), data)
    with ThreadPoolExecutor(2) as pool:  # a task of an executor: single-threaded calls
        assert run_tasks(lambda _: limit(), [0, 1], pool) == [1, 1]
