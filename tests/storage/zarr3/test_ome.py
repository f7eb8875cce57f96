"""OME-NGFF: webknossos' 0.5 groups (validated by ome-zarr-models), 0.4 images with OME axes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from webknossos_like.errors import InvalidPropertiesError, UnsupportedFormatError
from webknossos_like.geometry import BoundingBox, Vec3Int
from webknossos_like.storage.zarr3.array import Zarr3Array
from webknossos_like.storage.zarr3.ome import (
    dataset_group_metadata,
    layer_group_metadata,
    parse_ome_multiscales,
    write_json_atomically,
)

MAGS = [([1, 1, 1], "1"), ([2, 2, 1], "2-2-1")]


def _layer(root: Path, channels: int = 2) -> Path:
    layer = root / "color"
    layer.mkdir(parents=True)
    write_json_atomically(root / "zarr.json", dataset_group_metadata())
    for mag, path in MAGS:
        array = Zarr3Array.create(
            layer / path,
            dtype="uint8",
            num_channels=channels,
            chunk_shape=Vec3Int(8),
            shard_shape=Vec3Int(16),
            compressed=True,
        )
        array.write(Vec3Int(0, 0, 0), np.ones((channels, 16 // mag[0], 16 // mag[1], 8), np.uint8))
    meta = layer_group_metadata("color", MAGS, (4.0, 4.0, 40.0), "nanometer", channels)
    write_json_atomically(layer / "zarr.json", meta)
    return layer


def test_layer_group_validates_with_ome_zarr_models(tmp_path: Path) -> None:
    from ome_zarr_models.v05 import Image

    layer = _layer(tmp_path)
    image = Image.from_zarr(zarr.open_group(str(layer), mode="r"))
    multiscale = image.ome_attributes.multiscales[0]
    assert [a.name for a in multiscale.axes] == ["c", "x", "y", "z"]
    assert [d.path for d in multiscale.datasets] == ["1", "2-2-1"]
    assert multiscale.datasets[1].coordinateTransformations[0].scale == [1.0, 8.0, 8.0, 40.0]


def test_layer_group_rejected_by_ome_zarr_models_when_broken(tmp_path: Path) -> None:
    """The validation above can fail: a dataset path without an array is refused."""
    from ome_zarr_models.v05 import Image

    layer = _layer(tmp_path)
    meta = layer_group_metadata("color", [*MAGS, ([4, 4, 4], "4")], (4, 4, 40), "nanometer", 2)
    write_json_atomically(layer / "zarr.json", meta)
    with pytest.raises(Exception, match="4"):
        Image.from_zarr(zarr.open_group(str(layer), mode="r"))


def test_layer_group_equals_webknossos(tmp_path: Path) -> None:
    wk = pytest.importorskip("webknossos")
    ds = wk.Dataset(tmp_path / "wk", voxel_size=(4, 4, 40))
    layer = ds.add_layer(
        "color", wk.COLOR_CATEGORY, dtype="uint8", num_channels=3, data_format="zarr3"
    )
    layer.add_mag(1)
    layer.add_mag("2-2-1")
    theirs = json.loads((tmp_path / "wk" / "color" / "zarr.json").read_text())
    ours = layer_group_metadata("color", MAGS, (4.0, 4.0, 40.0), "nanometer", 3)
    assert ours == theirs
    assert dataset_group_metadata() == json.loads((tmp_path / "wk" / "zarr.json").read_text())
    parsed = parse_ome_multiscales(tmp_path / "wk" / "color")
    assert parsed.axis_names == ("c", "x", "y", "z") and parsed.num_channels == 3
    assert [d.scale for d in parsed.datasets] == [(1.0, 4.0, 4.0, 40.0), (1.0, 8.0, 8.0, 40.0)]


def _ome_04(
    folder: Path, axes: list[str], data: np.ndarray, extra: dict[str, Any] | None = None
) -> None:
    """An OME-Zarr 0.4 image: zarr-python v2 arrays `0`, `1` and a hand-written `.zattrs`."""
    group = zarr.open_group(str(folder), mode="w", zarr_format=2)
    group.create_array(
        "0", shape=data.shape, chunks=tuple(max(1, s // 2) for s in data.shape), dtype=data.dtype
    )[...] = data
    group.create_array("1", shape=data.shape, chunks=data.shape, dtype=data.dtype)
    types = {"t": "time", "c": "channel", "x": "space", "y": "space", "z": "space"}
    units = {"x": "micrometer", "y": "micrometer", "z": "micrometer"}
    scale0 = [0.5 if a in "xyz" else 1.0 for a in axes]
    attrs = {
        "multiscales": [
            {
                "version": "0.4",
                "name": "img",
                "axes": [
                    {"name": a, "type": types[a], **({"unit": units[a]} if a in units else {})}
                    for a in axes
                ],
                "datasets": [
                    {
                        "path": "0",
                        "coordinateTransformations": [{"type": "scale", "scale": scale0}],
                    },
                    {
                        "path": "1",
                        "coordinateTransformations": [
                            {
                                "type": "scale",
                                "scale": [
                                    2 * s if a in "xyz" else s
                                    for a, s in zip(axes, scale0, strict=True)
                                ],
                            },
                            {
                                "type": "translation",
                                "translation": [0.25 if a in "xyz" else 0 for a in axes],
                            },
                        ],
                    },
                ],
                **(extra or {}),
            }
        ]
    }
    (folder / ".zattrs").write_text(json.dumps(attrs))


def test_ome_04_tczyx(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.integers(0, 60000, (1, 2, 5, 6, 7), dtype=np.uint16)  # t, c, z, y, x
    _ome_04(tmp_path, ["t", "c", "z", "y", "x"], data)
    parsed = parse_ome_multiscales(tmp_path)
    assert parsed.version == "0.4" and parsed.zarr_format == 2 and parsed.name == "img"
    assert parsed.axis_names == ("t", "c", "z", "y", "x")
    assert parsed.dtype == np.uint16 and parsed.num_channels == 2
    assert parsed.datasets[1].translation == (0, 0, 0.25, 0.25, 0.25)
    array = Zarr3Array(tmp_path / "0", axes=parsed.axes)
    info = array.info
    assert info.num_channels == 2 and info.chunk_shape == Vec3Int(3, 3, 2)
    assert array.shape == Vec3Int(7, 6, 5) and array.read_only
    out = array.read(BoundingBox((0, 0, 0), (7, 6, 5)))
    np.testing.assert_array_equal(out, data[0].transpose(0, 3, 2, 1))
    # One voxel by hand: (c=1, x=6, y=2, z=4) is data[t=0, c=1, z=4, y=2, x=6].
    assert out[1, 6, 2, 4] == data[0, 1, 4, 2, 6]
    sub = array.read(BoundingBox((5, 1, 3), (4, 4, 4)))  # partly beyond the shape
    np.testing.assert_array_equal(
        sub[:, :2, :4, :2], data[0, :, 3:5, 1:5, 5:7].transpose(0, 3, 2, 1)
    )
    assert not sub[:, 2:].any() and not sub[:, :, :, 2:].any()
    assert list(array.list_written_boxes()) == [
        BoundingBox((x, y, z), (min(3, 7 - x), 3, min(2, 5 - z)))
        for x, y, z in sorted(
            ((x, y, z) for x in (0, 3, 6) for y in (0, 3) for z in (0, 2, 4)),
        )
    ]


def test_ome_04_zyx(tmp_path: Path) -> None:
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)  # z, y, x
    _ome_04(tmp_path, ["z", "y", "x"], data)
    parsed = parse_ome_multiscales(tmp_path)
    assert parsed.num_channels == 1
    array = Zarr3Array(tmp_path / "0", axes=parsed.axis_names)
    out = array.read(BoundingBox((0, 0, 0), (6, 5, 4)))
    assert out.shape == (1, 6, 5, 4)
    np.testing.assert_array_equal(out[0], data.transpose(2, 1, 0))
    assert out[0, 5, 1, 3] == data[3, 1, 5]


def test_ome_04_yx_is_one_slice(tmp_path: Path) -> None:
    data = np.arange(30, dtype=np.uint8).reshape(5, 6)  # y, x
    _ome_04(tmp_path, ["y", "x"], data)
    array = Zarr3Array(tmp_path / "0", axes=parse_ome_multiscales(tmp_path).axes)
    assert array.shape == Vec3Int(6, 5, 1)
    np.testing.assert_array_equal(array.read(BoundingBox((0, 0, 0), (6, 5, 1)))[0, :, :, 0], data.T)


def test_long_time_axis_refused(tmp_path: Path) -> None:
    data = np.zeros((3, 1, 2, 2, 2), np.uint8)
    _ome_04(tmp_path, ["t", "c", "z", "y", "x"], data)
    with pytest.raises(UnsupportedFormatError, match="time axis of length 3"):
        parse_ome_multiscales(tmp_path)
    with pytest.raises(UnsupportedFormatError, match="time axis"):
        Zarr3Array(tmp_path / "0", axes=["t", "c", "z", "y", "x"])


@pytest.mark.parametrize(
    "axes",
    [["z", "y", "q"], ["x", "x", "y"], ["c", "z"], ["z", "y"]],
)
def test_unmappable_axes_refused(tmp_path: Path, axes: list[str]) -> None:
    group = zarr.open_group(str(tmp_path), mode="w", zarr_format=2)
    group.create_array("0", shape=(2,) * len(axes), dtype="uint8")
    with pytest.raises(UnsupportedFormatError, match="axes"):
        Zarr3Array(tmp_path / "0", axes=axes)


def test_unnamed_3d_array_needs_axes(tmp_path: Path) -> None:
    group = zarr.open_group(str(tmp_path), mode="w", zarr_format=2)
    group.create_array("0", shape=(2, 3, 4), dtype="uint8")
    with pytest.raises(UnsupportedFormatError, match="unnamed"):
        Zarr3Array(tmp_path / "0")


def test_ome_05_image_written_by_zarr_python(tmp_path: Path) -> None:
    data = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)  # z, y, x
    group = zarr.open_group(str(tmp_path), mode="w", zarr_format=3)
    group.create_array(
        "s0",
        shape=data.shape,
        chunks=(2, 2, 2),
        shards=(2, 4, 4),
        dtype="uint16",
        dimension_names=["z", "y", "x"],
    )[...] = data
    group.attrs["ome"] = {
        "version": "0.5",
        "multiscales": [
            {
                "axes": [{"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"],
                "datasets": [
                    {
                        "path": "s0",
                        "coordinateTransformations": [{"type": "scale", "scale": [40, 4, 4]}],
                    }
                ],
            }
        ],
    }
    parsed = parse_ome_multiscales(tmp_path)
    assert parsed.version == "0.5" and parsed.datasets[0].scale == (40.0, 4.0, 4.0)
    array = Zarr3Array(tmp_path / "s0")  # axis names from `dimension_names`
    assert array.read_only and array.info.shard_shape == Vec3Int(4, 4, 2)
    np.testing.assert_array_equal(
        array.read(BoundingBox((0, 0, 0), (5, 4, 3)))[0], data.transpose(2, 1, 0)
    )


@pytest.mark.parametrize(
    ("attrs", "error", "match"),
    [
        ({"plate": {"rows": []}}, UnsupportedFormatError, "plate"),
        ({"well": {"images": []}}, UnsupportedFormatError, "well"),
        ({"labels": ["a"]}, UnsupportedFormatError, "labels"),
        ({}, UnsupportedFormatError, "multiscales"),
        ({"multiscales": []}, InvalidPropertiesError, "multiscales"),
        (
            {"multiscales": [{"version": "0.3", "axes": ["y", "x"], "datasets": [{"path": "0"}]}]},
            UnsupportedFormatError,
            "0.3",
        ),
        (
            {
                "multiscales": [
                    {
                        "version": "0.4",
                        "axes": [{"name": "y"}, {"name": "x"}],
                        "datasets": [{"path": "../0"}],
                    }
                ]
            },
            InvalidPropertiesError,
            "inside",
        ),
        (
            {
                "multiscales": [
                    {
                        "version": "0.4",
                        "axes": [{"name": "y"}, {"name": "x"}],
                        "datasets": [{"path": "/etc"}],
                    }
                ]
            },
            InvalidPropertiesError,
            "relative",
        ),
        (
            {
                "multiscales": [
                    {
                        "version": "0.4",
                        "axes": [{"name": "y"}, {"name": "x"}],
                        "datasets": [
                            {
                                "path": "0",
                                "coordinateTransformations": [{"type": "scale", "scale": [1]}],
                            }
                        ],
                    }
                ]
            },
            InvalidPropertiesError,
            "2 numbers",
        ),
        (
            {
                "multiscales": [
                    {
                        "version": "0.4",
                        "axes": [{"nom": "y"}, {"name": "x"}],
                        "datasets": [{"path": "0"}],
                    }
                ]
            },
            InvalidPropertiesError,
            "name",
        ),
    ],
)
def test_refused_ome_metadata(
    tmp_path: Path, attrs: dict[str, Any], error: type[Exception], match: str
) -> None:
    (tmp_path / ".zgroup").write_text('{"zarr_format": 2}')
    (tmp_path / ".zattrs").write_text(json.dumps(attrs))
    with pytest.raises(error, match=match):
        parse_ome_multiscales(tmp_path)


def test_write_json_atomically_leaves_no_temp(tmp_path: Path) -> None:
    write_json_atomically(tmp_path / "zarr.json", {"a": [1, 2]})
    write_json_atomically(tmp_path / "zarr.json", {"b": 3})
    assert json.loads((tmp_path / "zarr.json").read_text()) == {"b": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["zarr.json"]
