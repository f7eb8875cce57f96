"""The test side of `_oracle.py`: requests with a time limit, crash and hang detection."""

from __future__ import annotations

import contextlib
import json
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: A read of a few chunks takes milliseconds; this long means the reader hangs.
READ_TIMEOUT_S = 30.0


class Oracle:
    """One reader process, restarted after it crashed or hung."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self.requests = 0
        self.restarts = 0

    def _start(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability._oracle"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            assert proc.stderr is not None
            raise RuntimeError(f"oracle did not start: {line!r} {proc.stderr.read()}")
        return proc

    def _stop(self) -> str:
        """Kill the process (if alive); its stderr tail."""
        proc, self._proc = self._proc, None
        if proc is None:
            return ""
        proc.kill()
        proc.wait()
        assert proc.stderr is not None and proc.stdout is not None and proc.stdin is not None
        tail = proc.stderr.read()[-800:]
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()
        return tail

    def ask(self, **request: Any) -> dict[str, Any]:
        """Send one request; a crash or hang of the reader comes back as a status too."""
        if self._proc is None:
            self._proc = self._start()
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        self.requests += 1
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([proc.stdout], [], [], READ_TIMEOUT_S)
        if not ready:
            self.restarts += 1
            self._stop()
            return {"status": "hang", "message": f"no answer within {READ_TIMEOUT_S} s"}
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            self.restarts += 1
            tail = self._stop()
            name = signal.Signals(-code).name if code < 0 else f"exit {code}"
            return {"status": "crash", "message": f"reader died ({name}): {tail}"}
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
            self._stop()


def acceptable(answer: dict[str, Any]) -> bool:
    """A value, or an exception of `webknossos_like.errors`: nothing else."""
    return answer["status"] == "ok" or (answer["status"] == "raised" and answer["ours"])


def describe(answer: dict[str, Any]) -> str:
    """One line for an assertion message."""
    if answer["status"] == "raised":
        return f"raised {answer['type']}: {answer['message']}\n{answer.get('traceback', '')}"
    return f"{answer['status']}: {answer.get('message', '')}"
