"""Reliability suite: counters that the tests fill and a summary at the end of the run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Filled by the tests: kill trials, kills, reported writes, fuzz examples, ...
STATS: Counter[str] = Counter()


@pytest.fixture(scope="session")
def stats() -> Counter[str]:
    """The run-wide reliability counters."""
    return STATS


@pytest.fixture
def fast_tmp(tmp_path: Path) -> Iterator[Path]:
    """A scratch folder on tmpfs (`/dev/shm`) when there is one, else `tmp_path`.

    The crash tests kill processes, not machines: what a killed process wrote is in the page
    cache either way, so tmpfs changes nothing they check, but it makes each fsync free.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="wkl-reliability-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Like `fast_tmp`, shared by the tests of one module."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("reliability")
        return
    folder = Path(tempfile.mkdtemp(prefix="wkl-reliability-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the counters (numbers quoted in docs/reliability.md)."""
    if not STATS:
        return
    terminalreporter.section("reliability numbers")
    for key in sorted(STATS):
        terminalreporter.write_line(f"{key}: {STATS[key]}")
