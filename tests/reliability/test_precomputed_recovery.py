"""Precomputed multi-step changes (a new mag, a growing write) killed at their commit points, and
writes from a process whose grid went stale: the next caller completes the change and no
acknowledged write is lost.

A new mag is two commits (the scale in `info`, then the mag in the properties); a growing write
is the layer box in the properties, then the re-gridded chunks and the new `info`, then the
data. A forked child runs a sequence of both and SIGKILLs itself before commit k (every k, or
`MAX_POINTS` spread ones that include every commit of each `add_mag`); the parent opens the
dataset, checks every acknowledged step, retries the killed step and the rest, and compares
every mag with an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset, Mag
from webknossos_like.errors import StorageError
from webknossos_like.storage.precomputed.info import loads_info

from ._crash import run_killed
from ._plan import FORMATS, LAYER, Format, region_data, regions, setup_dataset

MAX_POINTS = 40
SEED = 77001
PC_FORMATS = ["precomputed_raw", "precomputed_cseg", "precomputed_sharded"]
_HOOKED = ("replace", "rename", "link", "unlink", "remove", "rmdir")

#: One step of the sequence: ("write", region index, mag) or ("add_mag", mag).
Step = tuple[Any, ...]
STEPS: list[Step] = [
    ("write", 0, 1),
    ("add_mag", 2),
    ("write", 1, 1),
    ("write", 2, 2),
    ("add_mag", 4),
    ("write", 3, 1),
    ("write", 4, 4),
]


def _region(fmt: Format, index: int, mag: int) -> tuple[tuple[int, int, int], np.ndarray]:
    """Mag-1 offset (aligned to `mag`) and the `(x, y, z)` data (in `mag`) of region `index`."""
    region = regions(SEED, 5)[index]
    x, y, z = (v - v % mag for v in region.offset)
    sx, sy, sz = (s // mag for s in region.size)
    return (x, y, z), region_data(SEED, region, fmt)[:sx, :sy, :sz]


def _run_step(ds: Dataset, fmt: Format, step: Step) -> None:
    layer = ds.get_layer(LAYER)
    if step[0] == "add_mag":
        layer.add_mag(step[1], **fmt.mag_kwargs)
        return
    _, index, mag = step
    offset, data = _region(fmt, index, mag)
    layer.get_mag(mag).write(data, absolute_offset=offset)


def _sequence(path: Path, fmt: Format, progress: Path) -> None:
    """The child: every step, each acknowledged with the commit count after it."""
    commits = 0

    def counted(original: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal commits
            commits += 1
            return original(*args, **kwargs)

        return call

    for name in _HOOKED:  # on top of run_killed's hooks: counts the same calls
        setattr(os, name, counted(getattr(os, name)))
    fd = os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    ds = Dataset.open(path)
    for i, step in enumerate(STEPS):
        _run_step(ds, fmt, step)
        os.write(fd, f"{i} {commits}\n".encode())


def _progress(progress: Path) -> list[int]:
    """Commit counts after each acknowledged step."""
    if not progress.exists():
        return []
    return [int(line.split()[1]) for line in progress.read_text().splitlines()]


def _mags(path: Path) -> dict[Mag, np.ndarray]:
    layer = Dataset.open(path, read_only=True).get_layer(LAYER)
    return {mag: view.read() for mag, view in layer.mags.items()}


def _check_acknowledged(path: Path, fmt: Format, done: int) -> list[str]:
    """Every acknowledged write reads back (before any repair, read-only)."""
    problems = []
    layer = Dataset.open(path, read_only=True).get_layer(LAYER)
    for step in STEPS[:done]:
        if step[0] == "add_mag":
            if Mag(step[1]) not in layer.mags:
                problems.append(f"acknowledged add_mag({step[1]}) missing")
            continue
        _, index, mag = step
        offset, data = _region(fmt, index, mag)
        size = (data.shape[0] * mag, data.shape[1] * mag, data.shape[2] * mag)
        got = layer.get_mag(mag).read(absolute_offset=offset, size=size)
        if not np.array_equal(got[0], data):
            problems.append(f"acknowledged write {index} in mag {mag} lost")
    return problems


def _window(path: Path) -> str | None:
    """Which half-done state the kill left: a scale in `info` without its mag in the properties
    (item 4), or a properties box the `info` domains do not cover (item 5)."""
    props = json.loads((path / "datasource-properties.json").read_text())
    (entry,) = [e for e in props["dataLayers"] if e["name"] == LAYER]
    info_file = path / LAYER / "info"
    if not info_file.exists():
        return None
    info = loads_info(info_file.read_bytes(), path=info_file)
    listed = {Mag(m["mag"]) for m in entry["mags"]}
    finest = min(s.resolution[0] for s in info.scales)
    for scale in info.scales:
        if Mag(round(scale.resolution[0] / finest)) not in listed:
            return "orphan scale"
    box = entry["boundingBox"]
    layer_box = BoundingBox(box["topLeft"], (box["width"], box["height"], box["depth"]))
    for scale in info.scales:
        mag = Mag(round(scale.resolution[0] / finest))
        if not scale.domain.contains_bbox(layer_box.align_with_mag(mag, ceil=True).in_mag(mag)):
            return "box beyond info"
    return None


def _retry(path: Path, fmt: Format, done: int) -> None:
    """The next caller: retry the killed step (an `add_mag` whose properties entry was saved
    before the kill counts as done) and run the rest."""
    ds = Dataset.open(path)
    for step in STEPS[done:]:
        if step[0] == "add_mag" and Mag(step[1]) in ds.get_layer(LAYER).mags:
            continue
        _run_step(ds, fmt, step)


@pytest.mark.regression(
    reason="bug: a kill inside add_mag after the scale was saved in info and before the mag was "
    "saved in the properties made every retry of add_mag fail ('info already has a scale'); a "
    "kill in a growing write after the layer box was saved and before info was replaced left "
    "the layer stuck (later writes inside the box: OutOfBoundsError 'outside its domain')"
)
@pytest.mark.parametrize("fmt_name", PC_FORMATS)
def test_kill_in_add_mag_and_growth_is_completed_by_the_next_caller(
    fmt_name: str, fast_tmp: Path, stats: Counter[str]
) -> None:
    fmt = FORMATS[fmt_name]
    template = fast_tmp / "template"
    setup_dataset(template, fmt)
    dry = fast_tmp / "dry"
    shutil.copytree(template, dry, symlinks=True)
    total, _ = run_killed(lambda: _sequence(dry, fmt, dry / "progress"), None)
    bounds = _progress(dry / "progress")
    assert len(bounds) == len(STEPS)
    reference = _mags(dry)
    assert len(reference) == 3
    # Every commit of each add_mag (both windows of item 4), the rest spread evenly.
    must = {
        k
        for i, step in enumerate(STEPS)
        if step[0] == "add_mag"
        for k in range((bounds[i - 1] if i else 0) + 1, bounds[i] + 1)
    }
    step_size = max(1, total // (MAX_POINTS - len(must)))
    points = sorted(must | {*range(1, total + 1, step_size), total})
    failures: list[str] = []
    windows: Counter[str] = Counter()
    for k in points:
        path = fast_tmp / f"k{k}"
        shutil.copytree(template, path, symlinks=True)
        progress = fast_tmp / f"progress{k}"
        _, killed = run_killed(lambda p=path, q=progress: _sequence(p, fmt, q), k)  # type: ignore[misc]
        assert killed
        stats[f"crash points (precomputed add_mag + growth, {fmt_name})"] += 1
        done = len(_progress(progress))
        window = _window(path)
        if window:
            windows[window] += 1
        failures += [f"k={k}/{total}: {p}" for p in _check_acknowledged(path, fmt, done)]
        try:
            _retry(path, fmt, done)
        except Exception as exc:
            failures.append(f"k={k}/{total} ({window}): retry raised {type(exc).__name__}: {exc}")
            shutil.rmtree(path)
            continue
        got = _mags(path)
        if got.keys() != reference.keys():
            failures.append(f"k={k}/{total}: mags {sorted(got)} after the retry")
        else:
            failures += [
                f"k={k}/{total} ({window}): mag {m} differs from an uninterrupted run"
                for m in reference
                if not np.array_equal(got[m], reference[m])
            ]
        shutil.rmtree(path)
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:8])
    # The crash points hit both half-done states.
    assert windows["orphan scale"] > 0 and windows["box beyond info"] > 0, windows
    stats[f"crash points in the add_mag window ({fmt_name})"] += windows["orphan scale"]
    stats[f"crash points in the growth window ({fmt_name})"] += windows["box beyond info"]


def _setup_100_wide(path: Path, fmt: Format) -> None:
    mag = setup_dataset(path, fmt)
    mag.write(np.full((100, 64, 64), 1, fmt.dtype))


def _grow_to_128(path: Path, value: int, dtype: str) -> Callable[[], None]:
    def grow() -> None:
        Dataset.open(path).get_layer(LAYER).get_mag(1).write(
            np.full((28, 64, 64), value, dtype), absolute_offset=(100, 0, 0)
        )

    return grow


@pytest.mark.regression(
    reason="bug: a process that opened a precomputed layer 100 voxels wide wrote the edge chunk "
    "x=64..100 under its old name after another process grew the layer (re-gridding that chunk "
    "to x=64..128, or re-keying a sharded scale): the write was acknowledged and lost"
)
@pytest.mark.parametrize("fmt_name", PC_FORMATS)
def test_write_after_another_process_regridded(fmt_name: str, fast_tmp: Path) -> None:
    fmt = FORMATS[fmt_name]
    path = fast_tmp / "ds"
    _setup_100_wide(path, fmt)
    a = Dataset.open(path).get_layer(LAYER).get_mag(1)
    assert (a.read(absolute_offset=(64, 0, 0), size=(36, 64, 64)) == 1).all()  # grid loaded
    _, killed = run_killed(_grow_to_128(path, 3, fmt.dtype), None)  # process B
    assert not killed
    # A writes the chunk x=64..100 of the grid it knows, inside the extent it knows.
    a.write(np.full((36, 64, 64), 2, fmt.dtype), absolute_offset=(64, 0, 0))
    mag = Dataset.open(path, read_only=True).get_layer(LAYER).get_mag(1)
    for x0, x1, value in ((0, 64, 1), (64, 100, 2), (100, 128, 3)):
        block = mag.read(absolute_offset=(x0, 0, 0), size=(x1 - x0, 64, 64))
        assert (block == value).all(), f"x={x0}..{x1}: {np.unique(block)} instead of {value}"
    # A's reads see B's data too.
    assert (a.read(absolute_offset=(100, 0, 0), size=(28, 64, 64)) == 3).all()


@pytest.mark.regression(
    reason="bug: when growing info failed after the layer box was saved (e.g. the info lock "
    "refused), every later write inside the saved box raised OutOfBoundsError 'outside its domain'"
)
@pytest.mark.parametrize("fmt_name", PC_FORMATS)
def test_failed_domain_growth_is_rolled_forward_by_the_next_write(
    fmt_name: str, fast_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fmt = FORMATS[fmt_name]
    path = fast_tmp / "ds"
    _setup_100_wide(path, fmt)
    from webknossos_like.storage.precomputed import layer as _precomputed

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise StorageError("injected: info cannot be replaced")

    monkeypatch.setattr(_precomputed, "sync_domains", refuse)
    mag = Dataset.open(path).get_layer(LAYER).get_mag(1)
    with pytest.raises(StorageError, match="injected"):
        mag.write(np.full((28, 64, 64), 3, fmt.dtype), absolute_offset=(100, 0, 0))
    monkeypatch.undo()
    assert Dataset.open(path).get_layer(LAYER).bounding_box.size.x == 128  # saved before info
    # The same object and a new opener both write inside the saved box.
    mag.write(np.full((28, 64, 64), 3, fmt.dtype), absolute_offset=(100, 0, 0))
    other = Dataset.open(path).get_layer(LAYER).get_mag(1)
    other.write(np.full((8, 8, 8), 4, fmt.dtype), absolute_offset=(120, 0, 0))
    got = Dataset.open(path, read_only=True).get_layer(LAYER).get_mag(1).read()[0]
    assert (got[:100] == 1).all()
    assert (got[120:128, :8, :8] == 4).all()
    got[120:128, :8, :8] = 3
    assert (got[100:128] == 3).all()
