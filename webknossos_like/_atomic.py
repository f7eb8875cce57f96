"""Crash-safe file replacement: write to a temp file in the same folder, fsync, rename into place
(one file at a time, or a batch fsynced together)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .io_pool import in_executor_worker

Buffer = bytes | bytearray | memoryview

TEMP_PREFIX = ".wkl-tmp-"
# A staged file is new and private: created exclusively, never through a symlink.
_NEW_FILE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
)
_SYNC_FILE_RANGE_WRITE = 2  # Linux <fcntl.h>: start writeback of dirty pages, do not wait
# Batches of at least this many files create a folder's temp files ahead, this many at a time.
_PRECREATE_MIN_FILES = 8
_PRECREATE_AHEAD = 8


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's `sync_file_range` (Linux only; Python has no binding), or None elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        function: Any = libc.sync_file_range
    except (OSError, AttributeError, TypeError):  # no such library or function (not Linux)
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_sync_file_range = _load_sync_file_range()


def start_writeback(fd: int) -> None:
    """Ask the kernel to start writing `fd`'s dirty pages to disk now, without waiting.

    Not a durability guarantee (that stays the job of fsync): it only lets the disk work while
    the caller encodes the next file, so that the final fsync finds little left to write.
    """
    if _sync_file_range is not None:
        _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # failures only cost speed


def create_new_file(path: str) -> int:
    """Create `path` exclusively (mode 0o666 minus umask, as `open` gives); its descriptor."""
    return os.open(path, _NEW_FILE_FLAGS, 0o666)


def fill_new_file(fd: int, data: Buffer) -> None:
    """Write `data` to the new file `fd`, start its writeback and close it (no fsync: the
    caller syncs a batch of such files together)."""
    try:
        view = memoryview(data).cast("B")
        written = 0
        while written < len(view):
            written += os.write(fd, view[written:])
        start_writeback(fd)
    finally:
        os.close(fd)


def write_new_file(path: str, data: Buffer) -> None:
    """Create `path` exclusively, write `data` and start its writeback (see the two above)."""
    fill_new_file(create_new_file(path), data)


class _Precreated:
    """Empty temp files of one folder, created ahead of use by a helper thread.

    Creating a file waits for the file system's journal, the more so while other processes
    fsync; created ahead, that wait overlaps with the encoding and writing of earlier files.
    At most `ahead` files wait unused and at most `budget` are created in all; `close` removes
    those never handed out. Any failure of the helper only ends it: `take` then returns None
    and the caller creates its file itself (and sees the error, if it persists).
    """

    def __init__(self, name: Callable[[], str], budget: int, ahead: int) -> None:
        self._name = name
        self._budget = budget
        self._ready: queue.SimpleQueue[tuple[str, int] | None] = queue.SimpleQueue()
        self._room = threading.Semaphore(ahead)
        self._lock = threading.Lock()
        self._handed = 0
        self._alive = True
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="wkl-create", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Create files while there is room, until the budget is spent or `close` is called."""
        try:
            for _ in range(self._budget):
                self._room.acquire()
                if self._stop:
                    break
                path = self._name()
                self._ready.put((path, create_new_file(path)))
        except BaseException:  # the caller then creates its own files (and sees the error)
            pass
        finally:
            self._ready.put(None)

    def take(self) -> tuple[str, int] | None:
        """A created temp file `(path, fd)`, or None when the helper is done or failed."""
        with self._lock:
            if not self._alive or self._handed >= self._budget:
                return None
            item = self._ready.get()
            if item is None:
                self._alive = False
                return None
            self._handed += 1
        self._room.release()
        return item

    def close(self) -> None:
        """Stop the helper and remove the files it created that were never taken."""
        self._stop = True
        self._room.release()
        self._thread.join()
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                os.close(item[1])
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(item[0])


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def make_temp_dir(parent: str | os.PathLike[str], prefix: str = TEMP_PREFIX) -> Path:
    """A scratch folder with the permissions a plain `mkdir` would give (mkdtemp makes it 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, 0o777 & ~current_umask())
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never a mix."""
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        # mkstemp creates 0600 files; keep the old file's mode, or what open() would have given.
        try:
            mode = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~current_umask()
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str, *, fsync: bool = True) -> None:
    """Text flavour of `atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def swap_folder(target: str | os.PathLike[str], replacement: str | os.PathLike[str]) -> None:
    """Put the finished folder `replacement` in place of `target` by two renames, then delete
    the old one; if the second rename fails, the old folder is put back."""
    target, replacement = Path(target), Path(replacement)
    old = target.parent / f"{TEMP_PREFIX}{target.name}-old-{uuid.uuid4().hex}"
    os.rename(target, old)
    try:
        os.rename(replacement, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


class DurableBatch:
    """Many file replacements made durable together: stage each as an unsynced temp file, then
    fsync them all (in parallel), rename each into place and fsync each folder once.

    Each file is still replaced atomically (readers see the old or the new file); `commit`
    returns only when every new file and every rename is on disk. `abort` (or an exception
    inside `with`) removes the staged temp files and leaves the targets untouched.
    """

    def __init__(
        self,
        map_fn: Callable[[Callable[[str], None], list[str]], object],
        *,
        expected: int = 0,
    ) -> None:
        """`map_fn` runs the fsyncs; `expected` (how many files the caller will stage) lets a
        batch of many files into one folder create them ahead on a helper thread."""
        self._map = map_fn
        self._lock = threading.Lock()
        # (temp file, target, stale file to remove after the rename, or None)
        self._staged: list[tuple[str, str, str | None]] = []
        # Temp names: a random token per batch and a counter (cheaper than mkstemp's retries).
        self._token = uuid.uuid4().hex[:16]
        self._counter = itertools.count()
        self._expected = expected
        self._folders: dict[str, int] = {}  # files staged per folder so far
        self._precreated: dict[str, _Precreated] = {}

    def _temp_name(self, folder: str) -> str:
        """A new temp file name in `folder`, unique to this batch."""
        return os.path.join(folder, f"{TEMP_PREFIX}{self._token}-{next(self._counter)}")

    def _precreator(self, folder: str) -> _Precreated | None:
        """The helper creating `folder`'s temp files ahead: started once a folder has received
        a second file of a batch expected to hold many (a flat chunk folder), never for the
        one-file-per-folder case, and not inside executor workers (already parallel)."""
        with self._lock:
            helper = self._precreated.get(folder)
            if helper is not None or self._expected < _PRECREATE_MIN_FILES:
                return helper
            seen = self._folders[folder] = self._folders.get(folder, 0) + 1
            if seen < 2 or not _may_use_helper_threads():
                return None
            budget = self._expected - len(self._staged)  # this file and the ones to come
            if budget < _PRECREATE_MIN_FILES:
                return None
            helper = _Precreated(lambda: self._temp_name(folder), budget, ahead=_PRECREATE_AHEAD)
            self._precreated[folder] = helper
            return helper

    def stage(self, path: str, data: Buffer, *, stale: str | None = None) -> None:
        """Write `data` to a temp file beside `path` (thread-safe; nothing visible yet); its
        writeback starts at once, so that `commit`'s fsyncs mostly just wait."""
        folder = os.path.dirname(path)
        helper = self._precreator(folder)
        created = helper.take() if helper is not None else None
        if created is None:
            tmp_name = self._temp_name(folder)
            try:
                fd = create_new_file(tmp_name)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
                raise
        else:
            tmp_name, fd = created
        try:
            fill_new_file(fd, data)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        with self._lock:
            self._staged.append((tmp_name, path, stale))

    def _stop_precreating(self) -> None:
        """Stop the helpers; the files they created but nobody used are removed."""
        helpers, self._precreated = list(self._precreated.values()), {}
        for helper in helpers:
            helper.close()

    def commit(self) -> None:
        """fsync every staged file, rename each into place, fsync their folders."""
        self._stop_precreating()
        staged, self._staged = self._staged, []
        try:
            self._map(_fsync_path, [tmp for tmp, _, _ in staged])
        except BaseException:
            for tmp, _, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            raise
        for index, (tmp, target, stale) in enumerate(staged):
            try:
                _keep_mode(tmp, target)
                os.replace(tmp, target)
            except BaseException:
                for rest, _, _ in staged[index:]:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(rest)
                raise
            if stale is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stale)
        self._map(_fsync_path, sorted({os.path.dirname(target) for _, target, _ in staged}))

    def abort(self) -> None:
        """Remove every staged temp file."""
        self._stop_precreating()
        staged, self._staged = self._staged, []
        for tmp, _, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def __enter__(self) -> DurableBatch:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _keep_mode(tmp: str, target: str) -> None:
    """Give the temp file the mode of the file it replaces (a new file keeps open()'s mode)."""
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return
    if os.stat(tmp).st_mode & 0o7777 != mode:
        os.chmod(tmp, mode)


def _may_use_helper_threads() -> bool:
    """False inside executor workers (their calls stay on one thread, see `io_pool`)."""
    return not in_executor_worker()


def _fsync_path(path: str) -> None:
    """fsync a file or folder by path (a read-only descriptor is enough on Linux)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
