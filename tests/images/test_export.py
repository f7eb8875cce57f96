"""Export: TIFF and PNG slice folders and one OME-TIFF, read back by tifffile and Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from webknossos_like import Dataset
from webknossos_like.cli import main
from webknossos_like.errors import DTypeError, InvalidArgumentError

from ._stacks import plane

SHAPE = (33, 21, 19)


def make_layer(tmp_path: Path, volume: np.ndarray, name: str = "color") -> Dataset:
    dataset = Dataset(tmp_path / "ds", voxel_size=(4, 5, 40))
    dataset.write_layer(name, "color", volume, downsample=False, shard_shape=8, chunk_shape=8)
    return dataset


def volume(dtype: str = "uint8", channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(5)
    shape = SHAPE if channels == 1 else (channels, *SHAPE)
    return rng.integers(0, 250, shape).astype(dtype)


@pytest.mark.parametrize(
    ("fmt", "dtype", "channels"),
    [
        ("tiff", "uint8", 1),
        ("tiff", "float32", 1),
        ("tiff", "uint16", 2),
        ("tiff", "uint8", 3),
        ("png", "uint8", 1),
        ("png", "uint16", 1),
        ("png", "uint8", 3),
    ],
)
def test_slices_round_trip(tmp_path: Path, fmt: str, dtype: str, channels: int) -> None:
    data = volume(dtype, channels)
    view = make_layer(tmp_path, data).get_layer("color").get_mag(1)
    files = view.to_images(tmp_path / "out", fmt)
    assert [f.name for f in files][:2] == [
        f"0000.{'tif' if fmt == 'tiff' else 'png'}",
        f"0001.{'tif' if fmt == 'tiff' else 'png'}",
    ]
    assert len(files) == SHAPE[2]
    for z, file in enumerate(files):
        image = np.asarray(Image.open(file)) if fmt == "png" else tifffile.imread(file)
        np.testing.assert_array_equal(image, plane(data, z))
    # and back in
    again = Dataset.from_images(tmp_path / "out", tmp_path / "again", voxel_size=(1, 1, 1))
    back = again.get_layer("color").get_mag(1).read()
    np.testing.assert_array_equal(back[0] if channels == 1 else back, data)


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_ome_tiff_carries_voxel_size(tmp_path: Path, channels: int) -> None:
    data = volume("uint16" if channels == 2 else "uint8", channels)
    view = make_layer(tmp_path, data).get_layer("color").get_mag(1)
    (path,) = view.to_images(tmp_path / "stack.ome.tif", "ome-tiff")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome
        assert 'PhysicalSizeX="4.0"' in tif.ome_metadata
        assert 'PhysicalSizeZ="40.0"' in tif.ome_metadata
    again = Dataset.from_images(path, tmp_path / "again")
    assert again.voxel_size == (4, 5, 40)
    assert again.voxel_size_unit == "nanometer"
    back = again.get_layer("color").get_mag(1).read()
    np.testing.assert_array_equal(back[0] if channels == 1 else back, data)


def test_ome_tiff_of_a_coarser_mag_and_a_sub_view(tmp_path: Path) -> None:
    data = volume()
    layer = make_layer(tmp_path, data).get_layer("color")
    layer.downsample(coarsest_mag=2, sampling_mode="isotropic")
    (path,) = layer.get_mag(2).to_images(tmp_path / "m2.ome.tif", "ome-tiff")
    again = Dataset.from_images(path, tmp_path / "again")
    assert again.voxel_size == (8, 10, 80)
    part = layer.get_mag(1).get_view(absolute_offset=(3, 4, 5), size=(10, 11, 12), read_only=True)
    files = part.to_images(tmp_path / "part", "tiff")
    assert len(files) == 12
    np.testing.assert_array_equal(tifffile.imread(files[0]), data[3:13, 4:15, 5].T)


def test_png_refuses_float_and_nonempty_folder_is_refused(tmp_path: Path) -> None:
    view = make_layer(tmp_path, volume("float32")).get_layer("color").get_mag(1)
    with pytest.raises(DTypeError, match="tiff"):
        view.to_images(tmp_path / "out", "png")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(InvalidArgumentError, match="empty folder"):
        view.to_images(tmp_path / "full", "tiff")
    with pytest.raises(InvalidArgumentError, match="ome-tiff"):
        view.to_images(tmp_path / "out", "jpeg")


def test_cli_import_then_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = volume()
    make_layer(tmp_path, data).get_layer("color").get_mag(1).to_images(tmp_path / "in", "tiff")
    target = tmp_path / "imported"
    code = main(
        [
            "import",
            str(tmp_path / "in"),
            str(target),
            "--voxel-size",
            "4,5,40",
            "--format",
            "zarr3",
            "--layer-name",
            "raw",
            "--downsample",
            "-j",
            "2",
            "--shard-shape",
            "8",
            "--chunk-shape",
            "8",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "layer 'raw'" in out
    dataset = Dataset.open(target)
    layer = dataset.get_layer("raw")
    assert layer.data_format == "zarr3" and len(layer.mags) > 1
    np.testing.assert_array_equal(layer.get_mag(1).read()[0], data)
    code = main(
        ["export", str(target), "raw", str(tmp_path / "out.ome.tif"), "--format", "ome-tiff"]
    )
    assert code == 0
    np.testing.assert_array_equal(
        tifffile.imread(tmp_path / "out.ome.tif"), data.transpose(2, 1, 0)
    )
    assert main(["export", str(target), "nope", str(tmp_path / "x")]) == 2
    assert "no layer 'nope'" in capsys.readouterr().err


def test_cli_import_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.png").write_bytes(b"not a png")
    code = main(["import", str(tmp_path / "in"), str(tmp_path / "out"), "--voxel-size", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("wkl: error: Cannot read image") and "bad.png" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_cli_unknown_dtype_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_layer(tmp_path, volume()).get_layer("color").get_mag(1).to_images(tmp_path / "in")
    args = ["import", str(tmp_path / "in"), str(tmp_path / "out"), "--voxel-size", "1"]
    assert main([*args, "--dtype", "nonsense"]) == 1
    assert "'nonsense' is not a dtype" in capsys.readouterr().err
