"""Parallel chunk work inside one call: same files and reads as the sequential path, caches that
see this process's rewrites, and one thread per call inside executor workers."""

from __future__ import annotations

import json
import os
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import webknossos_like as wkl
from webknossos_like import io_pool
from webknossos_like.errors import InvalidArgumentError
from webknossos_like.executors import processes, threads
from webknossos_like.geometry import BoundingBox, Vec3Int
from webknossos_like.parallel import run_tasks
from webknossos_like.storage.precomputed import array as array_module
from webknossos_like.storage.precomputed.array import PrecomputedArray
from webknossos_like.storage.precomputed.kvstore import FileKVStore, MemoryKVStore

SIZE = (40, 36, 20)
SHARDING = {
    "@type": "neuroglancer_uint64_sharded_v1",
    "preshift_bits": 0,
    "hash": "identity",
    "minishard_bits": 1,
    "shard_bits": 2,
    "minishard_index_encoding": "gzip",
    "data_encoding": "raw",
}


def _info(encoding: str, sharded: bool) -> dict[str, Any]:
    dtype = "uint8" if encoding == "raw" else "uint32"
    scale: dict[str, Any] = {
        "key": "1",
        "size": list(SIZE),
        "resolution": [1, 1, 1],
        "chunk_sizes": [[16, 16, 8]],
        "encoding": encoding,
        "voxel_offset": [3, 0, 5],
    }
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [4, 4, 4]
    if sharded:
        scale["sharding"] = SHARDING
    return {
        "@type": "neuroglancer_multiscale_volume",
        "type": "image" if encoding == "raw" else "segmentation",
        "data_type": dtype,
        "num_channels": 1,
        "scales": [scale],
    }


def _array(store: Any, encoding: str, sharded: bool) -> PrecomputedArray:
    store.put("info", json.dumps(_info(encoding, sharded)).encode())
    return PrecomputedArray(store, "1")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


writes = st.lists(
    st.tuples(
        st.tuples(st.integers(3, 42), st.integers(0, 35), st.integers(5, 24)),
        st.tuples(st.integers(1, 40), st.integers(1, 36), st.integers(1, 20)),
        st.integers(0, 2**31),
    ),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    encoding=st.sampled_from(["raw", "compressed_segmentation"]),
    sharded=st.booleans(),
    plan=writes,
    fortran=st.booleans(),
)
def test_parallel_and_sequential_write_identical_files(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
    sharded: bool,
    plan: list[tuple[tuple[int, int, int], tuple[int, int, int], int]],
    fortran: bool,
) -> None:
    # Small calls normally stay sequential: force the pool for these small volumes.
    monkeypatch.setattr(array_module, "_PARALLEL_MIN_BYTES", 0)
    roots = [tmp_path_factory.mktemp("seq"), tmp_path_factory.mktemp("par")]
    arrays = [_array(FileKVStore(root), encoding, sharded) for root in roots]
    domain = arrays[0].domain
    expected = np.zeros((1, 50, 40, 30), np.uint8 if encoding == "raw" else np.uint32)
    for offset, size, seed in plan:
        box = BoundingBox(offset, size).intersected_with(domain)
        if box.is_empty():
            continue
        rng = np.random.default_rng(seed)
        dtype = np.uint8 if encoding == "raw" else np.uint32
        data = rng.integers(0, 7, (1, *box.size), dtype=dtype)
        if fortran:
            data = np.asfortranarray(data)
        for array, n in zip(arrays, (1, 3), strict=True):
            with wkl.io_threads(n):
                array.write(box.topleft, data)
        expected[(slice(None), *box.to_slices())] = data
    assert _files(roots[0]) == _files(roots[1])
    whole = BoundingBox((0, 0, 0), (50, 40, 30))
    with wkl.io_threads(1):
        sequential = arrays[0].read(whole)
    with wkl.io_threads(4):
        parallel = arrays[1].read(whole)
    np.testing.assert_array_equal(sequential, parallel)
    np.testing.assert_array_equal(sequential, expected)  # what was written, merged in order
    assert not [p for p in roots[1].rglob("*") if p.name.startswith(".wkl-tmp-")]


@pytest.mark.parametrize("store_kind", ["file", "memory"])
def test_rewritten_shard_is_read_anew(tmp_path: Path, store_kind: str) -> None:
    store = FileKVStore(tmp_path) if store_kind == "file" else MemoryKVStore()
    array = _array(store, "raw", sharded=True)
    box = BoundingBox((3, 0, 5), (16, 16, 8))
    array.write(box.topleft, np.full((1, 16, 16, 8), 1, np.uint8))
    assert (array.read(box) == 1).all()  # indexes of this shard are now cached
    array.write(box.topleft, np.full((1, 16, 16, 8), 2, np.uint8))
    assert (array.read(box) == 2).all()
    small = BoundingBox((5, 2, 6), (4, 4, 4))
    array.write(small.topleft, np.full((1, 4, 4, 4), 3, np.uint8))
    assert (array.read(small) == 3).all()


def test_shard_rewritten_by_another_object_is_read_anew(tmp_path: Path) -> None:
    reader = _array(FileKVStore(tmp_path), "raw", sharded=True)
    writer = PrecomputedArray(FileKVStore(tmp_path), "1")
    box = BoundingBox((3, 0, 5), (16, 16, 8))
    writer.write(box.topleft, np.full((1, 16, 16, 8), 1, np.uint8))
    assert (reader.read(box) == 1).all()
    writer.write(box.topleft, np.full((1, 16, 16, 8), 5, np.uint8))
    assert (reader.read(box) == 5).all()


def test_failed_write_leaves_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    array = _array(FileKVStore(tmp_path), "raw", sharded=False)
    calls = {"n": 0}
    real = array_module.chunk_encoder

    def flaky_encoder(*args: Any, **kwargs: Any) -> Any:
        encode = real(*args, **kwargs)

        def flaky(data: np.ndarray) -> Any:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("boom")
            return encode(data)

        return flaky

    monkeypatch.setattr(array_module, "chunk_encoder", flaky_encoder)
    monkeypatch.setattr(array_module, "_PARALLEL_MIN_BYTES", 0)
    with pytest.raises(RuntimeError), wkl.io_threads(2):
        array.write(Vec3Int(3, 0, 5), np.ones((1, 40, 36, 20), np.uint8))
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["info"]


def _threads_here(_: object) -> int:
    return io_pool.threads_for_call()


def test_one_thread_inside_executor_workers() -> None:
    with wkl.io_threads(4):
        assert io_pool.threads_for_call() == 4
        with threads(2) as executor:
            assert run_tasks(_threads_here, range(6), executor) == [1] * 6
            direct: Future[int] = executor.submit(_threads_here, None)
            assert direct.result() == 1
        assert io_pool.threads_for_call() == 4
    # The internal pool's own threads never start nested pools either.
    assert io_pool.map_io(_threads_here, range(4), threads=2) == [1] * 4


def test_one_thread_inside_process_workers() -> None:
    with processes(1) as executor:
        assert executor.submit(_threads_here, None).result() == 1


def test_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(io_pool.ENV_VAR, raising=False)
    assert io_pool.threads_for_call() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(io_pool.ENV_VAR, "3")
    assert io_pool.threads_for_call() == 3
    try:
        assert wkl.config(io_threads=2) == {"io_threads": 2}
        assert io_pool.threads_for_call() == 2
        with wkl.io_threads(5):
            assert io_pool.threads_for_call() == 5
    finally:
        wkl.config(io_threads=None)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(InvalidArgumentError):
            wkl.config(io_threads=bad)  # type: ignore[arg-type]
    monkeypatch.setenv(io_pool.ENV_VAR, "many")
    with pytest.raises(InvalidArgumentError):
        io_pool.threads_for_call()


@pytest.mark.parametrize("gzip", [False, True])
def test_file_put_batch_replaces_the_other_representation(tmp_path: Path, gzip: bool) -> None:
    from webknossos_like.storage.precomputed._put_batch import put_batch

    store = FileKVStore(tmp_path, gzip=gzip)
    FileKVStore(tmp_path, gzip=not gzip).put("a/b", b"old")
    with put_batch(store) as batch:
        batch.put("a/b", b"new")
        batch.put("a/c", bytearray(b"more"))
        assert store.get("a/b") == b"old"  # nothing visible before the commit
    assert store.get("a/b") == b"new" and store.get("a/c") == b"more"
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == (["b.gz", "c.gz"] if gzip else ["b", "c"])


@pytest.mark.parametrize(
    ("encoding", "gzip", "expected"),
    [
        ("raw", False, ("imap_io", 1)),
        ("raw", True, ("map_io", 3)),
        ("compressed_segmentation", False, ("imap_io", 3)),
    ],
)
def test_unsharded_writes_encode_raw_chunks_on_the_calling_thread(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
    gzip: bool,
    expected: tuple[str, int],
) -> None:
    """Raw chunks are a copy each (the calling thread encodes them); CPU-heavy encodings are
    encoded on the pool while the calling thread writes; gzip (in `put`) runs on the pool."""
    array = _array(FileKVStore(tmp_path, gzip=gzip), encoding, sharded=False)
    monkeypatch.setattr(array_module, "_PARALLEL_MIN_BYTES", 0)
    seen: list[tuple[str, int | None]] = []

    def recording(name: str) -> Any:
        real = getattr(array_module, name)

        def call(fn: Any, items: Any, *, threads: int | None = None) -> Any:
            seen.append((name, threads))
            return real(fn, items, threads=threads)

        return call

    for name in ("map_io", "imap_io"):
        monkeypatch.setattr(array_module, name, recording(name))
    dtype = np.uint8 if encoding == "raw" else np.uint32
    data = np.arange(40 * 36 * 20, dtype=dtype).reshape(1, 40, 36, 20)
    with wkl.io_threads(3):
        array.write(Vec3Int(3, 0, 5), data)
    assert seen == [expected]
    np.testing.assert_array_equal(array.read(BoundingBox((3, 0, 5), (40, 36, 20))), data)


def test_imap_io_yields_in_order_and_bounds_the_tasks_in_flight() -> None:
    started: list[int] = []
    results = io_pool.imap_io(lambda i: started.append(i) or i * i, range(50), threads=2)
    assert next(results) == 0
    assert len(started) <= 2 * io_pool._IN_FLIGHT_PER_THREAD + 1  # not all 50 at once
    assert list(results) == [i * i for i in range(1, 50)]
    assert list(io_pool.imap_io(lambda i: -i, [3, 4], threads=1)) == [-3, -4]


def test_imap_io_reraises_and_stops_when_closed_early() -> None:
    def fail_at_7(i: int) -> int:
        if i == 7:
            raise ValueError("seven")
        return i

    with pytest.raises(ValueError, match="seven"):
        list(io_pool.imap_io(fail_at_7, range(40), threads=2))
    done: list[int] = []
    results = io_pool.imap_io(lambda i: done.append(i) or i, range(1000), threads=2)
    assert next(results) == 0
    results.close()
    count = len(done)
    assert count < 1000  # the rest was never started
    assert len(done) == count  # and nothing runs on after the close
