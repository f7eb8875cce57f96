"""Deterministic crash points: a writer SIGKILLs itself just before its k-th file-system commit.

The random kills of `test_kill_writer.py` land wherever the clock says; this test walks the
commit points themselves. A forked writer counts the calls that make a change visible on disk
(`os.replace`, `os.rename`, `os.link`, `os.unlink`, `os.remove`, `os.rmdir`: atomic renames,
new WKW shard links, deletions, temp clean-up) and kills itself with SIGKILL right before call
number k. A dry run counts the calls of the whole sequence; then up to `MAX_POINTS` evenly
spread values of k are tried, each on a fresh copy of the dataset, checked like a random kill.

The `*_presized` formats create the layer with its final bounding box, so writes never grow
it: they isolate the chunk/shard commit path from the re-gridding that growth triggers.
"""

from __future__ import annotations

import os
import shutil
import signal
import traceback
from collections import Counter
from pathlib import Path

import pytest

from webknossos_like import Dataset

from ._crash import count_commits
from ._plan import (
    FORMATS,
    LAYER,
    check_dataset,
    region_data,
    regions,
    setup_dataset,
)
from ._plan import (
    TEMP_PREFIX as TEMP,
)

WRITES = 5
MAX_POINTS = 24
SEED = 20240606


def _child(path: Path, fmt_name: str, kill_at: int | None, pipe: int) -> None:
    """Body of the forked writer (never returns); `fmt_name` "compress" runs `compress()`."""
    code = 0
    try:
        from webknossos_like import Dataset

        calls = count_commits(kill_at)
        mag = Dataset.open(path).get_layer(LAYER).get_mag(1)
        if fmt_name == "compress":
            mag.compress()
            os.write(pipe, f"finished {calls()}\n".encode())
            return
        fmt = FORMATS[fmt_name]
        for region in regions(SEED, WRITES):
            mag.write(region_data(SEED, region, fmt), absolute_offset=region.offset)
            os.write(pipe, f"done {region.index} {calls()}\n".encode())
        os.write(pipe, f"finished {calls()}\n".encode())
    except BaseException:
        os.write(pipe, f"error {traceback.format_exc()}\n".encode())
        code = 1
    finally:
        os._exit(code)


def run_point(path: Path, fmt_name: str, kill_at: int | None) -> tuple[list[str], int]:
    """Fork a writer that dies before commit `kill_at`; its report lines and wait status."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read_end)
        _child(path, fmt_name, kill_at, write_end)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as reader:
        while data := reader.read(65536):
            chunks.append(data)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks).decode().splitlines(), status


GROWTH_BUG = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: growing a precomputed layer re-grids the scale: the new info is saved, then the "
    "stored chunks/shards are deleted and rewritten - a crash in between loses reported writes",
)


@pytest.mark.parametrize(
    "fmt_name",
    [
        "wkw_raw",
        "wkw_lz4",
        pytest.param("precomputed_raw", marks=GROWTH_BUG),
        pytest.param("precomputed_cseg", marks=GROWTH_BUG),
        pytest.param("precomputed_sharded", marks=GROWTH_BUG),
        "precomputed_raw_presized",
        "precomputed_cseg_presized",
        "precomputed_sharded_presized",
    ],
)
def test_crash_at_every_commit_point(fmt_name: str, fast_tmp: Path, stats: Counter[str]) -> None:
    tmp_path = fast_tmp
    template = tmp_path / "template"
    setup_dataset(template, FORMATS[fmt_name])
    dry = tmp_path / "dry"
    shutil.copytree(template, dry, symlinks=True)
    lines, status = run_point(dry, fmt_name, None)
    assert lines and lines[-1].startswith("finished"), "\n".join(lines)
    total = int(lines[-1].split()[1])
    assert total > WRITES, f"only {total} commits counted"
    step = max(1, total // MAX_POINTS)
    points = sorted({*range(1, total + 1, step), total})
    failures = []
    for k in points:
        path = tmp_path / f"k{k}"
        shutil.copytree(template, path, symlinks=True)
        lines, status = run_point(path, fmt_name, k)
        errors = [line for line in lines if line.startswith("error")]
        assert not errors, errors[0]
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (k, lines)
        reported = sum(1 for line in lines if line.startswith("done"))
        stats[f"crash points ({fmt_name})"] += 1
        problems = check_dataset(path, FORMATS[fmt_name], SEED, reported)
        if problems:
            failures.append(f"kill before commit {k}/{total} ({reported} reported): {problems[0]}")
        shutil.rmtree(path)
    assert not failures, f"{len(failures)}/{len(points)} crash points broke:\n" + "\n".join(
        failures[:6]
    )


@pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: MagView.compress() swaps the mag with two renames (mag -> .wkl-tmp-<mag>-old-*, "
    "scratch -> mag): a crash in between leaves no mag folder (header.wkw not found), the data "
    "only in .wkl-tmp-* folders that readers ignore",
)
def test_crash_during_compress(fast_tmp: Path, stats: Counter[str]) -> None:
    """`compress()` rewrites every shard of a raw WKW mag: a crash at any commit point leaves the
    mag readable with all its data, raw or compressed."""
    template = fast_tmp / "template"
    fmt = FORMATS["wkw_raw"]
    mag = setup_dataset(template, fmt)
    plan = regions(SEED, 12)
    for region in plan:
        mag.write(region_data(SEED, region, fmt), absolute_offset=region.offset)
    dry = fast_tmp / "dry"
    shutil.copytree(template, dry, symlinks=True)
    lines, _ = run_point(dry, "compress", None)
    assert lines and lines[-1].startswith("finished"), "\n".join(lines)
    assert Dataset.open(dry).get_layer(LAYER).get_mag(1).info.compressed
    total = int(lines[-1].split()[1])
    failures = []
    for k in range(1, total + 1):
        path = fast_tmp / f"k{k}"
        shutil.copytree(template, path, symlinks=True)
        lines, _ = run_point(path, "compress", k)
        assert not [line for line in lines if line.startswith("error")], lines
        stats["crash points (compress)"] += 1
        problems = check_dataset(path, fmt, SEED, len(plan))
        if problems:
            failures.append(f"kill before commit {k}/{total}: {problems[0]}")
        shutil.rmtree(path)
    assert not failures, "\n".join(failures[:5])


@pytest.mark.parametrize(
    "fmt_name", ["wkw_raw", "wkw_lz4", "precomputed_raw", "precomputed_cseg", "precomputed_sharded"]
)
def test_crash_leftovers_are_ignored(fmt_name: str, fast_tmp: Path) -> None:
    """Temp files and scratch folders (`.wkl-tmp-*`) a crash leaves behind, with garbage inside
    and names that look like data, change nothing a reader sees, and writing goes on."""
    fmt = FORMATS[fmt_name]
    path = fast_tmp / "ds"
    mag = setup_dataset(path, fmt)
    plan = regions(SEED, 4)
    for region in plan[:3]:
        mag.write(region_data(SEED, region, fmt), absolute_offset=region.offset)
    boxes_before = sorted(map(str, mag.get_bounding_boxes_on_disk()))
    garbage = b"\xff garbage {not json"
    folders = [path, path / LAYER, mag.path, *[p for p in mag.path.rglob("*") if p.is_dir()]]
    for folder in folders:
        (folder / f"{TEMP}abc123").write_bytes(garbage)
        scratch = folder / f"{TEMP}scratch"
        (scratch / "z0" / "y0").mkdir(parents=True)
        (scratch / "z0" / "y0" / "x0.wkw").write_bytes(garbage)
        (scratch / "0-64_0-64_0-64").write_bytes(garbage)
        (scratch / "0.shard").write_bytes(garbage)
        (scratch / "header.wkw").write_bytes(garbage)
        (scratch / "info").write_bytes(garbage)
    assert check_dataset(path, fmt, SEED, 3) == []
    reopened = Dataset.open(path)
    assert list(reopened.layers) == [LAYER]
    again = reopened.get_layer(LAYER).get_mag(1)
    assert sorted(map(str, again.get_bounding_boxes_on_disk())) == boxes_before
    again.write(region_data(SEED, plan[3], fmt), absolute_offset=plan[3].offset)
    assert check_dataset(path, fmt, SEED, 4) == []
    if not fmt.is_precomputed:  # scanning a layer folder for mags skips scratch folders too
        shutil.copytree(mag.path, path / "rescued" / "1")
        shutil.copytree(mag.path, path / "rescued" / f"{TEMP}2")  # a mag-like scratch folder
        layer = Dataset.open(path).add_layer_for_existing_files("rescued", fmt.category)
        assert [m.to_layer_name() for m in layer.mags] == ["1"]
