"""Crash-safe file replacement: write to a temp file in the same folder, fsync, rename into place
(one file at a time, or a batch fsynced together)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

Buffer = bytes | bytearray | memoryview

TEMP_PREFIX = ".wkl-tmp-"


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

    def stage(self, path: str, data: Buffer, *, stale: str | None = None) -> None:
        """Write `data` to a temp file beside `path` (thread-safe; nothing visible yet)."""
        folder = os.path.dirname(path)
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
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
        umask = current_umask()
        for index, (tmp, target, stale) in enumerate(staged):
            try:
                try:
                    mode = os.stat(target).st_mode & 0o7777
                except FileNotFoundError:
                    mode = 0o666 & ~umask
                os.chmod(tmp, mode)
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


def _fsync_path(path: str) -> None:
    """fsync a file or folder by path (a read-only descriptor is enough on Linux)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
