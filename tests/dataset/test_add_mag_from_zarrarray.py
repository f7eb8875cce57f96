"""`Layer.add_mag_from_zarrarray`: a Zarr v3 array folder becomes a mag (copied or moved), as
in webknossos' `add_existing_zarr_array.py` example; the webknossos package reads the result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.errors import InvalidArgumentError, MagExistsError, UnsupportedFormatError

pytest.importorskip("tensorstore")


def _source_array(tmp_path: Path, dtype: str = "uint8") -> tuple[Path, np.ndarray]:
    """A Zarr v3 mag written by us in another dataset (as webknossos writes them)."""
    src = Dataset(tmp_path / "src", voxel_size=(1, 1, 1))
    mag = src.add_layer("color", "color", data_format="zarr3", dtype=dtype).add_mag(1)
    data = np.random.default_rng(1).integers(1, 200, (70, 50, 40)).astype(dtype)
    mag.write(data)
    return mag.path, data


@pytest.mark.parametrize("move", [False, True])
def test_array_becomes_a_mag(tmp_path: Path, move: bool) -> None:
    source, data = _source_array(tmp_path)
    ds = Dataset(tmp_path / "ds", voxel_size=(10, 10, 10))
    layer = ds.add_layer("color", "color", data_format="zarr3")
    mag = layer.add_mag_from_zarrarray(1, source, move=move)
    assert source.exists() is not move
    assert mag.path == layer.path / "1"
    assert layer.bounding_box.size == (70, 50, 40)
    np.testing.assert_array_equal(mag.read()[0], data)
    reopened = Dataset.open(tmp_path / "ds").get_layer("color")
    np.testing.assert_array_equal(reopened.get_mag(1).read()[0], data)
    mag.write(np.full((4, 4, 4), 7, np.uint8), absolute_offset=(0, 0, 0))  # writable
    assert (reopened.get_mag(1).read((4, 4, 4), absolute_offset=(0, 0, 0)) == 7).all()
    assert not [p.name for p in layer.path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_coarser_mag_grows_the_box_in_mag_1_units(tmp_path: Path) -> None:
    source, _ = _source_array(tmp_path)
    layer = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1)).add_layer(
        "color", "color", data_format="zarr3"
    )
    layer.add_mag_from_zarrarray("2-2-1", source)
    assert layer.bounding_box.size == (140, 100, 40)
    kept = Dataset(tmp_path / "ds2", voxel_size=(1, 1, 1)).add_layer(
        "color", "color", data_format="zarr3"
    )
    kept.add_mag_from_zarrarray(1, source, extend_layer_bounding_box=False)
    assert kept.bounding_box.is_empty()


def test_refusals_leave_the_layer_unchanged(tmp_path: Path) -> None:
    source, _ = _source_array(tmp_path, dtype="uint16")
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", data_format="zarr3")
    with pytest.raises(InvalidArgumentError, match="uint16"):
        layer.add_mag_from_zarrarray(1, source)  # dtype differs
    with pytest.raises(InvalidArgumentError, match="not a Zarr"):
        layer.add_mag_from_zarrarray(1, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgumentError, match="not a Zarr"):
        layer.add_mag_from_zarrarray(1, tmp_path / "empty")
    layer.add_mag(1)
    with pytest.raises(MagExistsError):
        layer.add_mag_from_zarrarray(1, source)
    wkw_layer = ds.add_layer("w", "color", dtype="uint16")
    with pytest.raises(UnsupportedFormatError, match="add_mag_as_copy"):
        wkw_layer.add_mag_from_zarrarray(1, source)
    assert list(layer.mags) == [layer.get_mag(1).mag] and not wkw_layer.mags
    assert source.exists()


def test_webknossos_reads_the_result(tmp_path: Path) -> None:
    wk = pytest.importorskip("webknossos")
    source, data = _source_array(tmp_path)
    ds = Dataset(tmp_path / "ds", voxel_size=(10, 10, 10))
    ds.add_layer("color", "color", data_format="zarr3").add_mag_from_zarrarray(1, source)
    theirs = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1).read()
    np.testing.assert_array_equal(np.asarray(theirs)[0], data)
