"""Threads for chunk work inside one read or write call (like tensorstore's data_copy_concurrency).

One bounded, shared thread pool encodes, decodes, reads and writes the chunks of a single
call; it is not a process pool and never outlives the process. The number of threads a call
may use is, first match wins: 1 inside an executor worker (work handed to `executor=` is
already parallel, so it is not multiplied), the innermost `with io_threads(n)` block, the value
set by `config(io_threads=n)`, the environment variable `WKL_IO_THREADS`, the usable cores.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from .errors import InvalidArgumentError

__all__ = [
    "config",
    "imap_io",
    "io_threads",
    "map_io",
    "mark_executor_worker",
    "threads_for_call",
]

T = TypeVar("T")
R = TypeVar("R")

ENV_VAR = "WKL_IO_THREADS"
# Tasks in flight per thread: enough to keep threads busy, few enough to bound memory.
_IN_FLIGHT_PER_THREAD = 2

_UNSET: Any = object()
_configured: int | None = None
_scoped: contextvars.ContextVar[int | None] = contextvars.ContextVar("wkl_io_threads", default=None)
_in_worker: contextvars.ContextVar[bool] = contextvars.ContextVar("wkl_in_worker", default=False)
# Process-wide flag for executor worker processes and pool threads (their own contexts).
_worker_thread = threading.local()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_pid = 0
_pool_lock = threading.Lock()


def _check(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{where} must be a positive integer, got {value!r}.")
    return value


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _from_env() -> int | None:
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return None
    try:
        return _check(int(text), ENV_VAR)
    except ValueError as exc:
        raise InvalidArgumentError(f"{ENV_VAR} must be a positive integer, got {text!r}.") from exc


def config(*, io_threads: int | None = _UNSET) -> dict[str, Any]:
    """Set library-wide defaults (`io_threads`: threads per call, None = automatic); returns them."""
    global _configured
    if io_threads is not _UNSET:
        _configured = None if io_threads is None else _check(io_threads, "io_threads")
    return {"io_threads": _configured}


@contextlib.contextmanager
def io_threads(n: int) -> Iterator[None]:
    """Within the block (this thread or task only), calls use at most `n` threads."""
    token = _scoped.set(_check(n, "io_threads"))
    try:
        yield
    finally:
        _scoped.reset(token)


def mark_executor_worker() -> None:
    """Record that this thread or process runs executor tasks: its calls stay single-threaded."""
    _worker_thread.active = True


def in_executor_worker() -> bool:
    """Whether the current code runs as a task of an executor (or of the internal pool)."""
    return _in_worker.get() or getattr(_worker_thread, "active", False)


@contextlib.contextmanager
def as_executor_task() -> Iterator[None]:
    """Mark the enclosed work as one executor task (single-threaded calls)."""
    token = _in_worker.set(True)
    try:
        yield
    finally:
        _in_worker.reset(token)


def threads_for_call(requested: int | None = None) -> int:
    """Threads one read/write call may use now (see the module docstring for the order)."""
    if in_executor_worker():
        return 1
    for value in (requested, _scoped.get(), _configured):
        if value is not None:
            return value
    env = _from_env()
    return env if env is not None else usable_cores()


def _get_pool(size: int) -> ThreadPoolExecutor:
    """The shared pool, grown to `size` threads (and rebuilt after a fork)."""
    global _pool, _pool_size, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid() or _pool_size < size:
            old = _pool if _pool_pid == os.getpid() else None
            _pool = ThreadPoolExecutor(
                max_workers=size, thread_name_prefix="wkl-io", initializer=mark_executor_worker
            )
            _pool_size, _pool_pid = size, os.getpid()
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def map_io(fn: Callable[[T], R], items: Iterable[T], *, threads: int | None = None) -> list[R]:
    """`[fn(item) for item in items]`, on up to `threads` pool threads (default: per call).

    Results come back in order; at most a few tasks per thread are in flight (bounded memory).
    The first failure is re-raised after the tasks already started have finished.
    """
    return list(imap_io(fn, items, threads=threads))


def imap_io(
    fn: Callable[[T], R], items: Iterable[T], *, threads: int | None = None
) -> Generator[R, None, None]:
    """`map_io` as a generator: results in order, each as soon as it and those before it are
    done, so that the caller can consume them (e.g. write files on its own thread) while the
    pool computes the next ones. At most a few tasks per thread are in flight.

    The first failure is re-raised after the tasks already started have finished; closing the
    generator early cancels the tasks not yet started and waits for the others.
    """
    todo: Sequence[T] = items if isinstance(items, Sequence) else list(items)
    n = min(threads if threads is not None else threads_for_call(), len(todo))
    if n <= 1:
        for item in todo:
            yield fn(item)
        return
    pool = _get_pool(n)
    window = n * _IN_FLIGHT_PER_THREAD if _pool_size <= n else n
    pending: deque[Future[R]] = deque()
    try:
        for item in todo:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        for future in pending:
            if not future.cancelled():
                with contextlib.suppress(BaseException):
                    future.result()
