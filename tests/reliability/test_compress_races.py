"""`compress()` in place while another process writes the same mag, and killed in the middle.

A writer child (`_writer.py`) writes a seeded sequence of disjoint regions into a raw WKW mag and
reports each write once `write` returned. Meanwhile a forked child compresses the mag; in most
trials it is SIGKILLed at a random moment. Afterwards every reported write must read back, and
a second `compress()` (which also cleans up what the killed one left) must keep them all.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset

from ._plan import FORMATS, LAYER, check_dataset, region_data, regions, setup_dataset
from ._plan import TEMP_PREFIX as TEMP
from .test_crash_points import run_point
from .test_kill_writer import STARTUP_TIMEOUT_S, WriterPool, _readline

TRIALS = 30
FMT = FORMATS["wkw_raw"]


@pytest.fixture(scope="module")
def writers() -> object:
    pool = WriterPool()
    yield pool
    pool.close()


class _Reports:
    """Collects the writer's `done <i>` lines in a thread."""

    def __init__(self, proc: object) -> None:
        self.done: list[int] = []
        self.finished = False
        self._proc = proc
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        for line in self._proc.stdout:  # type: ignore[attr-defined]
            if line.startswith("done "):
                self.done.append(int(line.split()[1]))
            elif line.strip() == "finished":
                self.finished = True

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while len(self.done) < count and not self.finished and time.monotonic() < end:
            time.sleep(0.002)

    def join(self) -> None:
        self._thread.join(timeout=30)


def _compress_child(path: Path) -> int:
    """Fork a process that compresses mag 1 in place; its pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child exits through os._exit
        code = 0
        try:
            Dataset.open(path).get_layer(LAYER).get_mag(1).compress()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    return pid


@pytest.mark.regression(
    reason="bug: compress() swapped in a copy made before writes of other processes that landed "
    "while it ran (new shards, in-place raw writes): acknowledged writes were lost"
)
def test_compress_with_a_concurrent_writer_keeps_every_write(
    fast_tmp: Path, writers: WriterPool, stats: Counter[str]
) -> None:
    rng = random.Random("compress-races")
    failures: list[str] = []
    for trial in range(TRIALS):
        path = fast_tmp / f"trial{trial}"
        setup_dataset(path, FMT)
        seed = rng.randrange(2**31)
        proc = writers.take()
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"path": str(path), "format": FMT.name, "seed": seed}) + "\n")
        proc.stdin.flush()
        writers.warm_up()
        assert _readline(proc, STARTUP_TIMEOUT_S).strip() == "start"
        reports = _Reports(proc)
        reports.wait_for(6)
        kill = trial % 5 != 0  # every fifth compression runs to its end
        pid = _compress_child(path)
        if kill:
            time.sleep(rng.uniform(0.0, 0.25))
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status)
        if not killed:
            assert os.WEXITSTATUS(status) == 0, f"trial {trial}: compress() failed"
        reports.wait_for(len(reports.done) + 6)
        proc.kill()
        proc.wait()
        reports.join()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        reported = len(reports.done)
        assert reports.done == list(range(reported)), "writes reported out of order"
        stats["compress race trials"] += 1
        stats["compress race trials: compress killed"] += killed
        stats["compress race: reported writes checked"] += reported
        problems = check_dataset(path, FMT, seed, reported)
        # A second, complete compress() repairs leftovers and keeps everything.
        Dataset.open(path).get_layer(LAYER).get_mag(1).compress()
        problems += check_dataset(path, FMT, seed, reported)
        mag = Dataset.open(path).get_layer(LAYER).get_mag(1)
        if not mag.info.compressed:
            problems.append("mag is not compressed after a complete compress()")
        if list(path.glob(f"{LAYER}/{TEMP}1-ready-*")) or list(path.glob(f"{LAYER}/{TEMP}1-old-*")):
            problems.append("swap leftovers remain after a complete compress()")
        if problems:
            failures.append(
                f"trial {trial} (seed {seed}, killed={killed}, {reported} reported): "
                + "; ".join(problems[:3])
            )
        shutil.rmtree(path)
    assert not failures, f"{len(failures)}/{TRIALS} trials broke:\n" + "\n".join(failures[:5])


@pytest.mark.regression(
    reason="bug: a compress() killed after its copy was ready left it beside the mag; a later "
    "compress() could swap that stale copy in and delete the folder holding newer writes"
)
def test_a_stale_ready_copy_never_replaces_newer_writes(
    fast_tmp: Path, stats: Counter[str]
) -> None:
    """At every commit point of a first compress(): kill it, write W into the mag, run a second
    compress() to its end; W and all earlier writes must be there."""
    template = fast_tmp / "template"
    mag = setup_dataset(template, FMT)
    plan = regions(7, 8)
    for region in plan[:6]:
        mag.write(region_data(7, region, FMT), absolute_offset=region.offset)
    dry = fast_tmp / "dry"
    shutil.copytree(template, dry, symlinks=True)
    lines, _ = run_point(dry, "compress", None)
    total = int(lines[-1].split()[1])
    failures = []
    for k in range(1, total + 1):
        path = fast_tmp / f"k{k}"
        shutil.copytree(template, path, symlinks=True)
        run_point(path, "compress", k)
        layer = Dataset.open(path).get_layer(LAYER)
        for region in plan[6:]:  # W: lands after the first run died
            layer.get_mag(1).write(region_data(7, region, FMT), absolute_offset=region.offset)
        layer.get_mag(1).compress()
        stats["compress: crash points followed by a write and a second compress"] += 1
        problems = check_dataset(path, FMT, 7, len(plan))
        if problems:
            failures.append(f"kill before commit {k}/{total}: {problems[0]}")
        shutil.rmtree(path)
    assert not failures, "\n".join(failures[:5])


@pytest.mark.regression(
    reason="bug: two interrupted compress() runs: the first left a ready copy, a write landed, the "
    "second died between its two swap renames; the opener moved in whichever ready copy sorted "
    "first (names are random) and deleted the old folder holding the write"
)
def test_an_interrupted_swap_moves_in_its_own_copy_not_a_stale_one(fast_tmp: Path) -> None:
    mag = setup_dataset(fast_tmp / "ds", FMT)
    data = np.full((32, 32, 32), 7, np.uint8)
    mag.write(data)
    layer_path = mag.path.parent
    shutil.copytree(mag.path, layer_path / f"{TEMP}1-ready-0000")  # run 1: a copy, then killed
    mag.write(data + 1)  # W
    # Run 2 died between its renames: the mag moved to -old-<id>, its copy (with W) is -ready-<id>.
    shutil.copytree(mag.path, layer_path / f"{TEMP}1-ready-ffff")
    os.rename(mag.path, layer_path / f"{TEMP}1-old-ffff")
    reopened = Dataset.open(fast_tmp / "ds").get_layer(LAYER).get_mag(1)
    assert np.array_equal(reopened.read(absolute_offset=(0, 0, 0), size=(32, 32, 32))[0], data + 1)
    assert sorted(p.name for p in layer_path.iterdir()) == [".1.lock", "1"]


def test_swap_leftovers_of_the_old_naming_roll_back_to_the_old_mag(fast_tmp: Path) -> None:
    """A crash between the two swap renames of an earlier version left `-old-<a>` (the mag, with
    every write) and `-ready-<b>` (a copy that may be stale) and no mag folder: the opener moves
    the old mag back, since only the copy of the same swap id is known to be current."""
    mag = setup_dataset(fast_tmp / "ds", FMT)
    data = np.full((32, 32, 32), 7, np.uint8)
    mag.write(data)
    layer_path = mag.path.parent
    stale = layer_path / f"{TEMP}1-ready-b"
    shutil.copytree(mag.path, stale)
    mag.write(data + 1)  # newer than the copy
    os.rename(mag.path, layer_path / f"{TEMP}1-old-a")
    reopened = Dataset.open(fast_tmp / "ds").get_layer(LAYER).get_mag(1)
    assert np.array_equal(reopened.read(absolute_offset=(0, 0, 0), size=(32, 32, 32))[0], data + 1)
    assert sorted(p.name for p in layer_path.iterdir()) == [".1.lock", "1"]


def test_a_reader_follows_a_swap_made_by_another_object(fast_tmp: Path) -> None:
    """A mag opened before another process compressed it reads and writes the new folder."""
    mag = setup_dataset(fast_tmp / "ds", FMT)
    data = np.arange(64**3, dtype=np.uint32).reshape(64, 64, 64).astype(np.uint8)
    mag.write(data)
    early = Dataset.open(fast_tmp / "ds").get_layer(LAYER).get_mag(1)
    assert not early.info.compressed
    assert np.array_equal(early.read()[0], data)  # the native handle is open now
    Dataset.open(fast_tmp / "ds").get_layer(LAYER).get_mag(1).compress()
    assert np.array_equal(early.read()[0], data)
    assert early.info.compressed  # followed the swap on that read
    early.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(0, 0, 0))
    final = Dataset.open(fast_tmp / "ds").get_layer(LAYER).get_mag(1).read()[0]
    assert (final[:8, :8, :8] == 1).all() and np.array_equal(final[8:], data[8:])
