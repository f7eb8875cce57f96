"""One executor policy for chunk-parallel work: sequential unless the caller passes an executor.

Work is submitted in a bounded window (no million-future graphs), results come back in order,
and long operations show a `tqdm` progress bar: a widget in Jupyter (with `ipywidgets`, the
`[notebook]` extra), a one-line bar on an interactive terminal, nothing elsewhere (logs, files,
pipes) unless forced with `set_progress("always")`, which prints plain progress lines there.
"""

from __future__ import annotations

import functools
import importlib.util
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from .errors import InvalidArgumentError
from .io_pool import as_executor_task, mark_executor_worker

__all__ = ["dask", "processes", "progress_shown", "run_tasks", "set_progress", "threads"]

T = TypeVar("T")
R = TypeVar("R")

# At most this many futures are pending per worker slot: bounded memory, no million-future graphs.
_IN_FLIGHT_PER_WORKER = 4
_DEFAULT_IN_FLIGHT = 64
_PROGRESS_MODES = ("auto", "always", "never")
_progress_mode = os.environ.get("WKL_PROGRESS", "auto")
# Interactive bars appear only once an operation has run this long: quick ones leave no trace
# (no flicker on a terminal, no pile of finished widgets in a notebook).
_BAR_DELAY = 0.5
# One bar at a time: work started inside a task that already shows a bar draws no second one.
_active_bars = 0
_bars_lock = threading.Lock()
# Forced progress off a terminal prints one line per this many seconds (and one at the end).
_LOG_INTERVAL = 10.0

# widget: Jupyter + ipywidgets; terminal: transient bar; text: tqdm text in a notebook without
# ipywidgets (redrawn in place there); log: plain lines for logs and files.
Display = Literal["widget", "terminal", "text", "log"]


def set_progress(mode: str) -> None:
    """Progress bars: `auto` (terminal or Jupyter), `always` or `never` (env `WKL_PROGRESS`)."""
    global _progress_mode
    if mode not in _PROGRESS_MODES:
        raise InvalidArgumentError(
            f"Progress mode must be one of {', '.join(_PROGRESS_MODES)}, got {mode!r}."
        )
    _progress_mode = mode


def _in_jupyter() -> bool:
    """Whether this runs in a Jupyter kernel (notebook, lab, VS Code), whose front end renders widgets."""
    if "ipykernel.zmqshell" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


@functools.lru_cache(maxsize=1)
def _widgets_available() -> bool:
    """Whether `ipywidgets` is installed (tqdm's notebook bar needs it)."""
    return importlib.util.find_spec("ipywidgets") is not None


def _stderr_is_terminal() -> bool:
    """Whether standard error is an interactive terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _display(count: int) -> Display | None:
    """How to show a bar for `count` tasks under the current mode, or None for no bar.

    Jupyter gets a widget (or, without ipywidgets, a text bar the notebook redraws in place), a
    terminal a transient bar; other output (logs, files, pipes) only gets progress lines when
    forced (`always`).
    """
    if _progress_mode == "never" or count < 2:
        return None
    if _in_jupyter():
        return "widget" if _widgets_available() else "text"
    if _stderr_is_terminal():
        return "terminal"
    return "log" if _progress_mode == "always" else None


def progress_shown(count: int) -> bool:
    """Whether work of `count` steps would show a bar now (lets callers skip splitting work)."""
    return _active_bars == 0 and _display(count) is not None


class _LogLines:
    """Progress for logs and files: plain lines (`desc: 3/10`), at most one per `_LOG_INTERVAL`
    seconds and one at the end; no carriage returns, no escape codes."""

    def __init__(self, desc: str, total: int) -> None:
        self.desc, self.total, self.done = desc, total, 0
        self.started = self.printed = time.monotonic()

    def update(self, n: int) -> None:
        """Count `n` steps; print a line if the last one is old enough."""
        self.done += n
        now = time.monotonic()
        if now - self.printed >= _LOG_INTERVAL and self.done < self.total:
            self.printed = now
            self._line("")

    def close(self) -> None:
        """The final line, with the time taken."""
        self._line(f" in {time.monotonic() - self.started:.1f} s")

    def _line(self, suffix: str) -> None:
        print(f"{self.desc}: {self.done}/{self.total}{suffix}", file=sys.stderr, flush=True)


def _make_bar(display: Display, desc: str, total: int) -> Any:
    """A progress bar of the chosen kind; interactive ones appear after `_BAR_DELAY` seconds."""
    if display == "log":
        return _LogLines(desc, total)
    if display == "widget":
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(total=total, desc=desc, leave=True, delay=_BAR_DELAY)
    from tqdm import tqdm

    if display == "terminal":
        return tqdm(
            total=total,
            desc=desc,
            leave=False,
            file=sys.stderr,
            dynamic_ncols=True,
            delay=_BAR_DELAY,
        )
    return tqdm(total=total, desc=desc, leave=True, file=sys.stderr, delay=_BAR_DELAY)


@contextmanager
def _progress(desc: str | None, total: int) -> Iterator[Callable[[], None]]:
    """A callback advancing a progress bar, or a no-op when bars are off (or one is showing)."""
    global _active_bars
    display = _display(total) if desc is not None else None
    with _bars_lock:
        if display is None or _active_bars:
            display = None
        else:
            _active_bars += 1
    if display is None or desc is None:
        yield lambda: None
        return
    try:
        bar = _make_bar(display, desc, total)
        try:
            yield lambda: bar.update(1)
        finally:
            bar.close()
    finally:
        with _bars_lock:
            _active_bars -= 1


def _max_in_flight(executor: Executor) -> int:
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int) and workers > 0:
        return max(2, workers * _IN_FLIGHT_PER_WORKER)
    return _DEFAULT_IN_FLIGHT


class _ExecutorTask:
    """`fn` run as an executor task: read/write calls inside it use one thread (picklable)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, item: Any) -> Any:
        with as_executor_task():
            return self.fn(item)


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
        task = _ExecutorTask(fn)
        try:
            for item in items:
                pending.append(executor.submit(task, item))
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
    return ThreadPoolExecutor(max_workers=n, initializer=mark_executor_worker)


def processes(n: int | None = None) -> ProcessPoolExecutor:
    """A process pool using the `spawn` start method (safe with threads; needs a `__main__` guard)."""
    return ProcessPoolExecutor(
        max_workers=n,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=mark_executor_worker,
    )


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
