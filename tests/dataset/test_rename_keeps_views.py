"""A MagView obtained before its layer is renamed keeps reading and writing the layer (as in
webknossos); before, it read zeros and wrote under the old folder name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import webknossos_like as wkl


@pytest.mark.parametrize("data_format", ["wkw", "neuroglancerPrecomputed", "zarr3"])
def test_mag_view_follows_a_layer_rename(tmp_path: Path, data_format: str) -> None:
    ds = wkl.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", data_format=data_format)
    mag = layer.add_mag(1)
    first = np.full((32, 32, 32), 7, np.uint8)
    mag.write(first)
    layer.name = "renamed"
    np.testing.assert_array_equal(mag.read_xyz(absolute_offset=(0, 0, 0), size=(32, 32, 32)), first)
    second = np.full((32, 32, 32), 9, np.uint8)
    mag.write(second, absolute_offset=(32, 0, 0))
    assert not (tmp_path / "ds" / "color").exists()
    reopened = wkl.Dataset.open(tmp_path / "ds").get_layer("renamed").get_mag(1)
    got = reopened.read_xyz(absolute_offset=(0, 0, 0), size=(64, 32, 32))
    np.testing.assert_array_equal(got[:32], first)
    np.testing.assert_array_equal(got[32:], second)
    assert (
        mag.path == tmp_path / "ds" / "renamed" / "1"
        or mag.path.resolve() == (tmp_path / "ds" / "renamed" / "1").resolve()
    )
