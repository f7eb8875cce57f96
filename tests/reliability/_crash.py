"""Run an action in a forked child that SIGKILLs itself right before its k-th file-system commit.

The commits counted are the calls that make a change visible on disk: `os.replace`, `os.rename`,
`os.link`, `os.unlink`, `os.remove`, `os.rmdir`. A dry run (`kill_at=None`) reports how many
the whole action makes.
"""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable
from typing import Any

_HOOKED = ("replace", "rename", "link", "unlink", "remove", "rmdir")


def count_commits(kill_at: int | None) -> Callable[[], int]:
    """In a child process: count the commit calls from now on, SIGKILL the process right before
    call number `kill_at`; returns a function giving the count so far."""
    calls = 0

    def hooked(original: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if kill_at is not None and calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)

        return call

    for name in _HOOKED:
        setattr(os, name, hooked(getattr(os, name)))
    return lambda: calls


def run_killed(action: Callable[[], Any], kill_at: int | None) -> tuple[int, bool]:
    """Fork, run `action` in the child, kill it before commit `kill_at`.

    Returns (commits counted, whether the child was killed); an exception in the child fails.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read_end)
        code = 0
        try:
            calls = count_commits(kill_at)
            action()
            os.write(write_end, f"finished {calls()}\n".encode())
        except BaseException:
            os.write(write_end, f"error {traceback.format_exc()}\n".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        report = reader.read().decode()
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    if not killed:
        assert report.startswith("finished"), report
        return int(report.split()[1]), False
    return kill_at or 0, True
