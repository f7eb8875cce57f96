"""Precomputed layers through the same object model: write, read, grow, downsample, convert, open bare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset, Mag, executors
from webknossos_like.errors import (
    InvalidArgumentError,
    OutOfBoundsError,
    ReadOnlyError,
    UnsupportedFormatError,
)

PRECOMPUTED = "neuroglancerPrecomputed"


def info_of(layer_path: Path) -> dict:
    return json.loads((layer_path / "info").read_text())


@pytest.mark.parametrize(
    ("dtype", "category", "kwargs", "encoding"),
    [
        ("uint8", "color", {"compress": False}, "raw"),
        ("uint16", "color", {"encoding": "png"}, "png"),
        ("uint32", "segmentation", {}, "compressed_segmentation"),
        ("uint64", "segmentation", {"sharded": True}, "compressed_segmentation"),
        ("uint32", "segmentation", {"sharded": True, "compress": False}, "raw"),
    ],
)
def test_round_trip_every_layout(
    dataset: Dataset,
    rng: np.random.Generator,
    dtype: str,
    category: str,
    kwargs: dict,
    encoding: str,
) -> None:
    layer = dataset.add_layer("l", category, dtype=dtype, data_format=PRECOMPUTED)
    mag = layer.add_mag(1, chunk_shape=(32, 32, 16), **kwargs)
    high = {"uint8": 255, "uint64": 2**60}.get(dtype, 1000)
    data = rng.integers(0, high, size=(70, 50, 20), dtype=dtype)
    mag.write(data, absolute_offset=(10, 20, 5))
    scale = info_of(layer.path)["scales"][0]
    assert scale["encoding"] == encoding
    assert scale["voxel_offset"] == [10, 20, 5] and scale["size"] == [70, 50, 20]
    assert scale["resolution"] == [11.24, 11.24, 25.0]
    assert ("sharding" in scale) == bool(kwargs.get("sharded"))
    np.testing.assert_array_equal(mag.read(absolute_offset=(10, 20, 5), size=(70, 50, 20))[0], data)
    # an unaligned partial overwrite keeps the neighbours
    patch = np.ones((5, 40, 3), dtype=dtype)
    mag.write(patch, absolute_offset=(30, 25, 9))
    expected = data.copy()
    expected[20:25, 5:45, 4:7] = 1
    reopened = Dataset.open(dataset.path).get_layer("l").get_mag(1)
    np.testing.assert_array_equal(reopened.read()[0], expected)
    np.testing.assert_array_equal(reopened[10:80, 20:70, 5:25], expected)


def test_bbox_growth_up_and_down_regrids(dataset: Dataset, rng: np.random.Generator) -> None:
    layer = dataset.add_layer("seg", "segmentation", dtype="uint32", data_format=PRECOMPUTED)
    mag = layer.add_mag(1, chunk_shape=32)
    first = rng.integers(1, 100, size=(40, 40, 40), dtype=np.uint32)
    mag.write(first, absolute_offset=(50, 50, 50))
    mag.write(first[:10, :10, :10] + 1000, absolute_offset=(100, 95, 90))  # grows up
    mag.write(first[:10, :10, :10] + 2000, absolute_offset=(3, 7, 11))  # grows down: the grid moves
    assert layer.bounding_box == BoundingBox((3, 7, 11), (107, 98, 89))
    scale = info_of(layer.path)["scales"][0]
    assert scale["voxel_offset"] == [3, 7, 11] and scale["size"] == [107, 98, 89]
    np.testing.assert_array_equal(
        mag.read(absolute_offset=(50, 50, 50), size=(40, 40, 40))[0], first
    )
    assert (mag[100:110, 95:105, 90:100] == first[:10, :10, :10] + 1000).all()
    assert (mag[3:13, 7:17, 11:21] == first[:10, :10, :10] + 2000).all()
    assert layer.largest_segment_id == int(first.max()) + 2000
    # no stale chunk files from the old grid remain
    names = {p.name for p in (layer.path / "1").iterdir()}
    assert all(name.split("_")[0].split("-")[0] in {"3", "35", "67", "99"} for name in names), names


def test_downsample_creates_scales_with_resolution(
    dataset: Dataset, rng: np.random.Generator
) -> None:
    layer = dataset.add_layer("color", "color", data_format=PRECOMPUTED)
    data = rng.integers(0, 255, size=(128, 96, 20), dtype=np.uint8)
    layer.add_mag(1, compress=False).write(data, absolute_offset=(64, 32, 0))
    with executors.threads(2) as pool:
        layer.downsample(coarsest_mag=Mag(4), executor=pool)
    scales = info_of(layer.path)["scales"]
    assert [s["key"] for s in scales] == ["1", "2-2-1", "4-4-2"]
    assert scales[1]["resolution"] == [22.48, 22.48, 25.0]
    assert scales[1]["voxel_offset"] == [32, 16, 0] and scales[1]["size"] == [64, 48, 20]
    from webknossos_like.geometry import Vec3Int
    from webknossos_like.ops.interpolation import downsample_data

    np.testing.assert_array_equal(
        layer.get_mag("2-2-1").read(), downsample_data(data[None], Vec3Int(2, 2, 1), "median")
    )
    layer.delete_mag("4-4-2")
    assert [s["key"] for s in info_of(layer.path)["scales"]] == ["1", "2-2-1"]
    assert not (layer.path / "4-4-2").exists()


@pytest.mark.parametrize(
    ("source_format", "target_format"), [("wkw", PRECOMPUTED), (PRECOMPUTED, "wkw")]
)
def test_convert_both_ways(
    dataset: Dataset,
    tmp_path: Path,
    rng: np.random.Generator,
    source_format: str,
    target_format: str,
) -> None:
    source = dataset.add_layer("seg", "segmentation", dtype="uint32", data_format=source_format)
    source.add_mag(1).write(
        rng.integers(0, 5000, size=(150, 70, 33), dtype=np.uint32), absolute_offset=(7, 0, 3)
    )
    source.downsample(coarsest_mag=Mag(2), sampling_mode="isotropic")
    other = Dataset(tmp_path / "converted", voxel_size=dataset.voxel_size)
    with executors.processes(2) as pool:
        copy = other.add_layer_as_copy(source, data_format=target_format, executor=pool)
    assert copy.data_format == target_format
    assert copy.bounding_box == source.bounding_box
    for mag, view in source.mags.items():
        assert copy.get_mag(mag).content_is_equal(view)
    assert copy.largest_segment_id == source.largest_segment_id


def test_bare_folder_opens_as_dataset(dataset: Dataset, rng: np.random.Generator) -> None:
    layer = dataset.add_layer("img", "color", dtype="uint16", data_format=PRECOMPUTED)
    data = rng.integers(0, 60000, size=(40, 30, 20), dtype=np.uint16)
    layer.add_mag(1, compress=False).write(data, absolute_offset=(5, 5, 5))
    bare = Dataset.open(layer.path)
    assert list(bare.layers) == ["img"]
    assert bare.voxel_size == (11.24, 11.24, 25.0)
    bare_layer = bare.get_layer("img")
    assert bare_layer.category == "color" and bare_layer.bounding_box == BoundingBox(
        (5, 5, 5), (40, 30, 20)
    )
    np.testing.assert_array_equal(bare_layer.get_mag(1).read()[0], data)
    bare_layer.get_mag(1).write(np.zeros((4, 4, 4), np.uint16), absolute_offset=(5, 5, 5))
    assert (layer.get_mag(1)[5:9, 5:9, 5:9] == 0).all()
    ro = Dataset.open(layer.path, read_only=True)
    with pytest.raises(ReadOnlyError):
        ro.get_layer("img").get_mag(1).write(data)


def test_unknown_encoding_does_not_stop_other_scales(dataset: Dataset) -> None:
    layer = dataset.add_layer("img", "color", data_format=PRECOMPUTED)
    layer.add_mag(1, compress=False).write(np.full((16, 16, 16), 9, np.uint8))
    info = info_of(layer.path)
    odd = dict(info["scales"][0], key="fancy", encoding="fpzip", resolution=[22.48, 22.48, 50.0])
    info["scales"].append(odd)
    (layer.path / "info").write_text(json.dumps(info))
    bare = Dataset.open(layer.path)
    assert [m.to_layer_name() for m in bare.get_layer("img").mags] == ["1", "2"]
    assert (bare.get_layer("img").get_mag(1).read() == 9).all()
    with pytest.raises(UnsupportedFormatError, match="fpzip"):
        bare.get_layer("img").get_mag(2).read()


def test_invalid_precomputed_arguments(dataset: Dataset) -> None:
    color = dataset.add_layer("c", "color", data_format=PRECOMPUTED)
    with pytest.raises(InvalidArgumentError, match="multiple of chunk_shape"):
        color.add_mag(1, shard_shape=100)
    with pytest.raises(InvalidArgumentError, match="disagree"):
        color.add_mag(1, sharded=True, sharding={"@type": "neuroglancer_uint64_sharded_v1"})
    with pytest.raises(UnsupportedFormatError, match="jpeg"):
        dataset.add_layer("c16", "color", dtype="uint16", data_format=PRECOMPUTED).add_mag(
            1, encoding="jpeg"
        )
    wkw = dataset.add_layer("w", "color")
    with pytest.raises(InvalidArgumentError):
        wkw.add_mag(1, encoding="raw")
    assert not (dataset.path / "c16" / "1").exists()


def test_negative_offsets_are_fine_for_precomputed(dataset: Dataset) -> None:
    layer = dataset.add_layer("c", "color", data_format=PRECOMPUTED)
    mag = layer.add_mag(1, compress=False)
    mag.write(np.full((8, 8, 8), 3, np.uint8), absolute_offset=(-20, -4, 0))
    assert layer.bounding_box == BoundingBox((-20, -4, 0), (8, 8, 8))
    assert info_of(layer.path)["scales"][0]["voxel_offset"] == [-20, -4, 0]
    assert (mag[-20:-12, -4:4, 0:8] == 3).all()
    wkw = dataset.add_layer("w", "color").add_mag(1)
    with pytest.raises(OutOfBoundsError):
        wkw.write(np.ones((2, 2, 2), np.uint8), absolute_offset=(-2, 0, 0))


@pytest.mark.regression(
    reason="bug: deleting the only mag of a precomputed layer raised InvalidPropertiesError "
    "(an info must list a scale); the info now goes with the last scale"
)
def test_deleting_the_last_precomputed_mag_and_adding_it_again(tmp_path: Path) -> None:
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("pc", "color", data_format="neuroglancerPrecomputed")
    layer.add_mag(1).write(np.ones((8, 8, 8), np.uint8))
    layer.delete_mag(1)
    assert not layer.mags and not (layer.path / "info").exists()
    layer.add_mag(1).write(np.full((8, 8, 8), 3, np.uint8))
    assert Dataset.open(ds.path).get_layer("pc").get_mag(1).read().sum() == 3 * 8**3
