"""The `wkl` command line: every command on a small dataset, and one-line errors."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.cli import main
from webknossos_like.demo import run_demo


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
        assert code == 2, argv  # a path that cannot be opened is a usage error
        assert "cannot open" in err
        assert err.startswith("wkl: error:") and err.count("\n") == 1 and "Traceback" not in err


def test_bad_option_values_are_clear(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["downsample", str(small), "--interpolation", "cubic"], capsys)
    assert code == 1 and "average, median, mode" in err
    code, _, err = run(["check", str(small), "-j", "0"], capsys)
    assert code == 2 and "--jobs" in err
    with pytest.raises(SystemExit):
        main(["convert", str(small), "x", "--format", "zarr"])


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ([], ["info"], ["convert"], ["downsample"], ["compress"], ["check"], ["demo"]):
        with pytest.raises(SystemExit) as info:
            main([*command, "--help"])
        assert info.value.code == 0
        assert "usage: wkl" in capsys.readouterr().out


def info_lines(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    code, out, err = run(["info", str(path)], capsys)
    assert code == 0, err
    return out.splitlines()


@pytest.mark.regression(
    reason="bug: `wkl convert --compress` to precomputed left color layers raw (unsharded raw "
    "chunks cannot be compressed); compressed data now goes into gzip shards"
)
def test_convert_compress_takes_effect(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "pre"
    code, _, err = run(
        ["convert", str(small), str(target), "--format", "precomputed", "--compress"], capsys
    )
    assert code == 0, err
    assert all(layer.get_mag(1).info.compressed for layer in Dataset.open(target).layers.values())


def test_convert_flags(small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "pre"
    argv = [
        "convert",
        str(small),
        str(target),
        "--format",
        "neuroglancer_precomputed",
        "--layers",
        "color",
        "--encoding",
        "jpeg",
        "--chunk-shape",
        "32,32,16",
        "--shard-shape",
        "64",
    ]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    converted = Dataset.open(target)
    assert list(converted.layers) == ["color"]
    info = converted.get_layer("color").get_mag(1).info
    assert info.encoding == "jpeg" and info.sharded
    assert info.chunk_shape.to_tuple() == (32, 32, 16)
    # at most 2x2x4 chunks: the Morton-ordered shards of precomputed choose 2x2x2 here
    assert info.shard_shape.to_tuple() == (64, 64, 32)

    code, _, err = run(argv, capsys)  # the target exists now
    assert code == 2 and "pass --overwrite" in err and "exist_ok" not in err

    flat = [*argv[:-8], "--layers", "seg", "--no-sharded", "--chunk-shape", "64", "--overwrite"]
    code, _, err = run(flat, capsys)
    assert code == 0, err
    replaced = Dataset.open(target)
    assert list(replaced.layers) == ["seg"]
    seg = replaced.get_layer("seg").get_mag(1).info
    assert not seg.sharded and seg.encoding == "compressed_segmentation"
    assert not any(p.name.startswith(".wkl-tmp-") for p in tmp_path.iterdir())

    code, _, err = run(
        ["convert", str(small), str(tmp_path / "z"), "--format", "zarr3", "--shard-shape", "64"],
        capsys,
    )
    assert code == 0, err
    assert Dataset.open(tmp_path / "z").get_layer("color").get_mag(1).info.shard_shape.x == 64


def test_convert_mistakes_get_cli_advice(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(tmp_path / "t")
    for argv, words in (
        ([target, "--format", "wkw", "--encoding", "jpeg"], "--format precomputed"),
        ([target, "--format", "wkw", "--layers", "nope"], "it has: color, seg"),
        ([str(small), "--format", "wkw", "--overwrite"], "holds the source"),
        ([target, "--format", "wkw", "--chunk-shape", "0,1"], "--chunk-shape"),
    ):
        try:
            code, _, err = run(["convert", str(small), *argv], capsys)
        except SystemExit as exit_:  # argparse's own checks
            code, err = int(str(exit_.code)), capsys.readouterr().err
        assert code == 2, argv
        assert words in err and err.count("\n") == 1 and err.startswith("wkl: error:"), err
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    code, _, err = run(
        ["convert", str(small), str(tmp_path / "notes"), "--format", "wkw", "--overwrite"], capsys
    )
    assert code == 2 and "not a dataset" in err
    assert (tmp_path / "notes" / "a.txt").read_text() == "mine"


def test_layers_option_on_write_commands(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["downsample", str(small), "--layers", "seg", "--coarsest-mag", "2"], capsys)
    assert code == 0, err
    ds = Dataset.open(small)
    assert len(ds.get_layer("seg").mags) == 2 and len(ds.get_layer("color").mags) == 1
    code, _, err = run(["compress", str(small), "--layers", "color,seg"], capsys)
    assert code == 0, err
    code, _, err = run(["compress", str(small), "--layers", "colour"], capsys)
    assert code == 2 and "it has: color, seg" in err


def test_info_names_precomputed_encodings_and_no_shard_when_unsharded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype="uint32", data_format="precomputed")
    seg.add_mag(1).write(np.ones((40, 40, 40), np.uint32))
    color = ds.add_layer("color", "color", data_format="precomputed")
    color.add_mag(1, encoding="jpeg").write(np.ones((40, 40, 40), np.uint8))
    color.add_mag(2, sharded=True, compress=True)
    lines = info_lines(ds.path, capsys)
    assert "    mag 1: chunk (64, 64, 64), compressed_segmentation" in lines
    assert "    mag 1: chunk (64, 64, 64), jpeg" in lines
    assert any(line.startswith("    mag 2: chunk (64, 64, 64), shard (") for line in lines)
    assert any("raw (gzip shards)" in line for line in lines)


def test_info_of_a_folder_lists_the_datasets_below(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "out"
    Dataset(root / "wkw", voxel_size=(1, 1, 1)).add_layer("color", "color")
    ds = Dataset(root / "more" / "zarr3", voxel_size=(1, 1, 1))
    ds.add_layer("img", "color", data_format="zarr3")
    (root / "thumbnails").mkdir()
    lines = info_lines(root, capsys)
    assert len(lines) == 2
    assert lines[0].startswith(f"{root / 'more' / 'zarr3'}: ") and "zarr3" in lines[0]
    assert lines[1].startswith(f"{root / 'wkw'}: ") and "1 layer(s) (color)" in lines[1]
    code, _, err = run(["info", str(root / "thumbnails")], capsys)
    assert code == 2 and "cannot open" in err


def test_info_into_a_closed_pipe_has_no_traceback(small: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "webknossos_like", "info", str(small)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader goes away before anything is written, as `| head -1`
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    shell = subprocess.run(
        f"{shlex.quote(sys.executable)} -m webknossos_like info {shlex.quote(str(small))} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        timeout=120,
    )
    assert shell.stdout.count("\n") == 1 and "Traceback" not in shell.stderr


def test_demo_prints_the_next_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "demo"
    run_demo(out_dir, shape=(64, 64, 16))
    out = capsys.readouterr().out
    wkw = (out_dir / "wkw").resolve()
    assert f"wkl info {wkw}\n" in out
    assert f"wkl view {wkw}\n" in out
    assert out.rstrip().splitlines()[-4:][0].strip().startswith("wkl ")


def test_convert_resume_and_overwrite_safety(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy"
    code, _, err = run(
        ["convert", str(small), str(target), "--format", "wkw", "--layers", "seg"], capsys
    )
    assert code == 0, err
    code, _, err = run(["convert", str(small), str(target), "--format", "wkw", "--resume"], capsys)
    assert code == 0, err
    assert sorted(Dataset.open(target).layers) == ["color", "seg"]
    code, _, err = run(
        ["convert", str(small), str(target), "--format", "wkw", "--resume", "--overwrite"], capsys
    )
    assert code == 2 and "exclude each other" in err
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "info").write_text("my notes")  # looks like precomputed, is none
    code, _, err = run(["convert", str(small), str(fake), "--format", "wkw", "--overwrite"], capsys)
    assert code == 2 and "not a dataset" in err
    assert (fake / "info").read_text() == "my notes"


def test_downsample_compress_and_check_layers(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ["downsample", str(small), "--layers", "color", "--coarsest-mag", "2", "--compress"],
        capsys,
    )
    assert code == 0, err
    ds = Dataset.open(small)
    assert not ds.get_layer("color").get_mag(1).info.compressed
    assert ds.get_layer("color").get_mag("2-2-1").info.compressed
    broken = small / "seg" / "1" / "z0" / "y0" / "x0.wkw"
    broken.write_bytes(broken.read_bytes()[:100])
    code, out, _ = run(["check", str(small), "--layers", "color"], capsys)
    assert code == 0 and out.startswith("OK: 3 stored file(s)"), out
    code, out, _ = run(["check", str(small)], capsys)
    assert code == 1 and out.count("UNREADABLE:") == 1
