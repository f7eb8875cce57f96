"""Batched chunk writes: one call's files become durable together (fsync in parallel, then rename)."""

from __future__ import annotations

import contextlib
import gzip as _gzip
import os
from collections.abc import Callable, Iterator
from typing import Protocol

from ..._atomic import Buffer, DurableBatch
from ...errors import StorageError
from ...io_pool import in_executor_worker, map_io, threads_for_call
from .kvstore import GZIP_SUFFIX, KVStore

__all__ = ["FilePutBatch", "PutBatch", "put_batch"]

_GZIP_LEVEL = 6
# fsync waits for the disk, not the CPU: a few in flight let the file system merge them.
_MIN_FSYNC_THREADS = 4


class PutBatch(Protocol):
    """`put`s that are all visible and durable once `commit` returns."""

    def put(self, key: str, data: Buffer) -> None:
        """Stage `data` under `key` (thread-safe)."""

    def commit(self) -> None:
        """Make every staged value durable and visible."""

    def abort(self) -> None:
        """Drop what was staged and not committed."""


class _ImmediatePuts:
    """Stores without a batch: each `put` is one atomic store write."""

    def __init__(self, store: KVStore) -> None:
        self._store = store

    def put(self, key: str, data: Buffer) -> None:
        self._store.put(key, bytes(data) if not isinstance(data, bytes) else data)

    def commit(self) -> None:
        """Nothing left: every put was written at once."""

    def abort(self) -> None:
        """Nothing to undo: puts are written at once."""


def _fsync_map(fn: Callable[[str], None], paths: list[str]) -> object:
    threads = 1 if in_executor_worker() else max(_MIN_FSYNC_THREADS, threads_for_call())
    return map_io(fn, paths, threads=threads)


class FilePutBatch:
    """Local-file puts staged as temp files and committed by one `DurableBatch`."""

    def __init__(self, write_path: Callable[[str], str], *, gzip: bool, expected: int = 0) -> None:
        self._write_path = write_path
        self._gzip = gzip
        self._batch = DurableBatch(_fsync_map, expected=expected)
        self._folders: set[str] = set()  # folders known to exist (created or seen by this batch)

    def put(self, key: str, data: Buffer) -> None:
        path = self._write_path(key)
        if self._gzip:
            target, stale = path + GZIP_SUFFIX, path
            data = _gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
        else:
            target, stale = path, path + GZIP_SUFFIX
        try:
            folder = os.path.dirname(target)
            if folder not in self._folders:
                os.makedirs(folder, exist_ok=True)
                self._folders.add(folder)
            self._batch.stage(target, data, stale=stale)
        except OSError as exc:
            raise StorageError(f"{target}: cannot write: {exc}") from exc

    def commit(self) -> None:
        try:
            self._batch.commit()
        except OSError as exc:
            raise StorageError(f"cannot commit chunk files: {exc}") from exc

    def abort(self) -> None:
        self._batch.abort()


@contextlib.contextmanager
def put_batch(store: KVStore, *, expected: int = 0) -> Iterator[PutBatch]:
    """A batch for `store` (its own when it has one), committed when the block ends cleanly;
    `expected` is how many puts will come (a hint: many puts may be prepared ahead)."""
    make = getattr(store, "put_batch", None)
    batch: PutBatch = make(expected=expected) if callable(make) else _ImmediatePuts(store)
    try:
        yield batch
    except BaseException:
        batch.abort()
        raise
    batch.commit()
