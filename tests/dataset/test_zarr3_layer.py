"""Zarr v3 layers through the whole object model: what works on WKW works here too."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorstore as ts
import zarr

import webknossos_like as wkl
from webknossos_like.cli import main as cli_main
from webknossos_like.errors import (
    DTypeError,
    OutOfBoundsError,
    ReadOnlyError,
    UnsupportedFormatError,
)
from webknossos_like.ops.check import compare_datasets

RNG = np.random.default_rng(15)
DATA = RNG.integers(1, 255, (90, 70, 40), dtype=np.uint8)
OFFSET = (20, 30, 4)


def make(path: Path, **mag: Any) -> wkl.Dataset:
    ds = wkl.Dataset(path, voxel_size=(4, 4, 4))
    layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3")
    layer.add_mag(1, **{"chunk_shape": 16, "shard_shape": 32, **mag}).write(
        DATA, absolute_offset=OFFSET
    )
    return ds


def _halve(args: tuple[Any, int]) -> None:
    view, _ = args
    view.write((view.read() // 2).astype(np.uint8))


def test_views_slicing_and_growth(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds")
    layer = ds.get_layer("color")
    mag = layer.get_mag(1)
    assert layer.bounding_box == wkl.BoundingBox(OFFSET, DATA.shape)
    view = mag.get_view(absolute_offset=(30, 40, 10), size=(20, 10, 5))
    np.testing.assert_array_equal(view.read_xyz(), DATA[10:30, 10:20, 6:11])
    # a write beyond the box grows it and the array's shape, saved at once
    mag.write(np.full((8, 8, 8), 7, np.uint8), absolute_offset=(200, 10, 60))
    reopened = wkl.Dataset.open(tmp_path / "ds").get_layer("color")
    assert reopened.bounding_box == wkl.BoundingBox(OFFSET, DATA.shape).extended_by(
        wkl.BoundingBox((200, 10, 60), (8, 8, 8))
    )
    assert json.loads((tmp_path / "ds/color/1/zarr.json").read_text())["shape"][1] >= 208
    assert (reopened.get_mag(1).read_xyz(absolute_offset=(200, 10, 60), size=(8, 8, 8)) == 7).all()
    with pytest.raises(OutOfBoundsError):
        mag.write(np.ones((2, 2, 2), np.uint8), absolute_offset=(-2, 0, 0))
    with pytest.raises(DTypeError):
        mag.write(np.full((2, 2, 2), 0.5), absolute_offset=(0, 0, 0))


@pytest.mark.parametrize("executor", ["sequential", "threads", "processes"])
def test_for_each_chunk_with_every_executor(tmp_path: Path, executor: str) -> None:
    ds = make(tmp_path / "ds")
    mag = ds.get_layer("color").get_mag(1)
    if executor == "sequential":
        mag.for_each_chunk(_halve)
    elif executor == "threads":
        with ThreadPoolExecutor(2) as pool:
            mag.for_each_chunk(_halve, executor=pool)
    else:
        with wkl.executors.processes(2) as pool:
            mag.for_each_chunk(_halve, executor=pool)
    got = mag.read_xyz(absolute_offset=OFFSET, size=DATA.shape)
    np.testing.assert_array_equal(got, DATA // 2)


def test_pyramid_matches_the_same_pyramid_in_wkw(tmp_path: Path) -> None:
    zarr_ds = make(tmp_path / "z")
    wkw_ds = zarr_ds.copy_dataset(tmp_path / "w", data_format="wkw")
    for ds in (zarr_ds, wkw_ds):
        ds.get_layer("color").downsample(coarsest_mag=4)
    z, w = zarr_ds.get_layer("color"), wkw_ds.get_layer("color")
    assert list(z.mags) == list(w.mags) == [wkl.Mag(1), wkl.Mag(2), wkl.Mag(4)]
    for mag in z.mags:
        np.testing.assert_array_equal(z.get_mag(mag).read(), w.get_mag(mag).read())
    group = json.loads((tmp_path / "z/color/zarr.json").read_text())
    datasets = group["attributes"]["ome"]["multiscales"][0]["datasets"]
    assert [d["path"] for d in datasets] == ["1", "2", "4"]
    assert datasets[2]["coordinateTransformations"][0]["scale"] == [1.0, 16.0, 16.0, 16.0]
    z.delete_mag(4)
    group = json.loads((tmp_path / "z/color/zarr.json").read_text())
    assert [d["path"] for d in group["attributes"]["ome"]["multiscales"][0]["datasets"]] == [
        "1",
        "2",
    ]


def test_conversions_in_every_direction_keep_voxels(tmp_path: Path) -> None:
    source = make(tmp_path / "z")
    expected = source.get_layer("color").get_mag(1).read()
    chain = [("wkw", "w"), ("neuroglancerPrecomputed", "p"), ("zarr3", "z2"), ("wkw", "w2")]
    current = source
    for data_format, name in chain:
        current = current.copy_dataset(tmp_path / name, data_format=data_format)
        layer = current.get_layer("color")
        assert layer.data_format == data_format
        np.testing.assert_array_equal(layer.get_mag(1).read(), expected)
    # same-format copies keep the chunk and shard shapes
    again = source.copy_dataset(tmp_path / "same")
    assert again.get_layer("color").get_mag(1).info.shard_shape == wkl.Vec3Int(32)
    assert compare_datasets(source, again) == []


def test_cli_convert_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make(tmp_path / "z")
    assert cli_main(["convert", str(tmp_path / "z"), str(tmp_path / "w"), "--format", "wkw"]) == 0
    assert (
        cli_main(["convert", str(tmp_path / "w"), str(tmp_path / "z2"), "--format", "zarr3"]) == 0
    )
    assert wkl.Dataset.open(tmp_path / "z2").get_layer("color").data_format == "zarr3"
    assert cli_main(["check", str(tmp_path / "z"), str(tmp_path / "z2")]) == 0
    capsys.readouterr()
    victim = sorted(
        p for p in (tmp_path / "z2/color/1").rglob("*") if p.is_file() and p.name != "zarr.json"
    )[0]
    victim.write_bytes(victim.read_bytes()[:-7])  # truncate a shard: its index is gone
    assert cli_main(["check", str(tmp_path / "z2")]) != 0


def test_compress_in_place_and_to_a_target(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds", compress=False)
    mag = ds.get_layer("color").get_mag(1)
    assert not mag.info.compressed
    mag.compress(target_path=tmp_path / "copy")
    assert not mag.info.compressed
    mag.compress()
    assert mag.info.compressed
    np.testing.assert_array_equal(mag.read_xyz(absolute_offset=OFFSET, size=DATA.shape), DATA)
    meta = json.loads((tmp_path / "ds/color/1/zarr.json").read_text())
    inner = meta["codecs"][0]["configuration"]["codecs"]
    assert [c["name"] for c in inner][-1] == "zstd"
    copy = zarr.open_array(str(tmp_path / "copy"), mode="r")
    np.testing.assert_array_equal(
        copy[0, OFFSET[0] : OFFSET[0] + 90, OFFSET[1] : OFFSET[1] + 70, OFFSET[2] : OFFSET[2] + 40],
        DATA,
    )
    assert not [p for p in (tmp_path / "ds/color").iterdir() if p.name.startswith(".wkl")]


def test_existing_zarr3_mags_are_registered(tmp_path: Path) -> None:
    make(tmp_path / "src")
    target = wkl.Dataset(tmp_path / "dst", voxel_size=(4, 4, 4))
    import shutil

    shutil.copytree(tmp_path / "src/color", tmp_path / "dst/found")
    layer = target.add_layer_for_existing_files("found", "color")
    assert layer.data_format == "zarr3"
    assert layer.bounding_box.contains_bbox(wkl.BoundingBox(OFFSET, DATA.shape))
    np.testing.assert_array_equal(
        layer.get_mag(1).read_xyz(absolute_offset=OFFSET, size=DATA.shape), DATA
    )


def test_serve_html_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = make(tmp_path / "ds")
    html = ds._repr_html_()
    assert "zarr3" in html
    assert "zarr3" in ds.get_layer("color").get_mag(1)._repr_html_()
    assert cli_main(["info", str(tmp_path / "ds")]) == 0
    assert "zarr3" in capsys.readouterr().out
    handle = ds.serve(port=0)
    try:
        info = json.loads(urllib.request.urlopen(handle.layer_url("color") + "/info").read())
        assert info["data_type"] == "uint8"
        spec = {
            "driver": "neuroglancer_precomputed",
            "kvstore": {"driver": "http", "base_url": handle.layer_url("color") + "/"},
        }
        served = ts.open(spec, read=True).result()
        x, y, z = OFFSET
        got = served[x : x + 90, y : y + 70, z : z + 40].read().result()[..., 0]
        np.testing.assert_array_equal(got, DATA)
    finally:
        handle.close()


def write_ome_image(folder: Path, version: str, axes: list[str], data: np.ndarray) -> None:
    """An OME-Zarr image as another tool writes it, with zarr-python (v2 for 0.4, v3 for 0.5)."""
    kinds = {"t": "time", "c": "channel", "x": "space", "y": "space", "z": "space"}
    axis_meta = [
        {"name": a, "type": kinds[a], **({"unit": "micrometer"} if kinds[a] == "space" else {})}
        for a in axes
    ]
    scale = [1.0 if a in "tc" else 0.5 for a in axes]
    multiscale = {
        "axes": axis_meta,
        "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]},
            {
                "path": "1",
                "coordinateTransformations": [
                    {
                        "type": "scale",
                        "scale": [
                            s * (2 if a in "xyz" else 1) for s, a in zip(scale, axes, strict=True)
                        ],
                    }
                ],
            },
        ],
    }
    half = data[tuple(slice(None, None, 2) if a in "xyz" else slice(None) for a in axes)]
    if version == "0.4":
        group = zarr.open_group(str(folder), mode="w", zarr_format=2)
        group.attrs["multiscales"] = [{**multiscale, "version": "0.4"}]
        for name, level in (("0", data), ("1", half)):
            array = group.create_array(
                name, shape=level.shape, dtype=level.dtype, chunks=(16,) * level.ndim
            )
            array[...] = level
    else:
        group = zarr.open_group(str(folder), mode="w", zarr_format=3)
        group.attrs["ome"] = {"version": "0.5", "multiscales": [multiscale]}
        for name, level in (("0", data), ("1", half)):
            array = group.create_array(
                name,
                shape=level.shape,
                dtype=level.dtype,
                chunks=(16,) * level.ndim,
                dimension_names=axes,
            )
            array[...] = level


@pytest.mark.parametrize(
    ("version", "axes"),
    [("0.4", ["t", "c", "z", "y", "x"]), ("0.4", ["z", "y", "x"]), ("0.5", ["c", "z", "y", "x"])],
)
def test_ome_zarr_images_open_as_datasets(tmp_path: Path, version: str, axes: list[str]) -> None:
    xyz = RNG.integers(0, 60000, (24, 20, 12), dtype=np.uint16)
    cxyz = np.stack([xyz, xyz // 3])
    full = {"x": 24, "y": 20, "z": 12, "c": 2, "t": 1}
    stored = np.empty([full[a] for a in axes], np.uint16)
    order = [a for a in "cxyz" if a in axes]
    source = cxyz if "c" in axes else xyz
    # place (c,)x,y,z into the stored axis order
    moved = np.transpose(source, [order.index(a) for a in axes if a != "t"])
    stored[...] = moved.reshape(stored.shape)
    write_ome_image(tmp_path / "img", version, axes, stored)

    ds = wkl.Dataset.open(tmp_path / "img")
    assert ds.read_only
    layer = next(iter(ds.layers.values()))
    assert layer.data_format == "zarr3"
    assert ds.voxel_size_with_unit.factor == (0.5, 0.5, 0.5)
    assert ds.voxel_size_unit == "micrometer"
    assert list(layer.mags) == [wkl.Mag(1), wkl.Mag(2)]
    assert layer.num_channels == (2 if "c" in axes else 1)
    got = layer.get_mag(1).read()
    np.testing.assert_array_equal(got, cxyz if "c" in axes else xyz[None])
    np.testing.assert_array_equal(layer.get_mag(2).read()[0], xyz[::2, ::2, ::2])
    with pytest.raises(ReadOnlyError):
        layer.get_mag(1).write(np.zeros((1, 2, 2, 2), np.uint16))
    copy = ds.copy_dataset(tmp_path / "edited", data_format="zarr3")
    np.testing.assert_array_equal(next(iter(copy.layers.values())).get_mag(1).read(), got)


def test_unsupported_ome_layouts_are_refused_clearly(tmp_path: Path) -> None:
    data = np.zeros((3, 8, 8, 8), np.uint8)  # a time axis of length 3
    write_ome_image(tmp_path / "img", "0.4", ["t", "z", "y", "x"], data)
    with pytest.raises(UnsupportedFormatError, match="t"):
        wkl.Dataset.open(tmp_path / "img").get_layer("img").get_mag(1).read()
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain/zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    with pytest.raises(UnsupportedFormatError):
        wkl.Dataset.open(tmp_path / "plain")
