"""WKW mags that one process may recompress in place while others read and write them.

`compress_in_place` builds an LZ4HC copy beside the mag and swaps it in; every reader and writer
of a `SwappableWKWArray` holds the mag's lock (`<layer>/.<mag>.lock`) shared per call, the swap
holds it exclusive. So a swap never lands between a write and its acknowledgement, and writes
that raced the copy are re-copied under the lock before the swap. Leftovers of a killed swap are
rolled forward or back by the next writable opener (`recover_swap`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from ..._atomic import TEMP_PREFIX, atomic_write_bytes
from ..._locks import SharedExclusiveLock
from ...errors import ReadOnlyError, StorageError
from ...geometry import BoundingBox, Vec3Int
from ...parallel import run_tasks
from ..backend import ArrayInfo
from .array import WKWArray, _parse_header

__all__ = ["SwappableWKWArray", "mag_lock", "recover_swap"]

_READY = "-ready-"
_OLD = "-old-"
# A shard whose mtime lies this close to (or after) the start of the copy may have been
# rewritten within the same file-system timestamp tick as the stamp: it is re-copied under the
# lock ("racily clean", as git calls it). Linux ticks are 1-10 ms.
_RACY_NS = 100_000_000


def mag_lock(path: Path) -> SharedExclusiveLock:
    """The lock of the WKW mag folder `path`; it lives beside the folder, which gets swapped."""
    return SharedExclusiveLock(path.parent / f".{path.name}.lock")


def _leftovers(path: Path, kind: str) -> dict[str, Path]:
    """Swap leftovers of one kind (`-ready-` / `-old-`) beside the mag folder, by swap id."""
    prefix = f"{TEMP_PREFIX}{path.name}{kind}"
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return {}
    return {name[len(prefix) :]: path.parent / name for name in names if name.startswith(prefix)}


def recover_swap(path: Path, *, read_only: bool) -> Path:
    """Finish or undo a swap that a crash interrupted; returns the folder to open.

    The swap renames the mag to `-old-<id>` and the copy `-ready-<id>` into place under the
    exclusive lock. With the mag folder missing, the copy of the same id is complete and
    current, so it is moved in (else the old folder is moved back). With the mag folder present,
    every leftover is stale (writes may have landed after it was made) and is deleted. Read-only
    openers change nothing and open the folder that recovery would move into place.
    """
    if not _leftovers(path, _READY) and not _leftovers(path, _OLD):
        return path
    if read_only:
        return path if path.exists() else _recovery_source(path) or path
    with mag_lock(path).exclusive():
        if not path.exists():
            source = _recovery_source(path)
            if source is not None:
                os.replace(source, path)
        for stale in [*_leftovers(path, _READY).values(), *_leftovers(path, _OLD).values()]:
            shutil.rmtree(stale, ignore_errors=True)
    return path


def _recovery_source(path: Path) -> Path | None:
    """The folder that becomes the mag after an interrupted swap: the copy of the swap that was
    under way, else the old mag (roll back), else the only copy there is."""
    ready, old = _leftovers(path, _READY), _leftovers(path, _OLD)
    for swap_id in sorted(old):
        if swap_id in ready:
            return ready[swap_id]
    if old:
        return sorted(old.values())[0]
    return sorted(ready.values())[-1] if ready else None


class SwappableWKWArray(WKWArray):
    """A WKW mag of a layer: each call holds the mag lock shared and follows a swap that another
    process (or object) made since the last call.

    With `locking=False` (read-only openers, which must not create lock files) calls follow
    swaps without the lock; a read in the instant between the two renames of a swap may then
    see the mag as empty.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, info: ArrayInfo | None = None, locking: bool = True
    ) -> None:
        super().__init__(path, info=info)
        self._mag_lock = mag_lock(self._path) if locking else None
        self._identity = self._folder_identity()

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "locking": self._mag_lock is not None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        SwappableWKWArray.__init__(
            self, state["path"], info=state["info"], locking=state["locking"]
        )

    def _folder_identity(self) -> int:
        """The mag folder's inode (a swap puts another folder there); -1 if it is missing."""
        try:
            return os.stat(self._path).st_ino
        except OSError:
            return -1

    def _follow_swap(self) -> bool:
        """Reopen (header, native handle, caches) if the folder was swapped since the last call;
        False if the folder is missing."""
        identity = self._folder_identity()
        if identity == -1:
            return False
        if identity != self._identity:
            self.close()
            WKWArray.__init__(self, self._path, info=_parse_header(self._path))
            self._identity = identity
        return True

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        """Hold the mag lock shared for one call; repair an interrupted swap first if needed."""
        if self._mag_lock is None:
            self._follow_swap()
            yield
            return
        for _ in range(2):
            with self._mag_lock.shared():
                if self._follow_swap():
                    yield
                    return
            recover_swap(self._path, read_only=False)
        raise StorageError(f"WKW mag folder {self._path} is missing.")

    def read(self, bbox: BoundingBox) -> np.ndarray:
        with self._using():
            return super().read(bbox)

    def read_at(self, topleft: tuple[int, int, int], size: tuple[int, int, int]) -> np.ndarray:
        # `_using` unrolled for the common case (this runs on every small read)
        lock = self._mag_lock
        if lock is None:
            self._follow_swap()
            return super().read_at(topleft, size)
        fd = lock.acquire_shared()
        try:
            if self._follow_swap():
                return super().read_at(topleft, size)
        finally:
            lock.release(fd)
        return self.read(BoundingBox(topleft, size))  # repairs an interrupted swap first

    def write(self, offset: Vec3Int, data: np.ndarray) -> None:
        with self._using():
            super().write(offset, data)

    def _symlinked_shard(self, target: Path, *, inside: bool) -> None:
        """Copy-on-write: a shard file that is a symlink (as `cp -rs` makes) is replaced by a
        private copy of what it points to before the write, so the write never reaches the
        target and a `cp -rs` copy stays editable."""
        self._check_shard_file(os.fspath(target))  # a WKW shard of this array, not /dev/zero
        _replace_link_with_copy(target)

    def list_written_boxes(self) -> Iterator[BoundingBox]:
        with self._using():
            boxes = list(super().list_written_boxes())
        yield from boxes

    def iter_stored_chunks(
        self, shard_index: Vec3Int, batch_bytes: int = 1 << 20, buffer: np.ndarray | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        with self._using():
            yield from super().iter_stored_chunks(
                shard_index, batch_bytes=batch_bytes, buffer=buffer
            )

    # -- in-place compression ---------------------------------------------------------------
    def _stamps(self) -> dict[BoundingBox, tuple[int, int, int, int]]:
        """(inode, size, mtime, ctime) of every shard file, by shard box."""
        stamps = {}
        for box in WKWArray.list_written_boxes(self):
            try:
                st = os.stat(self.shard_path(box.topleft // self._info.shard_shape))
            except FileNotFoundError:
                continue
            stamps[box] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        return stamps

    def compress_in_place(self, executor: Executor | None = None, desc: str | None = None) -> None:
        """Rewrite the mag with LZ4HC and swap the copy in, losing no concurrent write.

        The bulk copy runs without the lock (on `executor`); then, under the exclusive lock,
        shards changed since they were stamped are copied again and the folders are swapped.
        """
        if self._mag_lock is None:
            raise ReadOnlyError(
                f"{self._path} is open read-only and cannot be compressed in place."
            )
        with self._using():
            if self._info.compressed:
                return
            info = self._info
        started = time.time_ns()
        parent, name = self._path.parent, self._path.name
        scratch = parent / f"{TEMP_PREFIX}{name}-compress-{uuid.uuid4().hex}"
        target = WKWArray.create(
            scratch,
            dtype=info.dtype,
            num_channels=info.num_channels,
            chunk_shape=info.chunk_shape,
            shard_shape=info.shard_shape,
            compressed=True,
        )
        try:
            stamps = self._stamps()
            run_tasks(_copy_box, [(self, target, box) for box in stamps], executor, desc=desc)
            with self._mag_lock.exclusive():
                self._follow_swap()
                if self._info.compressed:  # another process compressed it meanwhile
                    return
                for box, stamp in self._stamps().items():
                    if stamps.get(box) != stamp or stamp[2] >= started - _RACY_NS:
                        target.write(box.topleft, WKWArray.read(self, box))
                target.close()
                swap_id = uuid.uuid4().hex
                ready = parent / f"{TEMP_PREFIX}{name}{_READY}{swap_id}"
                old = parent / f"{TEMP_PREFIX}{name}{_OLD}{swap_id}"
                os.replace(scratch, ready)
                self.close()
                os.replace(self._path, old)
                os.replace(ready, self._path)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _replace_link_with_copy(link: Path) -> None:
    """Replace a symlinked shard file by a private copy of its target (atomically; a dangling
    link is just removed)."""
    try:
        if not stat.S_ISREG(os.stat(link).st_mode):
            raise StorageError(f"{link} links to something that is not a file.")
        data = link.read_bytes()
    except FileNotFoundError:
        link.unlink(missing_ok=True)
        return
    atomic_write_bytes(link, data)


def _copy_box(task: tuple[WKWArray, WKWArray, BoundingBox]) -> None:
    """Copy one stored shard (mag coordinates) between arrays; module-level so it pickles."""
    source, target, box = task
    target.write(box.topleft, source.read(box))
