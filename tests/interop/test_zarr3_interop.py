"""Interop with the real `webknossos` package (4.3.3) on its default format, Zarr v3.

Datasets webknossos writes by default (no `data_format`) must open in ours with the same
metadata and voxels; Zarr v3 datasets we write (`data_format="zarr3"`) must open in webknossos,
in bare tensorstore and in zarr-python 3; each library must be able to write into the other's
dataset; and converting WKW -> Zarr v3 -> precomputed -> WKW (API and `wkl convert`) keeps every
voxel. Expected voxels come from NumPy, never from either library.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

with warnings.catch_warnings():
    # webknossos warns at import time about optional image readers that are not installed.
    warnings.simplefilter("ignore")
    wk = pytest.importorskip("webknossos")
    pytest.importorskip("cluster_tools")
ts = pytest.importorskip("tensorstore")
zarr = pytest.importorskip("zarr")

import webknossos_like as wkl  # noqa: E402
from webknossos_like.cli import main as wkl_main  # noqa: E402

from ._webknossos_zarr3 import (  # noqa: E402
    PROPERTIES,
    VOXEL_SIZE,
    ZARR3,
    Expected,
    box_tuple,
    build,
    mag_box,
    mag_tuple,
    properties,
    read_box,
    storage_of_ours,
    storage_of_wk,
    stored_files,
    zarr_json,
)

# webknossos' informational warnings (numba missing, mag taken from another layer) are expected.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:webknossos.*")

LAYERS = ("color", "rgb", "seg64", "pyramid", "mixed")
Built = tuple[Path, dict[str, Expected]]


def _check_mag1(expected: Expected, data: np.ndarray, who: str) -> None:
    """`data`, read over the mag-1 layer box, is the NumPy ground truth."""
    assert data.dtype == expected.dtype, who
    assert data.shape == expected.mag1.shape, who
    np.testing.assert_array_equal(data, expected.mag1, err_msg=who)


def _check_direct(expected: Expected, layer: Any, who: str) -> None:
    """Coarse mags that were written directly (not downsampled) hold exactly what was written."""
    for mag, (offset, data) in expected.direct.items():
        size = tuple(s * m for s, m in zip(data.shape[1:], mag, strict=True))
        got = np.asarray(layer.get_mag(mag).read(absolute_offset=offset, size=size))
        np.testing.assert_array_equal(got, data, err_msg=f"{who} mag {mag}")


# -- 1. webknossos' default datasets open in ours -----------------------------------------------


@pytest.fixture(scope="module")
def wk_written(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Every layer written by webknossos without `data_format` (its default)."""
    path = tmp_path_factory.mktemp("wk_zarr3") / "ds"
    return path, build(wk, path, default_format=True)


def test_webknossos_default_format_is_zarr3(wk_written: Built) -> None:
    """The peer side: webknossos' default is Zarr v3, and its reads give the NumPy truth."""
    path, specs = wk_written
    assert [layer["dataFormat"] for layer in properties(path)["dataLayers"]] == [ZARR3] * len(specs)
    theirs = wk.Dataset.open(path)
    for name, spec in specs.items():
        layer = theirs.get_layer(name)
        assert layer.data_format.value == ZARR3, name
        for mag in spec.mags:
            meta = zarr_json(layer.get_mag(mag).path)
            assert (meta["zarr_format"], meta["node_type"]) == (3, "array"), (name, mag)
            assert meta["dimension_names"] == ["c", "x", "y", "z"], (name, mag)
        _check_mag1(spec, read_box(layer, (1, 1, 1), spec.bbox), f"webknossos reads {name}")
        _check_direct(spec, layer, f"webknossos reads {name}")


@pytest.mark.parametrize("layer_name", LAYERS)
def test_webknossos_zarr3_metadata_in_ours(wk_written: Built, layer_name: str) -> None:
    path, specs = wk_written
    spec = specs[layer_name]
    ours = wkl.Dataset.open(path)
    assert list(ours.layers) == list(specs)
    assert tuple(ours.voxel_size) == VOXEL_SIZE
    layer = ours.get_layer(layer_name)
    theirs = wk.Dataset.open(path).get_layer(layer_name)
    assert layer.data_format == ZARR3
    assert layer.category == spec.category == theirs.category
    assert np.dtype(layer.dtype) == spec.dtype == np.dtype(theirs.dtype)
    assert layer.num_channels == spec.num_channels == theirs.num_channels
    assert box_tuple(layer.bounding_box) == spec.bbox == box_tuple(theirs.bounding_box)
    assert {mag_tuple(m) for m in layer.mags} == spec.mags == {mag_tuple(m) for m in theirs.mags}
    if spec.category == "segmentation":
        assert isinstance(layer, wkl.SegmentationLayer)
        assert layer.largest_segment_id == spec.largest_segment_id
    for mag in spec.mags:
        # compression, chunk and shard shape as webknossos reports them for the same array
        assert storage_of_ours(layer, mag) == storage_of_wk(theirs, mag), mag
    for mag, (compressed, chunk, shard) in spec.storage.items():
        got = storage_of_ours(layer, mag)
        assert got[0] == compressed and chunk in (None, got[1]) and shard in (None, got[2]), mag


@pytest.mark.parametrize("layer_name", LAYERS)
def test_webknossos_zarr3_voxels_in_ours(wk_written: Built, layer_name: str) -> None:
    """The whole layer box, in every mag, read by both libraries: identical arrays."""
    path, specs = wk_written
    spec = specs[layer_name]
    ours = wkl.Dataset.open(path).get_layer(layer_name)
    theirs = wk.Dataset.open(path).get_layer(layer_name)
    for mag in sorted(spec.mags):
        mine = read_box(ours, mag, spec.bbox)
        expected = read_box(theirs, mag, spec.bbox)
        assert mine.dtype == expected.dtype, mag
        np.testing.assert_array_equal(mine, expected, err_msg=f"mag {mag}")
    _check_mag1(spec, read_box(ours, (1, 1, 1), spec.bbox), f"ours reads {layer_name}")
    _check_direct(spec, ours, f"ours reads {layer_name}")
    # a window reaching outside the layer box reads zeros there, like webknossos
    (x, y, z), _ = spec.bbox
    window = ours.get_mag(1).read(absolute_offset=(x + 3, y + 2, z + 1), size=(40, 40, 40))
    np.testing.assert_array_equal(
        window, theirs.get_mag(1).read(absolute_offset=(x + 3, y + 2, z + 1), size=(40, 40, 40))
    )


# -- 2. our Zarr v3 datasets open in webknossos -------------------------------------------------


@pytest.fixture(scope="module")
def ours_written(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The same layers written through our API with `data_format="zarr3"`."""
    path = tmp_path_factory.mktemp("ours_zarr3") / "ds"
    return path, build(wkl, path)


@pytest.mark.parametrize("layer_name", LAYERS)
def test_ours_zarr3_metadata_in_webknossos(ours_written: Built, layer_name: str) -> None:
    path, specs = ours_written
    spec = specs[layer_name]
    theirs = wk.Dataset.open(path)
    assert list(theirs.layers) == list(specs)
    assert tuple(theirs.voxel_size) == VOXEL_SIZE
    layer = theirs.get_layer(layer_name)
    assert layer.data_format.value == ZARR3
    assert properties(path)["dataLayers"][list(specs).index(layer_name)]["dataFormat"] == ZARR3
    assert layer.category == spec.category
    assert np.dtype(layer.dtype) == spec.dtype
    assert layer.num_channels == spec.num_channels
    assert box_tuple(layer.bounding_box) == spec.bbox
    assert {mag_tuple(m) for m in layer.mags} == spec.mags
    assert len(spec.mags) > 1 or layer_name != "pyramid"  # our downsample built a pyramid
    if spec.category == "segmentation":
        assert (
            theirs.get_segmentation_layer(layer_name).largest_segment_id == spec.largest_segment_id
        )
    ours = wkl.Dataset.open(path).get_layer(layer_name)
    for mag in spec.mags:
        assert storage_of_wk(layer, mag) == storage_of_ours(ours, mag), mag
    for mag, (compressed, chunk, shard) in spec.storage.items():
        got = storage_of_wk(layer, mag)
        assert got[0] == compressed and chunk in (None, got[1]) and shard in (None, got[2]), mag


@pytest.mark.parametrize("layer_name", LAYERS)
def test_ours_zarr3_voxels_in_webknossos(ours_written: Built, layer_name: str) -> None:
    path, specs = ours_written
    spec = specs[layer_name]
    theirs = wk.Dataset.open(path).get_layer(layer_name)
    ours = wkl.Dataset.open(path).get_layer(layer_name)
    for mag in sorted(spec.mags):
        np.testing.assert_array_equal(
            read_box(theirs, mag, spec.bbox), read_box(ours, mag, spec.bbox), err_msg=f"mag {mag}"
        )
    _check_mag1(spec, read_box(theirs, (1, 1, 1), spec.bbox), f"webknossos reads our {layer_name}")
    _check_direct(spec, theirs, f"webknossos reads our {layer_name}")


def _same_operations(lib: Any, path: Path, data: np.ndarray) -> None:
    ds = lib.Dataset(path, voxel_size=VOXEL_SIZE)
    grow = {"allow_resize": True, "allow_unaligned": True} if lib is wk else {}
    color = ds.add_layer("color", "color", dtype="uint8", data_format=ZARR3)
    color.add_mag(1, chunk_shape=32, shard_shape=128, compress=True).write(
        data, absolute_offset=(100, 20, 10), **grow
    )
    color.add_mag("2-2-1", chunk_shape=32, shard_shape=64, compress=False).write(
        data[::2, ::2], absolute_offset=(100, 20, 10), **grow
    )
    seg = ds.add_layer(
        "seg", "segmentation", dtype="uint32", largest_segment_id=7, data_format=ZARR3
    )
    seg.add_mag(1, chunk_shape=16, shard_shape=64, compress=True).write(
        (data % 8).astype(np.uint32), absolute_offset=(0, 0, 0), **grow
    )


def test_same_operations_give_the_same_zarr3_layout(tmp_path: Path) -> None:
    """The same calls on both libraries give the same properties, array metadata and shard keys.

    Only the arrays' `shape` may differ (a writer may round it up); it must cover the layer box.
    """
    data = np.random.default_rng(2).integers(0, 256, (96, 80, 24), dtype=np.uint8)
    theirs, ours = tmp_path / "wk", tmp_path / "ours"
    _same_operations(wk, theirs, data)
    _same_operations(wkl, ours, data)
    mine, expected = properties(ours), properties(theirs)
    mine["id"]["name"] = expected["id"]["name"]  # the folder names differ
    assert mine == expected
    layers = {layer["name"]: layer for layer in expected["dataLayers"]}
    for layer_name, mag_dir, mag in (
        ("color", "color/1", (1, 1, 1)),
        ("color", "color/2-2-1", (2, 2, 1)),
        ("seg", "seg/1", (1, 1, 1)),
    ):
        meta, reference = zarr_json(ours / mag_dir), zarr_json(theirs / mag_dir)
        shape = meta.pop("shape")
        reference.pop("shape")
        assert meta == reference, mag_dir
        box = layers[layer_name]["boundingBox"]
        end = [
            t + s
            for t, s in zip(
                box["topLeft"], (box["width"], box["height"], box["depth"]), strict=True
            )
        ]
        assert shape[0] == 1 and all(
            n * m >= e for n, m, e in zip(shape[1:], mag, end, strict=True)
        ), (mag_dir, shape)
        assert stored_files(ours / mag_dir) == stored_files(theirs / mag_dir), mag_dir


def test_webknossos_writes_into_our_zarr3_dataset(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    rng = np.random.default_rng(3)
    ours = wkl.Dataset(path, voxel_size=VOXEL_SIZE)
    first = rng.integers(1, 256, (48, 40, 20), dtype=np.uint8)
    ours.add_layer("color", "color", dtype="uint8", data_format=ZARR3).add_mag(
        1, chunk_shape=32, shard_shape=128, compress=True
    ).write(first, absolute_offset=(16, 8, 4))
    seg_data = rng.integers(1, 1000, (32, 32, 32), dtype=np.uint32)
    ours.add_layer("seg", "segmentation", dtype="uint32", data_format=ZARR3).add_mag(
        1, chunk_shape=32, shard_shape=128, compress=True
    ).write(seg_data, absolute_offset=(0, 0, 0))
    seg_before = properties(path)["dataLayers"][1]

    theirs = wk.Dataset.open(path)
    extra = rng.integers(1, 256, (30, 20, 10), dtype=np.uint8)
    # unaligned, partly inside the existing shard, and growing the box in x and z
    theirs.get_layer("color").get_mag(1).write(
        extra, absolute_offset=(150, 30, 20), allow_resize=True, allow_unaligned=True
    )
    added = rng.integers(0, 65_536, (2, 24, 24, 8), dtype=np.uint16)
    new = theirs.add_layer("wk_new", "color", dtype="uint16", num_channels=2, data_format=ZARR3)
    new.add_mag(1, compress=True).write(added, absolute_offset=(8, 8, 8), allow_resize=True)

    reopened = wkl.Dataset.open(path)
    assert list(reopened.layers) == ["color", "seg", "wk_new"]
    assert properties(path)["dataLayers"][1] == seg_before  # untouched by webknossos
    color = reopened.get_layer("color")
    assert box_tuple(color.bounding_box) == ((16, 8, 4), (180 - 16, 50 - 8, 30 - 4))
    np.testing.assert_array_equal(
        color.get_mag(1).read(absolute_offset=(150, 30, 20), size=(30, 20, 10))[0], extra
    )
    np.testing.assert_array_equal(
        color.get_mag(1).read(absolute_offset=(16, 8, 4), size=(48, 40, 20))[0], first
    )
    np.testing.assert_array_equal(reopened.get_layer("seg").get_mag(1).read()[0], seg_data)
    wk_new = reopened.get_layer("wk_new")
    assert wk_new.data_format == ZARR3 and wk_new.num_channels == 2
    assert np.dtype(wk_new.dtype) == np.uint16
    assert box_tuple(wk_new.bounding_box) == ((8, 8, 8), (24, 24, 8))
    np.testing.assert_array_equal(wk_new.get_mag(1).read(), added)


def test_we_write_into_a_webknossos_zarr3_dataset(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    rng = np.random.default_rng(4)
    theirs = wk.Dataset(path, voxel_size=VOXEL_SIZE)
    theirs.default_view_configuration = wk.DatasetViewConfiguration(zoom=2, position=(1, 2, 3))
    color = theirs.add_layer("color", "color", dtype="uint8")  # webknossos defaults: zarr3, 1024
    color.default_view_configuration = wk.LayerViewConfiguration(color=(255, 0, 0), alpha=50)
    first = rng.integers(1, 256, (64, 64, 32), dtype=np.uint8)
    color.add_mag(1).write(first, absolute_offset=(32, 32, 32), allow_resize=True)
    big_id = 2**60 + 12_345
    seg = theirs.add_layer(
        "seg",
        "segmentation",
        dtype="uint64",
        largest_segment_id=big_id,
        mappings=["agglomerate_view_5"],
    )
    seg_data = rng.integers(0, big_id, (32, 32, 32), dtype=np.uint64)
    seg.add_mag(1, compress=False, shard_shape=64).write(
        seg_data, absolute_offset=(0, 0, 0), allow_resize=True
    )
    before = properties(path)
    # webknossos' own default shard is 1024^3 (bigger than the whole layer), zstd-compressed
    assert storage_of_wk(color, (1, 1, 1)) == (True, 32, 1024)

    ours = wkl.Dataset.open(path)
    assert storage_of_ours(ours.get_layer("color"), (1, 1, 1)) == (True, 32, 1024)
    assert ours.get_segmentation_layer("seg").largest_segment_id == big_id
    more = rng.integers(1, 256, (33, 17, 9), dtype=np.uint8)
    ours.get_layer("color").get_mag(1).write(more, absolute_offset=(95, 40, 60))  # grows x and z
    new_data = rng.integers(1, 1000, (40, 40, 16), dtype=np.uint32)
    new = ours.add_layer("ours_new", "segmentation", dtype="uint32", data_format=ZARR3)
    new.add_mag(1, chunk_shape=32, shard_shape=128, compress=True).write(
        new_data, absolute_offset=(8, 16, 24)
    )

    after = properties(path)
    # everything webknossos wrote is kept, except the bounding box our write grew
    assert {k: v for k, v in after.items() if k != "dataLayers"} == {
        k: v for k, v in before.items() if k != "dataLayers"
    }
    assert after["dataLayers"][1] == before["dataLayers"][1]  # bigint id, mappings
    grown = json.loads(json.dumps(before["dataLayers"][0]))
    grown["boundingBox"].update(width=128 - 32, depth=69 - 32)
    assert after["dataLayers"][0] == grown

    reread = wk.Dataset.open(path)
    assert reread.default_view_configuration.zoom == 2.0
    wk_color = reread.get_layer("color")
    assert tuple(wk_color.default_view_configuration.color) == (255, 0, 0)
    assert box_tuple(wk_color.bounding_box) == ((32, 32, 32), (96, 64, 37))
    np.testing.assert_array_equal(
        wk_color.get_mag(1).read(absolute_offset=(95, 40, 60), size=(33, 17, 9))[0], more
    )
    expected_first = first.copy()
    expected_first[63:, 8:25, 28:] = more[:1, :, :4]
    np.testing.assert_array_equal(
        wk_color.get_mag(1).read(absolute_offset=(32, 32, 32), size=(64, 64, 32))[0], expected_first
    )
    np.testing.assert_array_equal(reread.get_layer("seg").get_mag(1).read()[0], seg_data)
    wk_new = reread.get_segmentation_layer("ours_new")
    assert wk_new.data_format.value == ZARR3
    assert wk_new.largest_segment_id == int(new_data.max())
    assert box_tuple(wk_new.bounding_box) == ((8, 16, 24), (40, 40, 16))
    np.testing.assert_array_equal(wk_new.get_mag(1).read()[0], new_data)


# -- 3. bare tensorstore and zarr-python 3 read the arrays --------------------------------------


def _array_reads(
    mag_dir: Path, box: tuple[tuple[int, ...], tuple[int, ...]]
) -> dict[str, np.ndarray]:
    """`(c, x, y, z)` of a mag-coordinate box through tensorstore and zarr-python directly."""
    (x, y, z), (sx, sy, sz) = box
    window = (slice(None), slice(x, x + sx), slice(y, y + sy), slice(z, z + sz))
    store = ts.open({"driver": "zarr3", "kvstore": f"file://{mag_dir}/", "open": True}).result()
    array = zarr.open_array(str(mag_dir), mode="r")
    assert list(store.domain.labels) == ["c", "x", "y", "z"]
    return {
        "tensorstore": np.asarray(store[window].read().result()),
        "zarr-python": np.asarray(array[window]),
    }


@pytest.mark.parametrize("writer", ["webknossos", "ours"])
@pytest.mark.parametrize("layer_name", LAYERS)
def test_zarr3_arrays_open_in_tensorstore_and_zarr_python(
    request: pytest.FixtureRequest, writer: str, layer_name: str
) -> None:
    """Every mag array of every layer: `(c, x, y, z)` voxels identical to the library's read.

    The webknossos-written case checks this test itself against the peer.
    """
    path, specs = request.getfixturevalue(
        "wk_written" if writer == "webknossos" else "ours_written"
    )
    spec = specs[layer_name]
    layer = (wk if writer == "webknossos" else wkl).Dataset.open(path).get_layer(layer_name)
    for mag in sorted(spec.mags):
        mag_dir = path / layer_name / wkl.Mag(mag).to_layer_name()
        assert zarr_json(mag_dir)["dimension_names"] == ["c", "x", "y", "z"]
        topleft, size = mag_box(spec.bbox, mag)
        in_mag = (
            tuple(t // m for t, m in zip(topleft, mag, strict=True)),
            tuple(s // m for s, m in zip(size, mag, strict=True)),
        )
        expected = read_box(layer, mag, spec.bbox)
        for reader, data in _array_reads(mag_dir, in_mag).items():
            assert data.dtype == spec.dtype, (reader, mag)
            np.testing.assert_array_equal(data, expected, err_msg=f"{reader} mag {mag}")
        if mag == (1, 1, 1):
            _check_mag1(spec, expected, f"{writer} {layer_name}")


# -- 4. WKW -> Zarr v3 -> precomputed -> WKW, through the API and the command line ----------------


@pytest.fixture
def wkw_source(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A WKW dataset of ours: color with a pyramid, a uint32 segmentation; returns mag-1 data."""
    path = tmp_path / "wkw"
    rng = np.random.default_rng(5)
    ds = wkl.Dataset(path, voxel_size=VOXEL_SIZE)
    color = rng.integers(0, 256, (100, 70, 24), dtype=np.uint8)
    layer = ds.add_layer("color", "color", dtype="uint8", data_format="wkw")
    layer.add_mag(1, compress=True).write(color, absolute_offset=(20, 30, 4))
    layer.downsample(coarsest_mag=(4, 4, 1))
    seg = rng.integers(0, 70_000, (64, 40, 16), dtype=np.uint32)
    ds.add_layer("seg", "segmentation", dtype="uint32", data_format="wkw").add_mag(
        1, compress=False
    ).write(seg, absolute_offset=(0, 8, 2))
    return path, {"color": color, "seg": seg}


def _assert_same_dataset(source: Path, target: Path, data_format: str) -> None:
    """`target` has the source's layers, boxes, mags and voxels (every mag), in `data_format`."""
    src, dst = wkl.Dataset.open(source), wkl.Dataset.open(target)
    assert list(dst.layers) == list(src.layers)
    for name, layer in src.layers.items():
        copy = dst.get_layer(name)
        assert copy.data_format == data_format, name
        assert (copy.category, copy.dtype, copy.num_channels) == (
            layer.category,
            layer.dtype,
            layer.num_channels,
        ), name
        assert box_tuple(copy.bounding_box) == box_tuple(layer.bounding_box), name
        assert set(copy.mags) == set(layer.mags), name
        if isinstance(layer, wkl.SegmentationLayer):
            assert copy.largest_segment_id == layer.largest_segment_id
        box = box_tuple(layer.bounding_box)
        for mag in layer.mags:
            np.testing.assert_array_equal(
                read_box(copy, mag_tuple(mag), box),
                read_box(layer, mag_tuple(mag), box),
                err_msg=f"{data_format} {name} mag {mag}",
            )


def _assert_zarr3_opens_in_webknossos(path: Path, mag1: dict[str, np.ndarray]) -> None:
    theirs, ours = wk.Dataset.open(path), wkl.Dataset.open(path)
    assert set(theirs.layers) == set(mag1)
    for name, data in mag1.items():
        layer, mine = theirs.get_layer(name), ours.get_layer(name)
        assert layer.data_format.value == ZARR3
        assert box_tuple(layer.bounding_box) == box_tuple(mine.bounding_box)
        assert {mag_tuple(m) for m in layer.mags} == {mag_tuple(m) for m in mine.mags}
        box = box_tuple(layer.bounding_box)
        np.testing.assert_array_equal(read_box(layer, (1, 1, 1), box)[0], data, err_msg=name)
        for mag in layer.mags:
            np.testing.assert_array_equal(
                read_box(layer, mag_tuple(mag), box), read_box(mine, mag_tuple(mag), box)
            )


def test_copy_dataset_wkw_zarr3_precomputed_wkw(
    tmp_path: Path, wkw_source: tuple[Path, dict[str, np.ndarray]]
) -> None:
    source, mag1 = wkw_source
    zarr3 = wkl.Dataset.open(source).copy_dataset(tmp_path / "zarr3", data_format=ZARR3)
    _assert_same_dataset(source, zarr3.path, ZARR3)
    _assert_zarr3_opens_in_webknossos(zarr3.path, mag1)
    precomputed = zarr3.copy_dataset(tmp_path / "pre", data_format="neuroglancerPrecomputed")
    _assert_same_dataset(source, precomputed.path, "neuroglancerPrecomputed")
    back = precomputed.copy_dataset(tmp_path / "back", data_format="wkw")
    _assert_same_dataset(source, back.path, "wkw")


def _convert(source: Path, target: Path, fmt: str) -> None:
    try:
        code = wkl_main(["convert", str(source), str(target), "--format", fmt])
    except SystemExit as exc:  # argparse rejects a --format it does not know
        pytest.fail(f"`wkl convert --format {fmt}` was refused (exit {exc.code})")
    assert code == 0, f"wkl convert --format {fmt} failed"


def test_cli_convert_wkw_zarr3_precomputed_wkw(
    tmp_path: Path, wkw_source: tuple[Path, dict[str, np.ndarray]]
) -> None:
    source, mag1 = wkw_source
    _convert(source, tmp_path / "zarr3", "zarr3")
    _assert_same_dataset(source, tmp_path / "zarr3", ZARR3)
    _assert_zarr3_opens_in_webknossos(tmp_path / "zarr3", mag1)
    _convert(tmp_path / "zarr3", tmp_path / "pre", "precomputed")
    _assert_same_dataset(source, tmp_path / "pre", "neuroglancerPrecomputed")
    _convert(tmp_path / "pre", tmp_path / "back", "wkw")
    _assert_same_dataset(source, tmp_path / "back", "wkw")


def test_copy_of_a_webknossos_zarr3_dataset_to_wkw(tmp_path: Path, wk_written: Built) -> None:
    """webknossos' default dataset converted by us to WKW keeps every voxel of every mag."""
    path, specs = wk_written
    back = wkl.Dataset.open(path).copy_dataset(tmp_path / "wkw", data_format="wkw")
    theirs = wk.Dataset.open(path)
    for name, spec in specs.items():
        copy = back.get_layer(name)
        assert copy.data_format == "wkw"
        assert box_tuple(copy.bounding_box) == spec.bbox
        for mag in spec.mags:
            np.testing.assert_array_equal(
                read_box(copy, mag, spec.bbox), read_box(theirs.get_layer(name), mag, spec.bbox)
            )
    assert PROPERTIES in {p.name for p in (tmp_path / "wkw").iterdir()}
