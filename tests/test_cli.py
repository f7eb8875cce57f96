"""The `wkl` command line: every command on a small dataset, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.cli import main


@pytest.fixture
def small(tmp_path: Path) -> Path:
    ds = Dataset(tmp_path / "src", voxel_size=(4, 4, 40))
    rng = np.random.default_rng(1)
    ds.add_layer("color", "color").add_mag(1, compress=False).write(
        rng.integers(0, 255, (130, 100, 20), dtype=np.uint8), absolute_offset=(3, 0, 1)
    )
    ds.add_layer("seg", "segmentation", dtype="uint32").add_mag(1).write(
        rng.integers(0, 9, (130, 100, 20), dtype=np.uint32), absolute_offset=(3, 0, 1)
    )
    return ds.path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_info(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["info", str(small)], capsys)
    assert code == 0
    assert "color: color, wkw, 1xuint8, bbox (3, 0, 1) + (130, 100, 20)" in out
    assert "mag 1: chunk (32, 32, 32), shard (128, 128, 128), raw" in out
    assert "on disk" in out


def test_convert_check_downsample_compress(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "pre"
    code, out, err = run(
        ["convert", str(small), str(target), "--format", "precomputed", "-j", "2"], capsys
    )
    assert code == 0, err
    assert Dataset.open(target).get_layer("seg").data_format == "neuroglancerPrecomputed"
    code, out, _ = run(["check", str(small), str(target)], capsys)
    assert code == 0 and out.startswith("EQUAL")
    code, out, _ = run(["check", str(target)], capsys)
    assert code == 0 and out.startswith("OK")

    code, out, err = run(
        ["downsample", str(small), "--coarsest-mag", "4", "-j", "2", "--executor", "processes"],
        capsys,
    )
    assert code == 0, err
    assert [m.to_layer_name() for m in Dataset.open(small).get_layer("color").mags] == [
        "1",
        "2-2-1",
        "4-4-1",
    ]
    code, out, _ = run(["check", str(small), str(target)], capsys)
    assert code == 1 and "DIFFERENT" in out and "mags" in out

    code, out, err = run(["compress", str(small), "--layer", "color"], capsys)
    assert code == 0, err
    assert all(v.info.compressed for v in Dataset.open(small).get_layer("color").mags.values())


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["info", str(tmp_path / "missing")],
        ["convert", str(tmp_path / "missing"), str(tmp_path / "x"), "--format", "wkw"],
        ["downsample", str(tmp_path / "missing"), "--interpolation", "cubic"],
        ["check", str(tmp_path / "missing")],
    ):
        code, _, err = run(argv, capsys)
        assert code == 1, argv
        assert err.startswith("wkl: error:") and err.count("\n") == 1 and "Traceback" not in err


def test_bad_option_values_are_clear(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["downsample", str(small), "--interpolation", "cubic"], capsys)
    assert code == 1 and "average, median, mode" in err
    code, _, err = run(["check", str(small), "-j", "0"], capsys)
    assert code == 1 and "--jobs" in err
    with pytest.raises(SystemExit):
        main(["convert", str(small), "x", "--format", "zarr"])


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ([], ["info"], ["convert"], ["downsample"], ["compress"], ["check"], ["demo"]):
        with pytest.raises(SystemExit) as info:
            main([*command, "--help"])
        assert info.value.code == 0
        assert "usage: wkl" in capsys.readouterr().out
