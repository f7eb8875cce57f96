"""One executor policy for chunk-parallel work: sequential unless the caller passes an executor.

Work is submitted in a bounded window (no million-future graphs), results come back in order,
and long operations show a `rich` progress bar when the terminal is interactive.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import InvalidArgumentError

__all__ = ["dask", "processes", "run_tasks", "set_progress", "threads"]

T = TypeVar("T")
R = TypeVar("R")

# At most this many futures are pending per worker slot: bounded memory, no million-future graphs.
_IN_FLIGHT_PER_WORKER = 4
_DEFAULT_IN_FLIGHT = 64
_PROGRESS_MODES = ("auto", "always", "never")
_progress_mode = os.environ.get("WKL_PROGRESS", "auto")


def set_progress(mode: str) -> None:
    """Progress bars: `auto` (when stderr is a terminal), `always` or `never` (env `WKL_PROGRESS`)."""
    global _progress_mode
    if mode not in _PROGRESS_MODES:
        raise InvalidArgumentError(
            f"Progress mode must be one of {', '.join(_PROGRESS_MODES)}, got {mode!r}."
        )
    _progress_mode = mode


def _show_progress(count: int) -> bool:
    if _progress_mode == "never" or count < 2:
        return False
    if _progress_mode == "always":
        return True
    return sys.stderr.isatty()


@contextmanager
def _progress(desc: str | None, total: int) -> Iterator[Callable[[], None]]:
    """A callback advancing a rich progress bar, or a no-op when bars are off."""
    if desc is None or not _show_progress(total):
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True, force_terminal=True if _progress_mode == "always" else None)
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(desc, total=total)
        yield lambda: bar.advance(task)


def _max_in_flight(executor: Executor) -> int:
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int) and workers > 0:
        return max(2, workers * _IN_FLIGHT_PER_WORKER)
    return _DEFAULT_IN_FLIGHT


def run_tasks(
    fn: Callable[[T], R],
    items: Sequence[T],
    executor: Executor | None = None,
    *,
    desc: str | None = None,
) -> list[R]:
    """Apply `fn` to every item, in order; sequential in-process when `executor` is None.

    With an executor, tasks are submitted in a bounded window so a huge item list never turns
    into a huge number of pending futures. The first failure is re-raised (pending work is
    cancelled). `desc` labels the progress bar.
    """
    results: list[R] = []
    with _progress(desc, len(items)) as advance:
        if executor is None:
            for item in items:
                results.append(fn(item))
                advance()
            return results
        window = _max_in_flight(executor)
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(executor.submit(fn, item))
                if len(pending) >= window:
                    results.append(pending.popleft().result())
                    advance()
            while pending:
                results.append(pending.popleft().result())
                advance()
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


def dask(address_or_client: Any = None) -> Executor:
    """An executor on a Dask `distributed` cluster: a `Client`, a scheduler address, or None.

    None starts nothing itself: it connects to the client already set as default
    (`distributed.get_client()`). Needs `pip install "dask[distributed]"`.
    """
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidArgumentError(
            'Dask executors need `pip install "dask[distributed]"`.'
        ) from exc
    if address_or_client is None:
        client = distributed.get_client()
    elif isinstance(address_or_client, distributed.Client):
        client = address_or_client
    else:
        client = distributed.Client(address_or_client)  # type: ignore[no-untyped-call]
    executor: Executor = client.get_executor(pure=False)  # type: ignore[no-untyped-call]
    return executor
