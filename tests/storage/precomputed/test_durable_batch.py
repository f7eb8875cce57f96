"""Batched durable chunk writes: new temp files, early writeback, fsync before rename, modes kept,
and the write fence checked per folder once but per file for symlinks."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import _atomic
from webknossos_like._atomic import DurableBatch, start_writeback, write_new_file
from webknossos_like.errors import InvalidNameError
from webknossos_like.storage.precomputed._put_batch import put_batch
from webknossos_like.storage.precomputed.kvstore import FileKVStore


def _serial_map(fn: object, items: list[str]) -> None:
    for item in items:
        fn(item)  # type: ignore[operator]


def test_write_new_file_writes_every_byte_with_open_mode(tmp_path: Path) -> None:
    data = np.arange(300_000, dtype=np.uint32)  # a buffer that is not bytes, > one write
    path = tmp_path / "f"
    write_new_file(str(path), memoryview(data))
    assert path.read_bytes() == data.tobytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_atomic.current_umask()


def test_write_new_file_refuses_existing_paths_and_symlinks(tmp_path: Path) -> None:
    (tmp_path / "old").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        write_new_file(str(tmp_path / "old"), b"new")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileExistsError):
        write_new_file(str(tmp_path / "link"), b"new")
    assert (tmp_path / "old").read_bytes() == b"keep"
    assert not (tmp_path / "elsewhere").exists()


def test_start_writeback_ignores_what_it_cannot_do(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()  # sync_file_range fails on a pipe: only speed is lost
    try:
        start_writeback(write_end)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_durable_batch_syncs_before_renaming_and_keeps_modes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(("rename", os.path.basename(src)))
        real_replace(src, dst)

    (tmp_path / "old").write_bytes(b"old")
    os.chmod(tmp_path / "old", 0o600)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    with DurableBatch(_serial_map) as batch:
        batch.stage(str(tmp_path / "old"), b"new")
        batch.stage(str(tmp_path / "fresh"), bytearray(b"x"))
        temps = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".wkl-tmp-"))
        assert len(temps) == 2 and (tmp_path / "old").read_bytes() == b"old"
    for name in temps:  # every temp file was fsynced before it was renamed
        assert events.index(("fsync", name)) < events.index(("rename", name))
    assert events[-1] == ("fsync", tmp_path.name)  # then the folder, once
    assert (tmp_path / "old").read_bytes() == b"new"
    assert stat.S_IMODE((tmp_path / "old").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o666 & ~_atomic.current_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "old"]


def test_durable_batch_abort_and_failed_stage_leave_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RuntimeError), DurableBatch(_serial_map) as batch:
        batch.stage(str(tmp_path / "a"), b"a")
        raise RuntimeError("stop")

    def broken_write(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", broken_write)
    batch = DurableBatch(_serial_map)
    with pytest.raises(OSError, match="No space"):
        batch.stage(str(tmp_path / "b"), b"b")
    assert list(tmp_path.iterdir()) == []


def test_temp_names_differ_between_batches(tmp_path: Path) -> None:
    first, second = DurableBatch(_serial_map), DurableBatch(_serial_map)
    first.stage(str(tmp_path / "a"), b"1")
    second.stage(str(tmp_path / "a"), b"2")  # would collide with a per-process counter alone
    second.commit()
    first.commit()
    assert (tmp_path / "a").read_bytes() == b"1"


def test_batch_refuses_symlinks_out_of_the_root_in_a_known_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "s").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_bytes(b"keep")
    (root / "s" / "link").symlink_to(outside / "secret")
    (root / "s" / "zip.gz").symlink_to(outside / "secret")
    (root / "out").symlink_to(outside, target_is_directory=True)
    store = FileKVStore(root)
    for key in ("s/link", "s/zip", "out/chunk"):
        with pytest.raises(InvalidNameError, match="outside"), put_batch(store) as batch:
            batch.put("s/fine", b"1")  # the folder "s" is now known to be inside
            batch.put(key, b"2")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"keep"
    assert not (root / "s" / "fine").exists()  # the failed batches committed nothing
    # Symlinks that stay inside the root are fine.
    (root / "inner").mkdir()
    (root / "alias").symlink_to(root / "inner", target_is_directory=True)
    with put_batch(store) as batch:
        batch.put("alias/a", b"3")
        batch.put("alias/b", b"4")
    assert (root / "inner" / "a").read_bytes() == b"3"
    assert (root / "inner" / "b").read_bytes() == b"4"


def test_batch_creates_folders_once_and_writes_nested_keys(tmp_path: Path) -> None:
    store = FileKVStore(tmp_path)
    keys = [f"s/{x}/{y}" for x in range(3) for y in range(4)]
    with put_batch(store) as batch:
        for key in keys:
            batch.put(key, key.encode())
    for key in keys:
        assert store.get(key) == key.encode()
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".wkl-tmp-")]
    assert leftovers == []


def test_without_sync_file_range_writes_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_library(*args: object, **kwargs: object) -> object:
        raise OSError("no libc here")

    monkeypatch.setattr(_atomic.ctypes, "CDLL", no_library)
    assert _atomic._load_sync_file_range() is None  # e.g. macOS or Windows
    monkeypatch.setattr(_atomic, "_sync_file_range", None)
    write_new_file(str(tmp_path / "f"), b"data")
    assert (tmp_path / "f").read_bytes() == b"data"


def test_sync_file_range_is_found_on_linux() -> None:
    if not os.path.exists("/proc/self"):
        pytest.skip("not Linux")
    assert _atomic._sync_file_range is not None


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".wkl-tmp-")]


def _helpers(batch: DurableBatch) -> dict[str, object]:
    return batch._precreated  # type: ignore[return-value]


@pytest.mark.parametrize("staged", [3, 20, 40])  # fewer, as many and more files than expected
def test_many_files_into_one_folder_are_created_ahead(tmp_path: Path, staged: int) -> None:
    batch = DurableBatch(_serial_map, expected=20)
    for i in range(staged):
        batch.stage(str(tmp_path / f"f{i}"), f"{i}".encode())
        if i == 1:
            assert str(tmp_path) in _helpers(batch)  # from the folder's second file on
    batch.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"f{i}" for i in range(staged))
    for i in range(staged):
        assert (tmp_path / f"f{i}").read_bytes() == f"{i}".encode()
    assert not _helpers(batch)


def test_abort_removes_files_created_ahead(tmp_path: Path) -> None:
    batch = DurableBatch(_serial_map, expected=100)
    for i in range(5):
        batch.stage(str(tmp_path / f"f{i}"), b"x")
    assert _temps(tmp_path)
    batch.abort()
    assert list(tmp_path.iterdir()) == []


def test_no_helper_for_small_batches_one_file_per_folder_or_executor_workers(
    tmp_path: Path,
) -> None:
    from webknossos_like.io_pool import as_executor_task

    small = DurableBatch(_serial_map, expected=3)
    for i in range(3):
        small.stage(str(tmp_path / f"s{i}"), b"x")
    nested = DurableBatch(_serial_map, expected=30)
    for i in range(30):
        (tmp_path / f"d{i}").mkdir()
        nested.stage(str(tmp_path / f"d{i}" / "chunk"), b"x")
    with as_executor_task():
        worker = DurableBatch(_serial_map, expected=30)
        for i in range(30):
            worker.stage(str(tmp_path / f"w{i}"), b"x")
    assert not _helpers(small) and not _helpers(nested) and not _helpers(worker)
    for batch in (small, nested, worker):
        batch.commit()
    assert not _temps(tmp_path)


def test_a_failing_helper_leaves_the_files_to_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _atomic.create_new_file
    helper_calls = {"n": 0}

    def flaky(path: str) -> int:
        if threading.current_thread().name == "wkl-create":
            helper_calls["n"] += 1
            if helper_calls["n"] > 3:
                raise OSError(24, "Too many open files")
        return real(path)

    monkeypatch.setattr(_atomic, "create_new_file", flaky)
    with DurableBatch(_serial_map, expected=30) as batch:
        for i in range(30):
            batch.stage(str(tmp_path / f"f{i}"), f"{i}".encode())
    assert helper_calls["n"] > 3  # the helper ran and failed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"f{i}" for i in range(30))
    assert all((tmp_path / f"f{i}").read_bytes() == f"{i}".encode() for i in range(30))
