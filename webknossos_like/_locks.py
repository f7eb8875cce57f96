"""Inter-process locks on lock files inside a dataset, refusing lock files that are not plain files.

Two kinds: `exclusive_lock(path)`, the reentrant metadata lock (properties JSON, precomputed
`info`), through the `filelock` package; and `SharedExclusiveLock`, an `flock` that many
writers hold shared while one maintenance step (the swap of `compress()`) holds it exclusive.
A lock file that is a symlink (or a folder, a FIFO...) raises `StorageError` before anything is
opened through it: opening it for the lock would truncate or create the file it points to.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from filelock import FileLock

from .errors import StorageError

__all__ = [
    "LOCK_DIR_VARIABLE",
    "ExclusiveLock",
    "HeldMarker",
    "SharedExclusiveLock",
    "exclusive_lock",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


#: Set to a folder to keep lock files out of datasets (one file per lock, named by a hash of
#: its resolved in-dataset path). Every process writing a dataset must see the same folder:
#: on a cluster sharing a dataset over NFS, point it at a folder on that NFS.
LOCK_DIR_VARIABLE = "WKL_LOCK_DIR"


def _lock_key(path: Path) -> str:
    """The lock file's path with its folder resolved but not the file itself (it may be a link);
    under `$WKL_LOCK_DIR` when that is set, so copies and syncs of the dataset ship no locks."""
    key = os.path.join(os.path.realpath(path.parent), path.name)
    lock_dir = os.environ.get(LOCK_DIR_VARIABLE)
    if not lock_dir:
        return key
    os.makedirs(lock_dir, exist_ok=True)
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return os.path.join(os.path.realpath(lock_dir), f"{digest}{path.name}")


def _open_lock_file(path: str) -> int:
    """Open (creating) a lock file without following a symlink in its last component."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK, 0o644)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EMLINK):
            raise StorageError(
                f"Lock file {path} is not a plain file (a symlink or folder?): refusing to use "
                "it, since locking would write where it points. Remove it and retry (a copy "
                "made with `cp -rs` links lock files too: `find COPY -name '*.lock' -type l "
                "-delete`)."
            ) from None
        raise StorageError(f"Cannot open lock file {path}: {error.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StorageError(f"Lock file {path} is not a plain file: remove it and retry.")
    return fd


class ExclusiveLock:
    """A reentrant inter-process lock; each acquire first checks that the lock file is a plain
    file (creating it if missing), so `filelock` never opens a planted symlink."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = FileLock(path)

    def __enter__(self) -> ExclusiveLock:
        os.close(_open_lock_file(self.path))
        try:
            self._lock.acquire()
        except OSError as error:  # a planted file that changed in between
            raise StorageError(f"Cannot lock {self.path}: {error}") from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()

    @property
    def is_locked(self) -> bool:
        """Whether this process holds the lock."""
        return bool(self._lock.is_locked)


_locks: dict[tuple[int, str], ExclusiveLock] = {}
_locks_guard = threading.Lock()


def exclusive_lock(path: str | os.PathLike[str]) -> ExclusiveLock:
    """The process-wide lock object for `path`, so nested acquisitions in one process re-enter it.

    Keyed by process too: a lock object inherited across `fork()` must not be reused.
    """
    key = (os.getpid(), _lock_key(Path(path)))
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = ExclusiveLock(key[1])
        return lock


class SharedExclusiveLock:
    """An `flock` on one lock file: `shared()` for the many, `exclusive()` for the one.

    Every hold opens its own file description (about 4 us for open, lock, close), so threads
    and processes exclude each other alike and no descriptor outlives its hold; the kernel
    drops the lock when its holder dies (no stale locks after kill -9).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = _lock_key(Path(path))

    @contextlib.contextmanager
    def _held(self, operation: int) -> Iterator[None]:
        fd = _open_lock_file(self.path)
        try:
            fcntl.flock(fd, operation)
            yield
        finally:
            os.close(fd)  # releases the flock

    def acquire_shared(self) -> int:
        """Take a shared hold without a context manager (for per-read paths); pass the returned
        descriptor to `release`."""
        fd = _open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def release(fd: int) -> None:
        """End a hold taken with `acquire_shared`."""
        os.close(fd)  # releases the flock

    def shared(self) -> contextlib.AbstractContextManager[None]:
        """Held by writers: any number at once, never during an exclusive hold."""
        return self._held(fcntl.LOCK_SH)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Held alone: waits for every shared holder to leave."""
        return self._held(fcntl.LOCK_EX)


class HeldMarker:
    """A marker file that says "work under way" while its creator lives: the creator holds an
    exclusive `flock` on it, so a marker nobody holds was left by a process that died."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def create(self) -> None:
        """Create the marker and hold it; `StorageError` if a live process holds it already."""
        fd = _open_lock_file(os.fspath(self.path))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageError(
                f"{self.path} is held by another process: that work is still under way."
            ) from None
        self._fd = fd

    def remove(self) -> None:
        """Delete the marker (the work is done or undone) and let go of it."""
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            os.close(self._fd)
            self._fd = None

    def release(self) -> None:
        """Let go of the marker but leave it (the work stays marked unfinished)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def is_abandoned(self) -> bool:
        """Whether the marker exists and no live process holds it (its creator died)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
        return True
