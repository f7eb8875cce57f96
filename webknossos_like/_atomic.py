"""Crash-safe file replacement: write to a temp file in the same folder, fsync, rename into place
(one file at a time, or a batch fsynced together)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def write_new_file(path: str, data: Buffer) -> None:
    """Create `path` exclusively (mode 0o666 minus umask, as `open` gives), write `data`, start
    its writeback; no fsync (the caller syncs a batch of such files together)."""
    fd = os.open(path, _NEW_FILE_FLAGS, 0o666)
    try:
        view = memoryview(data).cast("B")
        written = 0
        while written < len(view):
            written += os.write(fd, view[written:])
        start_writeback(fd)
    finally:
        os.close(fd)


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

    def __init__(self, map_fn: Callable[[Callable[[str], None], list[str]], object]) -> None:
        self._map = map_fn
        self._lock = threading.Lock()
        # (temp file, target, stale file to remove after the rename, or None)
        self._staged: list[tuple[str, str, str | None]] = []
        # Temp names: a random token per batch and a counter (cheaper than mkstemp's retries).
        self._token = uuid.uuid4().hex[:16]
        self._counter = itertools.count()

    def stage(self, path: str, data: Buffer, *, stale: str | None = None) -> None:
        """Write `data` to a temp file beside `path` (thread-safe; nothing visible yet); its
        writeback starts at once, so that `commit`'s fsyncs mostly just wait."""
        tmp_name = os.path.join(
            os.path.dirname(path), f"{TEMP_PREFIX}{self._token}-{next(self._counter)}"
        )
        try:
            write_new_file(tmp_name, data)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        with self._lock:
            self._staged.append((tmp_name, path, stale))

    def commit(self) -> None:
        """fsync every staged file, rename each into place, fsync their folders."""
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


def _fsync_path(path: str) -> None:
    """fsync a file or folder by path (a read-only descriptor is enough on Linux)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
