"""Decoded minishard indexes of sharded scales, kept per array (bounded LRU) for small reads."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["MISSING", "IndexCache", "file_stamp"]

MISSING: Any = object()
"""What `IndexCache.get` returns when nothing valid is cached."""

# Minishard indexes kept per array: a few MiB at most (a 64^3-chunk shard of 4096 chunks lists
# them in 24-byte entries).
DEFAULT_ENTRIES = 4096


def file_stamp(path: str) -> Hashable:
    """(inode, size, mtime) of `path` or of `path.gz`; None when neither exists."""
    for candidate in (path, path + ".gz"):
        try:
            st = os.stat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            continue
        return (candidate, st.st_ino, st.st_size, st.st_mtime_ns)
    return None


class IndexCache:
    """`(shard key, minishard) -> decoded index` with a per-shard stamp that must still match.

    `stamp(key)` identifies the shard file's current version (local files: inode, size, mtime;
    stores that cannot tell: a constant, so only this process's own writes invalidate, through
    `forget`). Thread-safe.
    """

    def __init__(
        self, stamp: Callable[[str], Hashable] | None = None, max_entries: int = DEFAULT_ENTRIES
    ) -> None:
        self._stamp = stamp
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, int], tuple[Hashable, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def stamp(self, key: str) -> Hashable:
        """The current version of shard `key`."""
        return self._stamp(key) if self._stamp is not None else 0

    def get(self, key: str, minishard: int, stamp: Hashable) -> Any:
        """The cached index of `minishard` in shard `key` at version `stamp`, else `MISSING`."""
        with self._lock:
            found = self._entries.get((key, minishard))
            if found is None or found[0] != stamp:
                return MISSING
            self._entries.move_to_end((key, minishard))
            return found[1]

    def put(self, key: str, minishard: int, stamp: Hashable, index: Any) -> None:
        """Remember `index` (None: empty minishard or no shard file) for version `stamp`."""
        with self._lock:
            self._entries[(key, minishard)] = (stamp, index)
            self._entries.move_to_end((key, minishard))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        """Drop everything cached for shard `key` (it was rewritten)."""
        with self._lock:
            for entry in [k for k in self._entries if k[0] == key]:
                del self._entries[entry]

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._entries.clear()
