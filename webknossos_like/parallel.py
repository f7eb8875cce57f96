"""One executor policy for chunk-parallel work: sequential unless the caller passes an executor."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["processes", "run_tasks", "threads"]

T = TypeVar("T")
R = TypeVar("R")

# At most this many futures are pending per worker slot: bounded memory, no million-future graphs.
_IN_FLIGHT_PER_WORKER = 4
_DEFAULT_IN_FLIGHT = 64


def _max_in_flight(executor: Executor) -> int:
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int) and workers > 0:
        return max(2, workers * _IN_FLIGHT_PER_WORKER)
    return _DEFAULT_IN_FLIGHT


def run_tasks(
    fn: Callable[[T], R], items: Iterable[T], executor: Executor | None = None
) -> list[R]:
    """Apply `fn` to every item, in order; sequential in-process when `executor` is None.

    With an executor, tasks are submitted in a bounded window so a huge item list never turns
    into a huge number of pending futures. The first failure is re-raised.
    """
    if executor is None:
        return [fn(item) for item in items]
    window = _max_in_flight(executor)
    pending: deque[Future[R]] = deque()
    results: list[R] = []
    try:
        for item in items:
            pending.append(executor.submit(fn, item))
            if len(pending) >= window:
                results.append(pending.popleft().result())
        while pending:
            results.append(pending.popleft().result())
    finally:
        for future in pending:
            future.cancel()
    return results


def threads(n: int | None = None) -> ThreadPoolExecutor:
    """A thread pool: good for I/O-bound work and the GIL-releasing codecs (wkw, numpy)."""
    return ThreadPoolExecutor(max_workers=n)


def processes(n: int | None = None) -> ProcessPoolExecutor:
    """A process pool using the `spawn` start method (safe with threads; needs a `__main__` guard)."""
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
