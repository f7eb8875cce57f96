"""Interop with the real `webknossos` package (4.3.3) on the shared WKW on-disk layout.

Datasets written by us must open in `webknossos` with the same metadata and voxels, datasets
written by `webknossos` (in WKW format) must open in ours, and edits made by one library must
survive being reopened by the other.
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webknossos_like as wl
from webknossos_like import BoundingBox

with warnings.catch_warnings():
    # webknossos warns at import time about optional image readers that are not installed.
    warnings.simplefilter("ignore")
    wk = pytest.importorskip("webknossos")
    cluster_tools = pytest.importorskip("cluster_tools")

# webknossos' informational warnings (numba missing, multi-channel uint16 "not supported by
# WEBKNOSSOS", mag taken from another layer) are expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:webknossos.*")

VOXEL_SIZE = (11.24, 11.24, 25.0)
OFFSET = (64, 32, 16)  # non-zero layer offset, aligned with mag 2-2-1
SIZE = (96, 64, 48)  # mag-1 size of the main layers: spans two 128-voxel shards along x
MAG_221 = (2, 2, 1)
PROPERTIES = "datasource-properties.json"
HEADER_BLOCK_TYPE = {False: 1, True: 3}  # WKW header byte 5: 1 = raw, 3 = LZ4HC


# -- helpers -----------------------------------------------------------------------------------


def mag_tuple(mag: Any) -> tuple[int, int, int]:
    """`(x, y, z)` of a webknossos or webknossos_like Mag."""
    return tuple(int(v) for v in mag.to_list())  # type: ignore[return-value]


def box_tuple(box: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """`(topleft, size)` of a webknossos or webknossos_like bounding box."""
    return tuple(int(v) for v in box.topleft), tuple(int(v) for v in box.size)


def in_mag(size: tuple[int, int, int], mag: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(s // m for s, m in zip(size, mag, strict=True))  # type: ignore[return-value]


def to_mag1(size: tuple[int, ...], mag: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(s * m for s, m in zip(size, mag, strict=True))  # type: ignore[return-value]


def header_block_type(mag_dir: Path) -> int:
    return (mag_dir / "header.wkw").read_bytes()[5]


def sequential_executor() -> Any:
    """webknossos' implicit executor spawns a process pool; keep its work in this process."""
    return cluster_tools.get_executor("sequential")


def blocky(rng: np.random.Generator, shape: tuple[int, ...], high: int, dtype: Any) -> np.ndarray:
    """Random data made of constant 2x2x1 blocks (trailing x, y, z axes).

    Any downsampling to mag 2-2-1 (median for color, mode for segmentation) of such data is
    exactly the block values, which gives an expectation independent of both libraries.
    """
    coarse_shape = (*shape[:-3], shape[-3] // 2, shape[-2] // 2, shape[-1])
    coarse = rng.integers(1, high, coarse_shape, dtype=dtype)
    return np.repeat(np.repeat(coarse, 2, axis=-3), 2, axis=-2)


@dataclass
class MagSpec:
    """What was written to one mag: `data` is `(c, x, y, z)` in the mag, at mag-1 `offset`."""

    offset: tuple[int, int, int]
    data: np.ndarray
    compressed: bool
    chunk: int
    shard: int


@dataclass
class LayerSpec:
    category: str
    dtype: np.dtype[Any]
    num_channels: int
    bbox: tuple[tuple[int, ...], tuple[int, ...]]
    largest_segment_id: int | None = None
    mags: dict[tuple[int, int, int], MagSpec] = field(default_factory=dict)


# -- 1. a dataset written by us opens in webknossos ---------------------------------------------


@pytest.fixture(scope="module")
def ours_written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, LayerSpec]]:
    """A dataset written with webknossos_like: color, segmentation, RGB and uint64 segmentation."""
    path = tmp_path_factory.mktemp("ours") / "ds"
    rng = np.random.default_rng(1)
    ds = wl.Dataset(path, voxel_size=VOXEL_SIZE, name="ours_written")
    specs: dict[str, LayerSpec] = {}
    bbox = (OFFSET, SIZE)

    # color uint8: mag 1 raw, mag 2-2-1 LZ4HC
    color = ds.add_layer("color", "color", dtype="uint8")
    color_1 = rng.integers(0, 256, SIZE, dtype=np.uint8)
    color.add_mag(1, compress=False).write(color_1, absolute_offset=OFFSET)
    color_2 = rng.integers(0, 256, in_mag(SIZE, MAG_221), dtype=np.uint8)
    color.add_mag("2-2-1", compress=True).write(color_2, absolute_offset=OFFSET)
    specs["color"] = LayerSpec(
        "color",
        np.dtype("uint8"),
        1,
        bbox,
        mags={
            (1, 1, 1): MagSpec(OFFSET, color_1[None], False, 32, 128),
            MAG_221: MagSpec(OFFSET, color_2[None], True, 32, 128),
        },
    )

    # segmentation uint32: mag 1 LZ4HC (write()), mag 2-2-1 raw (written by mag-coordinate indexing)
    seg = ds.add_layer("segmentation", "segmentation", dtype="uint32")
    seg_1 = rng.integers(0, 70_000, SIZE, dtype=np.uint32)
    seg_1[5, 6, 7] = 70_000  # the known maximum
    seg.add_mag(1, compress=True).write(seg_1, absolute_offset=OFFSET)
    seg_2 = rng.integers(0, 50_000, in_mag(SIZE, MAG_221), dtype=np.uint32)
    seg_mag_2 = seg.add_mag(MAG_221, compress=False)
    x0, y0, z0 = in_mag(OFFSET, MAG_221)
    sx, sy, sz = seg_2.shape
    seg_mag_2[x0 : x0 + sx, y0 : y0 + sy, z0 : z0 + sz] = seg_2
    specs["segmentation"] = LayerSpec(
        "segmentation",
        np.dtype("uint32"),
        1,
        bbox,
        largest_segment_id=70_000,
        mags={
            (1, 1, 1): MagSpec(OFFSET, seg_1[None], True, 32, 128),
            MAG_221: MagSpec(OFFSET, seg_2[None], False, 32, 128),
        },
    )

    # RGB: 3 x uint8 (elementClass "uint24"), non-default chunk/shard shapes, mags 1 and 2
    rgb_offset, rgb_size = (0, 64, 32), (40, 30, 20)
    rgb = ds.add_layer("rgb", "color", dtype="uint8", num_channels=3)
    rgb_1 = rng.integers(0, 256, (3, *rgb_size), dtype=np.uint8)
    rgb.add_mag(1, chunk_shape=16, shard_shape=64, compress=True).write(
        rgb_1, absolute_offset=rgb_offset
    )
    rgb_2 = rng.integers(0, 256, (3, *in_mag(rgb_size, (2, 2, 2))), dtype=np.uint8)
    rgb.add_mag(2, compress=False).write(rgb_2, absolute_offset=rgb_offset)
    specs["rgb"] = LayerSpec(
        "color",
        np.dtype("uint8"),
        3,
        (rgb_offset, rgb_size),
        mags={
            (1, 1, 1): MagSpec(rgb_offset, rgb_1, True, 16, 64),
            (2, 2, 2): MagSpec(rgb_offset, rgb_2, False, 32, 128),
        },
    )

    # uint64 segmentation with ids beyond 2**53 (largestSegmentId needs the bigint encoding)
    big_offset, big_size = (128, 0, 0), (32, 32, 32)
    big = ds.add_layer("seg64", "segmentation", dtype="uint64")
    big_1 = rng.integers(2**60, 2**63, big_size, dtype=np.uint64)
    big.add_mag(1, compress=True).write(big_1, absolute_offset=big_offset)
    specs["seg64"] = LayerSpec(
        "segmentation",
        np.dtype("uint64"),
        1,
        (big_offset, big_size),
        largest_segment_id=int(big_1.max()),
        mags={(1, 1, 1): MagSpec(big_offset, big_1[None], True, 32, 128)},
    )
    return path, specs


def test_ours_dataset_metadata_in_webknossos(
    ours_written: tuple[Path, dict[str, LayerSpec]],
) -> None:
    path, specs = ours_written
    ds = wk.Dataset.open(path)
    assert ds.name == "ours_written"
    assert tuple(ds.voxel_size) == VOXEL_SIZE
    assert ds.voxel_size_with_unit.unit.value == "nanometer"
    assert list(ds.layers) == list(specs)
    for name, spec in specs.items():
        layer = ds.get_layer(name)
        assert layer.category == spec.category, name
        assert layer.data_format.value == "wkw", name
        assert np.dtype(layer.dtype) == spec.dtype, name
        assert layer.num_channels == spec.num_channels, name
        assert box_tuple(layer.bounding_box) == spec.bbox, name
        assert {mag_tuple(m) for m in layer.mags} == set(spec.mags), name
        if spec.category == "segmentation":
            assert ds.get_segmentation_layer(name).largest_segment_id == spec.largest_segment_id
        for mag, mag_spec in spec.mags.items():
            info = layer.get_mag(mag).info
            assert bool(info.compression_mode) == mag_spec.compressed, (name, mag)
            assert tuple(info.chunk_shape) == (mag_spec.chunk,) * 3, (name, mag)
            assert tuple(info.shard_shape) == (mag_spec.shard,) * 3, (name, mag)


def test_ours_headers_use_raw_and_lz4hc_blocks(
    ours_written: tuple[Path, dict[str, LayerSpec]],
) -> None:
    path, specs = ours_written
    ours = wl.Dataset.open(path)
    for name, spec in specs.items():
        for mag, mag_spec in spec.mags.items():
            mag_dir = ours.get_layer(name).get_mag(mag).path
            assert header_block_type(mag_dir) == HEADER_BLOCK_TYPE[mag_spec.compressed], (name, mag)


@pytest.mark.parametrize(
    ("layer_name", "mag"),
    [
        ("color", (1, 1, 1)),
        ("color", MAG_221),
        ("segmentation", (1, 1, 1)),
        ("segmentation", MAG_221),
        ("rgb", (1, 1, 1)),
        ("rgb", (2, 2, 2)),
        ("seg64", (1, 1, 1)),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(map(str, value)),
)
def test_ours_voxels_in_webknossos(
    ours_written: tuple[Path, dict[str, LayerSpec]], layer_name: str, mag: tuple[int, int, int]
) -> None:
    path, specs = ours_written
    spec = specs[layer_name].mags[mag]
    wk_mag = wk.Dataset.open(path).get_layer(layer_name).get_mag(mag)
    size_mag1 = to_mag1(spec.data.shape[1:], mag)

    data = wk_mag.read(absolute_offset=spec.offset, size=size_mag1)
    assert data.dtype == spec.data.dtype
    np.testing.assert_array_equal(data, spec.data)

    # The whole mag view (layer bbox) and a window that starts before the layer's offset.
    np.testing.assert_array_equal(wk_mag.read(), spec.data)
    # Up to 8 mag voxels before the offset (webknossos refuses negative coordinates).
    margin = tuple(min(8, o // m) for o, m in zip(spec.offset, mag, strict=True))
    start = tuple(o - m * f for o, m, f in zip(spec.offset, margin, mag, strict=True))
    window = wk_mag.read(absolute_offset=start, size=size_mag1)
    assert window.shape == spec.data.shape
    mx, my, mz = margin
    sx, sy, sz = spec.data.shape[1:]
    assert not window[:, :mx].any() and not window[:, :, :my].any() and not window[..., :mz].any()
    np.testing.assert_array_equal(
        window[:, mx:, my:, mz:], spec.data[:, : sx - mx, : sy - my, : sz - mz]
    )


def test_ours_shard_files_match_webknossos_view(
    ours_written: tuple[Path, dict[str, LayerSpec]],
) -> None:
    """webknossos finds exactly the shards we wrote (x0 and x1 of the 128 grid), no stray files."""
    path, _ = ours_written
    for layer_name in ("color", "segmentation"):
        wk_mag = wk.Dataset.open(path).get_layer(layer_name).get_mag(1)
        boxes = sorted(box_tuple(box) for box in wk_mag.get_bounding_boxes_on_disk())
        assert boxes == [((0, 0, 0), (128, 128, 128)), ((128, 0, 0), (128, 128, 128))]
        mag_dir = path / layer_name / "1"
        files = sorted(p.relative_to(mag_dir).as_posix() for p in mag_dir.rglob("*") if p.is_file())
        assert files == ["header.wkw", "z0/y0/x0.wkw", "z0/y0/x1.wkw"]


def test_same_operations_give_identical_properties_and_headers(tmp_path: Path) -> None:
    """The same calls on both libraries produce byte-identical JSON and WKW headers."""
    rng = np.random.default_rng(2)
    data = rng.integers(0, 256, (64, 32, 16), dtype=np.uint8)
    for lib, root in ((wk, tmp_path / "wk"), (wl, tmp_path / "ours")):
        ds = lib.Dataset(root / "ds", voxel_size=VOXEL_SIZE)
        fmt = {"data_format": "wkw"} if lib is wk else {}
        grow = {"allow_resize": True} if lib is wk else {}
        color = ds.add_layer("color", "color", dtype="uint8", **fmt)
        mag_1 = color.add_mag(1, compress=False, shard_shape=128)
        mag_2 = color.add_mag("2-2-1", compress=True, shard_shape=128)
        seg = ds.add_layer("seg", "segmentation", dtype="uint32", largest_segment_id=7, **fmt)
        seg.add_mag(1, compress=True, shard_shape=128)
        mag_1.write(data, absolute_offset=(64, 32, 16), **grow)
        mag_2.write(
            data[::2, ::2],
            absolute_offset=(64, 32, 16),
            **({"allow_unaligned": True, **grow} if lib is wk else {}),
        )
    theirs, ours = tmp_path / "wk" / "ds", tmp_path / "ours" / "ds"
    assert (ours / PROPERTIES).read_text() == (theirs / PROPERTIES).read_text()
    for mag_dir in ("color/1", "color/2-2-1", "seg/1"):
        assert (ours / mag_dir / "header.wkw").read_bytes() == (
            theirs / mag_dir / "header.wkw"
        ).read_bytes(), mag_dir


# -- 2. a dataset written by webknossos opens in ours -------------------------------------------


@pytest.fixture(scope="module")
def wk_written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A WKW dataset written by webknossos: written at OFFSET, downsampled to mag 2-2-1."""
    path = tmp_path_factory.mktemp("wk") / "ds"
    rng = np.random.default_rng(3)
    ds = wk.Dataset(path, voxel_size=VOXEL_SIZE)
    color_data = blocky(rng, SIZE, 256, np.uint8)
    seg_data = blocky(rng, SIZE, 70_000, np.uint32)
    color = ds.add_layer("color", "color", dtype="uint8", data_format="wkw")
    # webknossos defaults: chunk 32, shard 1024
    color.add_mag(1, compress=False).write(color_data, absolute_offset=OFFSET, allow_resize=True)
    seg = ds.add_layer("segmentation", "segmentation", dtype="uint32", data_format="wkw")
    seg.add_mag(1, compress=True, shard_shape=128).write(
        seg_data, absolute_offset=OFFSET, allow_resize=True, allow_unaligned=True
    )
    with sequential_executor() as executor:
        seg.refresh_largest_segment_id(executor=executor)
        ds.downsample(coarsest_mag=wk.Mag(2), executor=executor)

    # layers without downsampling: 2 x uint16 (elementClass "uint32"!) and float32 ("float")
    two_channel = rng.integers(0, 65_536, (2, 40, 30, 20), dtype=np.uint16)
    ds.add_layer("two_channel", "color", dtype="uint16", num_channels=2, data_format="wkw").add_mag(
        1, compress=True, shard_shape=64
    ).write(two_channel, absolute_offset=(0, 64, 0), allow_resize=True, allow_unaligned=True)
    floats = rng.random((30, 30, 30), dtype=np.float32)
    ds.add_layer("floats", "color", dtype="float32", data_format="wkw").add_mag(
        1, compress=False, shard_shape=32
    ).write(floats, absolute_offset=(33, 31, 29), allow_resize=True)
    return path, {
        "color": color_data[None],
        "segmentation": seg_data[None],
        "two_channel": two_channel,
        "floats": floats[None],
    }


def test_wk_dataset_metadata_in_ours(wk_written: tuple[Path, dict[str, Any]]) -> None:
    path, _ = wk_written
    theirs = wk.Dataset.open(path)
    ours = wl.Dataset.open(path)
    assert ours.name == theirs.name
    assert ours.voxel_size == tuple(theirs.voxel_size)
    assert ours.voxel_size_unit == "nanometer"
    assert list(ours.layers) == ["color", "segmentation", "two_channel", "floats"]
    assert list(ours.layers) == list(theirs.layers)
    expected = {
        "color": ("color", "uint8", 1, (OFFSET, SIZE)),
        "segmentation": ("segmentation", "uint32", 1, (OFFSET, SIZE)),
        "two_channel": ("color", "uint16", 2, ((0, 64, 0), (40, 30, 20))),
        "floats": ("color", "float32", 1, ((33, 31, 29), (30, 30, 30))),
    }
    for name, (category, dtype, channels, bbox) in expected.items():
        layer, wk_layer = ours.get_layer(name), theirs.get_layer(name)
        assert layer.category == wk_layer.category == category, name
        assert layer.dtype == np.dtype(wk_layer.dtype) == np.dtype(dtype), name
        assert layer.num_channels == wk_layer.num_channels == channels, name
        assert box_tuple(layer.bounding_box) == box_tuple(wk_layer.bounding_box) == bbox, name
        assert [mag_tuple(m) for m in layer.mags] == sorted(mag_tuple(m) for m in wk_layer.mags)
        for mag in wk_layer.mags:
            info, wk_info = layer.get_mag(mag_tuple(mag)).info, wk_layer.get_mag(mag).info
            assert info.compressed == bool(wk_info.compression_mode), (name, mag)
            assert tuple(info.chunk_shape) == tuple(wk_info.chunk_shape), (name, mag)
            assert tuple(info.shard_shape) == tuple(wk_info.shard_shape), (name, mag)
            assert box_tuple(layer.get_mag(mag_tuple(mag)).bounding_box) == box_tuple(
                wk_layer.get_mag(mag).bounding_box
            )
    for name in ("color", "segmentation"):
        assert [mag_tuple(m) for m in ours.get_layer(name).mags] == [(1, 1, 1), MAG_221]
    seg = ours.get_segmentation_layer("segmentation")
    assert seg.largest_segment_id == int(wk_written[1]["segmentation"].max())
    assert (
        seg.largest_segment_id == theirs.get_segmentation_layer("segmentation").largest_segment_id
    )


@pytest.mark.parametrize("layer_name", ["color", "segmentation", "two_channel", "floats"])
def test_wk_mag1_voxels_in_ours(wk_written: tuple[Path, dict[str, Any]], layer_name: str) -> None:
    path, written = wk_written
    expected = written[layer_name]
    layer = wl.Dataset.open(path).get_layer(layer_name)
    mag = layer.get_mag(1)
    offset, size = box_tuple(layer.bounding_box)

    data = mag.read(absolute_offset=offset, size=size)
    assert data.dtype == expected.dtype
    np.testing.assert_array_equal(data, expected)
    np.testing.assert_array_equal(mag.read(), expected)  # whole view = layer bbox

    # From the origin: zeros before the offset, the data after it.
    bottomright = tuple(o + s for o, s in zip(offset, size, strict=True))
    full = mag.read(absolute_offset=(0, 0, 0), size=bottomright)
    ox, oy, oz = offset
    np.testing.assert_array_equal(full[:, ox:, oy:, oz:], expected)
    inside = np.zeros(full.shape, dtype=bool)
    inside[:, ox:, oy:, oz:] = True
    assert not full[~inside].any()

    # mag-coordinate indexing gives the same voxels (channel axis dropped for one channel)
    indexed = mag[ox : ox + size[0], oy : oy + size[1], oz : oz + size[2]]
    np.testing.assert_array_equal(indexed, expected[0] if expected.shape[0] == 1 else expected)


@pytest.mark.parametrize("layer_name", ["color", "segmentation"])
def test_wk_downsampled_mag_in_ours(
    wk_written: tuple[Path, dict[str, Any]], layer_name: str
) -> None:
    path, written = wk_written
    ours_mag = wl.Dataset.open(path).get_layer(layer_name).get_mag(MAG_221)
    wk_mag = wk.Dataset.open(path).get_layer(layer_name).get_mag(MAG_221)
    # the data is made of constant 2x2x1 blocks, so any downsampling keeps the block values
    expected = written[layer_name][:, ::2, ::2, :]
    size_in_mag = in_mag(SIZE, MAG_221)

    data = ours_mag.read(absolute_offset=OFFSET, size=SIZE)
    assert data.shape == (1, *size_in_mag)
    np.testing.assert_array_equal(data, expected)
    np.testing.assert_array_equal(data, wk_mag.read(absolute_offset=OFFSET, size=SIZE))

    # a window straddling the layer offset, in both libraries
    start, window_size = (32, 16, 8), (64, 48, 32)
    window = ours_mag.read(absolute_offset=start, size=window_size)
    np.testing.assert_array_equal(window, wk_mag.read(absolute_offset=start, size=window_size))
    np.testing.assert_array_equal(window[:, 16:, 8:, 8:], expected[:, :16, :16, :24])
    assert not window[:, :16].any() and not window[:, :, :8].any() and not window[..., :8].any()

    x0, y0, z0 = in_mag(OFFSET, MAG_221)
    indexed = ours_mag[x0 : x0 + size_in_mag[0], y0 : y0 + size_in_mag[1], z0:]
    np.testing.assert_array_equal(indexed, expected[0])


# -- 3. round trip: webknossos -> ours (edit) -> webknossos --------------------------------------


def test_round_trip_wk_ours_wk_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    rng = np.random.default_rng(4)
    ds = wk.Dataset(path, voxel_size=VOXEL_SIZE)
    ds.default_view_configuration = wk.DatasetViewConfiguration(zoom=2.0, position=(1, 2, 3))
    color = ds.add_layer("color", "color", dtype="uint16", data_format="wkw")
    color.default_view_configuration = wk.LayerViewConfiguration(color=(255, 0, 0), alpha=50)
    color.coordinate_transformations = (wk.AffineCoordinateTransformation(np.eye(4) * 2),)
    color_data = rng.integers(0, 65_536, (64, 64, 64), dtype=np.uint16)
    # uncompressed, default 1024 shards: our write below goes into the same shard file
    color.add_mag(1, compress=False).write(
        color_data, absolute_offset=(32, 32, 32), allow_resize=True
    )
    big_id = 2**60 + 12_345
    seg = ds.add_layer(
        "seg",
        "segmentation",
        dtype="uint64",
        data_format="wkw",
        largest_segment_id=big_id,
        mappings=["agglomerate_view_5"],
    )
    seg_data = rng.integers(0, big_id, (32, 32, 32), dtype=np.uint64)
    seg.add_mag(1, compress=True, shard_shape=32).write(
        seg_data, absolute_offset=(0, 0, 0), allow_resize=True
    )
    before = json.loads((path / PROPERTIES).read_text())

    ours = wl.Dataset.open(path)
    assert ours.get_segmentation_layer("seg").largest_segment_id == big_id
    more = rng.integers(0, 65_536, (32, 32, 32), dtype=np.uint16)
    ours.get_layer("color").get_mag(1).write(more, absolute_offset=(96, 32, 32))  # grows x
    new = ours.add_layer("new_seg", "segmentation", dtype="uint32")
    new_1 = rng.integers(1, 1000, (40, 40, 40), dtype=np.uint32)
    new.add_mag(1).write(new_1, absolute_offset=(8, 16, 24))
    new_2 = rng.integers(1, 1000, (20, 20, 40), dtype=np.uint32)
    new.add_mag(MAG_221, compress=False).write(new_2, absolute_offset=(8, 16, 24))

    after = json.loads((path / PROPERTIES).read_text())
    # Everything webknossos wrote is kept verbatim, except the bbox our write grew.
    assert {k: v for k, v in after.items() if k != "dataLayers"} == {
        k: v for k, v in before.items() if k != "dataLayers"
    }
    assert after["dataLayers"][1] == before["dataLayers"][1]  # seg: bigint id, mappings
    grown = dict(before["dataLayers"][0], boundingBox={**before["dataLayers"][0]["boundingBox"]})
    grown["boundingBox"]["width"] = 96
    assert after["dataLayers"][0] == grown

    theirs = wk.Dataset.open(path)
    assert list(theirs.layers) == ["color", "seg", "new_seg"]
    assert theirs.default_view_configuration.zoom == 2.0
    assert tuple(theirs.default_view_configuration.position) == (1, 2, 3)
    wk_color = theirs.get_layer("color")
    assert tuple(wk_color.default_view_configuration.color) == (255, 0, 0)
    np.testing.assert_array_equal(wk_color.coordinate_transformations[0].matrix, np.eye(4) * 2)
    assert box_tuple(wk_color.bounding_box) == ((32, 32, 32), (96, 64, 64))
    np.testing.assert_array_equal(
        wk_color.get_mag(1).read(absolute_offset=(32, 32, 32), size=(64, 64, 64))[0], color_data
    )
    np.testing.assert_array_equal(
        wk_color.get_mag(1).read(absolute_offset=(96, 32, 32), size=(32, 32, 32))[0], more
    )
    wk_seg = theirs.get_segmentation_layer("seg")
    assert wk_seg.largest_segment_id == big_id
    np.testing.assert_array_equal(wk_seg.get_mag(1).read()[0], seg_data)
    wk_new = theirs.get_segmentation_layer("new_seg")
    assert wk_new.largest_segment_id == int(new_1.max())
    assert box_tuple(wk_new.bounding_box) == ((8, 16, 24), (40, 40, 40))
    assert {mag_tuple(m) for m in wk_new.mags} == {(1, 1, 1), MAG_221}
    np.testing.assert_array_equal(wk_new.get_mag(1).read()[0], new_1)
    np.testing.assert_array_equal(wk_new.get_mag(MAG_221).read()[0], new_2)

    # and back once more: webknossos edits our layer, we read its write
    extra = rng.integers(1000, 2000, (32, 32, 32), dtype=np.uint32)
    wk_new.get_mag(1).write(
        extra, absolute_offset=(64, 0, 0), allow_resize=True, allow_unaligned=True
    )
    reopened = wl.Dataset.open(path).get_layer("new_seg")
    assert box_tuple(reopened.bounding_box) == ((8, 0, 0), (88, 56, 64))
    np.testing.assert_array_equal(
        reopened.get_mag(1).read(absolute_offset=(64, 0, 0), size=(32, 32, 32))[0], extra
    )
    np.testing.assert_array_equal(
        reopened.get_mag(1).read(absolute_offset=(8, 16, 24), size=(40, 40, 40))[0], new_1
    )


# -- 4. freshly created properties (no layers, empty layers) ------------------------------------


def test_empty_dataset_and_empty_layers_open_in_webknossos(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    ours = wl.Dataset(path, voxel_size=(4, 4, 40), voxel_size_unit="micrometer")
    theirs = wk.Dataset.open(path)
    assert len(theirs.layers) == 0
    assert tuple(theirs.voxel_size_with_unit.factor) == (4.0, 4.0, 40.0)
    assert theirs.voxel_size_with_unit.unit.value == "micrometer"
    assert tuple(theirs.voxel_size) == (4000.0, 4000.0, 40000.0)  # always nanometers
    assert theirs.name == "ds"
    # webknossos' own "create or reopen" accepts our file when the voxel size matches
    wk.Dataset(path, voxel_size_with_unit=theirs.voxel_size_with_unit, exist_ok=True)

    ours.add_layer("empty", "color", dtype="uint16")
    ours.add_layer(
        "empty_seg",
        "segmentation",
        dtype="uint64",
        bounding_box=BoundingBox((10, 20, 30), (100, 200, 300)),
    )
    theirs = wk.Dataset.open(path)
    assert list(theirs.layers) == ["empty", "empty_seg"]
    empty, empty_seg = theirs.get_layer("empty"), theirs.get_segmentation_layer("empty_seg")
    assert len(empty.mags) == 0 and len(empty_seg.mags) == 0
    assert np.dtype(empty.dtype) == np.uint16 and empty.category == "color"
    assert np.dtype(empty_seg.dtype) == np.uint64
    assert box_tuple(empty.bounding_box) == ((0, 0, 0), (0, 0, 0))
    assert box_tuple(empty_seg.bounding_box) == ((10, 20, 30), (100, 200, 300))
    assert empty_seg.largest_segment_id is None  # a new layer: unknown, as webknossos writes it

    # webknossos can fill our empty layer, and we read what it wrote
    data = np.random.default_rng(5).integers(0, 65_536, (32, 32, 32), dtype=np.uint16)
    empty.add_mag(1, compress=True, shard_shape=32).write(
        data, absolute_offset=(32, 0, 64), allow_resize=True
    )
    reopened = wl.Dataset.open(path).get_layer("empty")
    assert box_tuple(reopened.bounding_box) == ((32, 0, 64), (32, 32, 32))
    np.testing.assert_array_equal(reopened.get_mag(1).read()[0], data)


# -- file permissions --------------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.mark.usefixtures("umask_022")
def test_file_modes_match_webknossos(tmp_path: Path) -> None:
    theirs = wk.Dataset(tmp_path / "wk", voxel_size=VOXEL_SIZE)
    theirs.add_layer("color", "color", data_format="wkw").add_mag(1)
    ours = wl.Dataset(tmp_path / "ours", voxel_size=VOXEL_SIZE)
    ours.add_layer("color", "color").add_mag(1)
    assert _mode(tmp_path / "wk" / PROPERTIES) == "0o644"
    assert _mode(tmp_path / "wk" / "color" / "1") == "0o755"
    file_modes = (
        _mode(tmp_path / "ours" / PROPERTIES),
        _mode(tmp_path / "ours" / "color" / "1"),
    )
    # editing a webknossos dataset must not make its properties private either
    wl.Dataset.open(tmp_path / "wk").add_layer("other", "color")
    assert (*file_modes, _mode(tmp_path / "wk" / PROPERTIES)) == ("0o644", "0o755", "0o644")
