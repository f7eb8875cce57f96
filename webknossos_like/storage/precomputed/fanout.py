"""Concurrent requests for remote stores: a bounded thread pool per read call.

Remote stores (S3, HTTP) say how many requests they take at once with `parallel_reads`; local
stores do not have it and are read in sequence (a pool costs more than a local read).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_reads(store: Any) -> int:
    """Requests the store takes at once (1: read in sequence)."""
    return max(1, int(getattr(store, "parallel_reads", 1)))


def fan_out(store: Any, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`[fn(item) for item in items]`, up to `parallel_reads(store)` at a time, in order."""
    workers = min(parallel_reads(store), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wkl-read") as pool:
        return list(pool.map(fn, items))
