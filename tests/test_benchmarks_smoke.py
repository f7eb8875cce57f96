"""Smoke test of the benchmark harness: tiny volumes, one repetition, table shape only.

Never asserts a timing threshold: only that every expected row is there with numbers in it.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"^\d+(\.\d+)?")
TIMING = re.compile(r"^(\d+(?:\.\d+)?) \[(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\]$")


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    results = tmp_path / "results.json"
    env = dict(os.environ, WKL_BENCH_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--repeat",
            "1",
            "--shape",
            "64",
            "--no-write",
            "--retries",
            "0",
            "--json",
            str(results),
            *args,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,  # the webknossos 1024^3-shard zarr3 rows alone take 40-70 s
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc, results


def _table_rows(markdown: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        if not line.startswith("| ") or line.startswith("| workload |"):
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _expected_rows() -> set[tuple[str, str]]:
    from benchmarks import harness

    harness.load_workload_modules()
    return {
        (workload.title, impl.key)
        for workload in harness.WORKLOADS.values()
        for impl in workload.peers
    }


def _check_numeric_row(row: list[str]) -> None:
    _workload, _peer, ours, peer_time, ratio, rss = row
    assert TIMING.match(ours), row
    assert TIMING.match(peer_time), row
    value = float(ratio)
    assert math.isfinite(value) and value > 0, row
    assert NUMBER.match(rss), row


@pytest.mark.slow
def test_quick_run_has_every_row_with_numbers(tmp_path: Path) -> None:
    proc, results = _run(tmp_path, "--batch")
    rows = _table_rows(proc.stdout)
    assert all(len(row) == 6 for row in rows), rows
    found = {(row[0], row[1]) for row in rows}
    assert found == _expected_rows()
    assert len(rows) == len(found)  # no duplicates
    from benchmarks import harness

    for row in rows:
        library = next(
            impl.library
            for workload in harness.WORKLOADS.values()
            for impl in workload.peers
            if (workload.title, impl.key) == (row[0], row[1])
        )
        if harness.library_missing(library):
            assert row[3].startswith("skipped"), row
            assert row[4] == "n/a", row
        else:
            _check_numeric_row(row)
    for title in (
        "WKW: full-volume write and read",
        "WKW: random 64^3 reads",
        "Time to first voxel",
        "Neuroglancer precomputed: write, read, random 64^3 reads",
        "Pyramid: downsample mag 1 to mags 2, 4, 8 (isotropic)",
    ):
        assert f"## {title}" in proc.stdout
    measurements = json.loads(results.read_text())["measurements"]
    assert all(m["error"] is None for m in measurements), [m for m in measurements if m["error"]]


def test_one_child_per_measurement_and_peer_filter(tmp_path: Path) -> None:
    proc, results = _run(tmp_path, "--only", "wkw.read.raw.image", "--peers", "wkw")
    rows = _table_rows(proc.stdout)
    assert [(row[0], row[1]) for row in rows] == [("read raw, image uint8", "wkw")]
    _check_numeric_row(rows[0])
    measurements = json.loads(results.read_text())["measurements"]
    assert [(m["impl"], len(m["times"])) for m in measurements] == [("ours", 1), ("wkw", 1)]


def test_missing_peer_is_skipped_with_a_note() -> None:
    from benchmarks import harness, report

    harness.register_library(harness.Library("not-installed", ("surely_no_such_module_xyz",), "x"))
    assert (
        harness.library_missing("not-installed")
        == "skipped: `surely_no_such_module_xyz` is not installed"
    )
    workload = harness.Workload(
        "smoke.fake",
        "fake",
        "fake workload",
        harness.Impl(harness.OURS, run=lambda state: None),
        [harness.Impl("not-installed", run=lambda state: None)],
    )
    ours = harness.Measurement("smoke.fake", "ours", "ours", [0.5, 0.4, 0.6], [1024] * 3, [512] * 3)
    skipped = harness.Measurement(
        "smoke.fake",
        "not-installed",
        "not-installed",
        skipped=harness.library_missing("not-installed"),
    )
    table = report.group_table(
        "Fake",
        [],
        [workload],
        {("smoke.fake", "ours"): ours, ("smoke.fake", "not-installed"): skipped},
    )
    (row,) = _table_rows(table)
    assert row == [
        "fake workload",
        "not-installed",
        "0.500 [0.400-0.600]",
        "skipped: `surely_no_such_module_xyz` is not installed",
        "n/a",
        "1 (+0)",
    ]


def test_rerun_disturbed_replaces_only_disturbed_measurements(tmp_path: Path) -> None:
    _, results = _run(tmp_path, "--only", "wkw.read.raw.image", "--peers", "wkw")
    saved = json.loads(results.read_text())
    ours, peer = saved["measurements"]
    ours["background_cpu_s"], ours["wall_s"] = 100.0, 1.0  # pretend the machine was busy
    peer["background_cpu_s"], peer["wall_s"] = 0.0, 1.0  # and quiet for the peer
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps(saved))
    proc, merged_path = _run(
        tmp_path,
        "--only",
        "wkw.read.raw.image",
        "--peers",
        "wkw",
        "--rerun-disturbed",
        str(earlier),
    )
    assert "Merged report" in proc.stdout
    assert "re-running 1 failed or disturbed measurement(s)" in proc.stderr
    merged = json.loads(merged_path.read_text())["measurements"]
    assert [m["impl"] for m in merged] == ["ours", "wkw"]
    assert merged[0]["background_cpu_s"] != 100.0  # re-run and kept (less disturbed)
    assert merged[1] == peer  # untouched
    rows = _table_rows(proc.stdout)
    assert [(row[0], row[1]) for row in rows] == [("read raw, image uint8", "wkw")]
