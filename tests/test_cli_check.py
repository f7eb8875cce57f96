"""`wkl check`: every broken file of a dataset listed (real files truncated and overwritten),
where two datasets differ, and the exit statuses 0 / 1 / 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.cli import main
from webknossos_like.ops.check import diff_datasets, find_unreadable

PRECOMPUTED = "neuroglancerPrecomputed"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def datasets(tmp_path: Path) -> tuple[Path, Path]:
    """A WKW dataset (2x1x1 shards per layer) and its precomputed copy: `color` unsharded
    raw chunks, `seg` in gzip shards."""
    ds = Dataset(tmp_path / "wkw", voxel_size=(1, 1, 1))
    rng = np.random.default_rng(5)
    ds.add_layer("color", "color").add_mag(1, compress=True).write(
        rng.integers(0, 255, (256, 128, 64), dtype=np.uint8)
    )
    ds.add_layer("seg", "segmentation", dtype="uint32").add_mag(1, compress=False).write(
        rng.integers(0, 9, (256, 128, 64), dtype=np.uint32)
    )
    pre = Dataset(tmp_path / "pre", voxel_size=(1, 1, 1))
    pre.add_layer_as_copy(
        ds.get_layer("color"), data_format=PRECOMPUTED, compress=False, sharded=False
    )
    pre.add_layer_as_copy(
        ds.get_layer("seg"), data_format=PRECOMPUTED, shard_shape=64, chunk_shape=32
    )
    return ds.path, pre.path


def test_a_sound_dataset_checks_ok(
    datasets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for path in datasets:
        code, out, _ = run(["check", str(path)], capsys)
        assert code == 0 and out.startswith("OK:"), out


@pytest.mark.regression(
    reason="`wkl check` stopped at the first corrupt file; it now lists all of them"
)
def test_every_corrupt_file_is_listed(
    datasets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    wkw, pre = datasets
    truncated = wkw / "color" / "1" / "z0" / "y0" / "x0.wkw"
    truncated.write_bytes(truncated.read_bytes()[:1000])
    overwritten = wkw / "seg" / "1" / "z0" / "y0" / "x1.wkw"
    data = bytearray(overwritten.read_bytes())
    data[:16] = b"\xff" * 16  # the file header
    overwritten.write_bytes(bytes(data))
    code, out, err = run(["check", str(wkw)], capsys)
    assert code == 1, err
    broken = [line for line in out.splitlines() if line.startswith("UNREADABLE:")]
    assert len(broken) == 2, out
    assert any(str(truncated) in line for line in broken)
    assert any(str(overwritten) in line for line in broken)
    assert out.splitlines()[-1].startswith("PROBLEMS: 2 of 4 stored file(s)")

    chunks = sorted((pre / "color" / "1").iterdir())
    chunks[0].write_bytes(b"junk")
    chunks[5].write_bytes(chunks[5].read_bytes()[:-7])
    shards = sorted((pre / "seg" / "1").glob("*.shard"))
    shards[1].write_bytes(shards[1].read_bytes()[:50])
    report = find_unreadable(Dataset.open(pre, read_only=True))
    files = sorted(Path(str(problem.file)) for problem in report.problems)
    assert files == sorted([chunks[0], chunks[5], shards[1]]), report.problems
    assert all(problem.box is not None and problem.error for problem in report.problems)
    code, out, _ = run(["check", str(pre), "-j", "2"], capsys)
    assert code == 1 and out.count("UNREADABLE:") == 3


def test_differences_name_layer_mag_boxes_and_voxels(
    datasets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    wkw, pre = datasets
    code, out, _ = run(["check", str(wkw), str(pre)], capsys)
    assert code == 0 and out.startswith("EQUAL"), out
    changed = Dataset.open(pre).get_layer("seg").get_mag(1)
    changed.write(np.full((3, 2, 1), 99, np.uint32), absolute_offset=(30, 0, 0))  # 2 chunks
    changed.write(np.full((1, 1, 1), 99, np.uint32), absolute_offset=(200, 100, 40))
    differences = diff_datasets(Dataset.open(wkw), Dataset.open(pre))
    assert [(d.layer, d.mag) for d in differences] == [("seg", "1")] * 3
    assert sum(d.voxels for d in differences) == 7
    assert {d.box.topleft.to_tuple() for d in differences if d.box} == {
        (0, 0, 0),
        (32, 0, 0),
        (192, 96, 32),
    }
    code, out, _ = run(["check", str(wkw), str(pre)], capsys)
    assert code == 1
    assert "DIFFERENT: layer 'seg' mag 1 box (32, 0, 0)+(32, 32, 32): 2 voxel(s) differ" in out
    assert out.splitlines()[-1].endswith("(3 chunk box(es), 7 voxel(s)).")


def test_check_exit_status_two_when_it_cannot_open(
    datasets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["check", str(tmp_path / "missing")],
        ["check", str(datasets[0]), str(tmp_path / "missing")],
    ):
        code, _, err = run(argv, capsys)
        assert code == 2 and err.startswith("wkl: error: cannot open") and err.count("\n") == 1
