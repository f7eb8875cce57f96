"""Zarr v3 layers through the object model: written by us, read by webknossos, and bare images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

from webknossos_like import Dataset
from webknossos_like.geometry import Vec3Int


def test_zarr3_layer_end_to_end(tmp_path: Path) -> None:
    from ome_zarr_models.v05 import Image

    wk = pytest.importorskip("webknossos")
    rng = np.random.default_rng(2)
    data = rng.integers(0, 255, (70, 50, 20), dtype=np.uint8)
    ds = Dataset(tmp_path / "ds", voxel_size=(4, 4, 40))
    layer = ds.add_layer("color", "color", dtype="uint8", num_channels=1, data_format="zarr3")
    layer.add_mag(1).write(data, absolute_offset=(0, 0, 0))
    layer.downsample()
    mags = json.loads((tmp_path / "ds" / "datasource-properties.json").read_text())["dataLayers"][
        0
    ]["mags"]
    assert mags[0] == {
        "mag": [1, 1, 1],
        "path": "./color/1",
        "axisOrder": {"c": 0, "x": 1, "y": 2, "z": 3},
    }
    image = Image.from_zarr(zarr.open_group(str(tmp_path / "ds" / "color"), mode="r"))
    assert [d.path for d in image.ome_attributes.multiscales[0].datasets] == [
        m["path"].split("/")[-1] for m in mags
    ]
    theirs = wk.Dataset.open(tmp_path / "ds").get_layer("color")
    np.testing.assert_array_equal(
        theirs.get_mag(1).read(absolute_offset=(0, 0, 0), size=(70, 50, 20))[0], data
    )
    ours_mag2 = layer.get_mag(mags[1]["path"].split("/")[-1]).read()
    theirs_mag2 = theirs.get_mag(mags[1]["path"].split("/")[-1]).read()
    np.testing.assert_array_equal(ours_mag2, theirs_mag2)


def test_bare_ome_zarr_04_opens_as_dataset(tmp_path: Path) -> None:
    data = np.arange(2 * 8 * 6 * 4, dtype=np.uint16).reshape(2, 8, 6, 4)  # c, z, y, x
    group = zarr.open_group(str(tmp_path / "img"), mode="w", zarr_format=2)
    group.create_array("0", shape=data.shape, chunks=(1, 4, 4, 4), dtype="uint16")[...] = data
    group.create_array("1", shape=(2, 4, 3, 2), chunks=(1, 4, 3, 2), dtype="uint16")[...] = data[
        :, ::2, ::2, ::2
    ]
    axes = [{"name": "c", "type": "channel"}] + [
        {"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"
    ]
    scale = lambda f: [{"type": "scale", "scale": [1, 0.5 * f, 0.2 * f, 0.2 * f]}]  # noqa: E731
    (tmp_path / "img" / ".zattrs").write_text(
        json.dumps(
            {
                "multiscales": [
                    {
                        "version": "0.4",
                        "axes": axes,
                        "datasets": [
                            {"path": "0", "coordinateTransformations": scale(1)},
                            {"path": "1", "coordinateTransformations": scale(2)},
                        ],
                    }
                ]
            }
        )
    )
    ds = Dataset.open(tmp_path / "img")
    layer = next(iter(ds.layers.values()))
    assert ds.voxel_size_with_unit.factor == pytest.approx((0.2, 0.2, 0.5))
    assert layer.num_channels == 2 and layer.bounding_box.size == Vec3Int(4, 6, 8)
    assert sorted(m.to_layer_name() for m in layer.mags) == ["1", "2"]
    np.testing.assert_array_equal(layer.get_mag(1).read(), data.transpose(0, 3, 2, 1))
    np.testing.assert_array_equal(
        layer.get_mag(2).read(), data[:, ::2, ::2, ::2].transpose(0, 3, 2, 1)
    )
