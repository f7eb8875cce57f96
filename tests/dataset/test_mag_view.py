"""Reading and writing through MagView and View: growth, alignment, indexing, chunking."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webknossos_like import BoundingBox, Dataset, Mag, View, executors
from webknossos_like.errors import (
    AlignmentError,
    DataShapeError,
    DTypeError,
    GeometryError,
    InvalidArgumentError,
    MagExistsError,
    MagNotFoundError,
    OutOfBoundsError,
    ReadOnlyError,
)


def layer_bbox_json(ds: Dataset, index: int = 0) -> dict:
    data = json.loads((ds.path / "datasource-properties.json").read_text())
    return data["dataLayers"][index]["boundingBox"]


def test_write_grows_bbox_and_saves_before_returning(
    dataset: Dataset, rng: np.random.Generator
) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1)
    data = rng.integers(0, 255, size=(30, 20, 10), dtype=np.uint8)
    mag.write(data, absolute_offset=(100, 200, 300))
    assert layer_bbox_json(dataset) == {
        "topLeft": [100, 200, 300],
        "width": 30,
        "height": 20,
        "depth": 10,
    }
    mag.write(data, absolute_offset=(50, 200, 300))
    assert layer_bbox_json(dataset) == {
        "topLeft": [50, 200, 300],
        "width": 80,
        "height": 20,
        "depth": 10,
    }
    np.testing.assert_array_equal(
        mag.read(absolute_offset=(100, 200, 300), size=(30, 20, 10))[0], data
    )


@pytest.mark.parametrize("compress", [False, True])
def test_unaligned_writes_round_trip(
    dataset: Dataset, rng: np.random.Generator, compress: bool
) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1, compress=compress)
    expected = np.zeros((200, 200, 200), np.uint8)
    for _ in range(6):
        offset = rng.integers(0, 120, size=3)
        size = rng.integers(1, 80, size=3)
        block = rng.integers(1, 255, size=tuple(size), dtype=np.uint8)
        mag.write(block, absolute_offset=tuple(int(o) for o in offset))
        expected[tuple(slice(o, o + s) for o, s in zip(offset, size, strict=True))] = block
    np.testing.assert_array_equal(
        mag.read(absolute_offset=(0, 0, 0), size=(200, 200, 200))[0], expected
    )
    assert mag.info.compressed is compress
    leftovers = [p for p in mag.path.rglob("*") if p.name.startswith(".wkl-tmp")]
    assert leftovers == []


def test_small_compressed_write_stays_small(dataset: Dataset) -> None:
    mag = dataset.add_layer("seg", "segmentation", dtype="uint32").add_mag(1, compress=True)
    mag.write(np.arange(32**3, dtype=np.uint32).reshape(32, 32, 32))
    files = list(mag.path.glob("z*/y*/x*.wkw"))
    assert len(files) == 1
    # webknossos materialises ~17 MB for this write with its 1024^3 default shards.
    assert files[0].stat().st_size < 1_000_000


def test_multichannel_write_and_read(dataset: Dataset, rng: np.random.Generator) -> None:
    mag = dataset.add_layer("rgb", "color", num_channels=3).add_mag(1)
    data = rng.integers(0, 255, size=(3, 16, 16, 8), dtype=np.uint8)
    mag.write(data, absolute_offset=(32, 0, 0))
    np.testing.assert_array_equal(mag.read(absolute_offset=(32, 0, 0), size=(16, 16, 8)), data)
    np.testing.assert_array_equal(mag[32:48, 0:16, 0:8], data)
    with pytest.raises(DataShapeError, match="channels"):
        mag.write(data[0], absolute_offset=(0, 0, 0))
    with pytest.raises(DataShapeError, match="channels"):
        mag.write(data[:2], absolute_offset=(0, 0, 0))


def test_write_validation_happens_before_any_byte(dataset: Dataset) -> None:
    layer = dataset.add_layer("color", "color")
    mag = layer.add_mag(1)
    before = (dataset.path / "datasource-properties.json").read_text()
    with pytest.raises(DTypeError) as info:
        mag.write(np.full((8, 8, 8), 0.5))
    assert isinstance(info.value, TypeError)
    with pytest.raises(DTypeError):
        mag.write(np.full((8, 8, 8), 256, np.int64))
    with pytest.raises(DataShapeError):
        mag.write(np.zeros((8, 8), np.uint8))
    with pytest.raises(DataShapeError):
        mag.write(np.zeros((1, 1, 8, 8, 8), np.uint8))
    with pytest.raises(DataShapeError):
        mag.write(np.zeros((0, 8, 8), np.uint8))
    with pytest.raises(OutOfBoundsError):
        mag.write(np.zeros((8, 8, 8), np.uint8), absolute_offset=(-8, 0, 0))
    with pytest.raises(InvalidArgumentError):
        mag.write(
            np.zeros((8, 8, 8), np.uint8), absolute_offset=(0, 0, 0), relative_offset=(0, 0, 0)
        )
    with pytest.raises(GeometryError):
        mag.write(np.zeros((8, 8, 8), np.uint8), absolute_offset=(1.5, 0, 0))
    assert (dataset.path / "datasource-properties.json").read_text() == before
    assert list(mag.path.glob("z*")) == []


def test_safe_casts_are_accepted(dataset: Dataset) -> None:
    mag = dataset.add_layer("c16", "color", dtype="uint16").add_mag(1)
    mag.write(np.full((4, 4, 4), 200, np.uint8))
    assert mag.read().dtype == np.uint16
    assert int(mag.read().sum()) == 200 * 64


def test_relative_offsets_are_relative_to_layer_topleft(
    dataset: Dataset, rng: np.random.Generator
) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1)
    data = rng.integers(0, 255, size=(20, 20, 20), dtype=np.uint8)
    mag.write(data, absolute_offset=(10, 20, 30))
    np.testing.assert_array_equal(
        mag.read(relative_offset=(5, 0, 0), size=(5, 20, 20))[0], data[5:10]
    )
    np.testing.assert_array_equal(
        mag.read(relative_bounding_box=BoundingBox((0, 5, 0), (20, 5, 20)))[0], data[:, 5:10]
    )
    np.testing.assert_array_equal(
        mag.read(absolute_bounding_box=BoundingBox((10, 20, 30), (20, 20, 20)))[0], data
    )
    np.testing.assert_array_equal(mag.read()[0], data)


def test_read_outside_layer_returns_zeros(dataset: Dataset) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1)
    mag.write(np.ones((4, 4, 4), np.uint8))
    outside = mag.read(absolute_offset=(-4, 0, 0), size=(8, 4, 4))[0]
    assert outside[:4].sum() == 0 and outside[4:].sum() == 64
    assert mag.read(absolute_offset=(1000, 0, 0), size=(4, 4, 4)).sum() == 0


def test_mag2_coordinates_and_alignment(dataset: Dataset, rng: np.random.Generator) -> None:
    layer = dataset.add_layer("color", "color")
    mag2 = layer.add_mag("2-2-1")
    data = rng.integers(0, 255, size=(8, 8, 16), dtype=np.uint8)
    mag2.write(data, absolute_offset=(32, 16, 5))
    # sizes are mag-1: 8 voxels of mag 2 cover 16 mag-1 voxels in x and y
    assert layer.bounding_box == BoundingBox((32, 16, 5), (16, 16, 16))
    np.testing.assert_array_equal(
        mag2.read(absolute_offset=(32, 16, 5), size=(16, 16, 16))[0], data
    )
    np.testing.assert_array_equal(mag2[16:24, 8:16, 5:21], data)
    with pytest.raises(AlignmentError, match="align_with_mag"):
        mag2.read(absolute_offset=(33, 16, 5), size=(16, 16, 16))
    with pytest.raises(AlignmentError):
        mag2.write(data, absolute_offset=(31, 16, 5))


def test_numpy_indexing_reads_and_writes(dataset: Dataset, rng: np.random.Generator) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1)
    data = rng.integers(0, 255, size=(40, 30, 20), dtype=np.uint8)
    mag[10:50, 0:30, 5:25] = data
    assert mag.layer.bounding_box == BoundingBox((10, 0, 5), (40, 30, 20))
    np.testing.assert_array_equal(mag[10:50, 0:30, 5:25], data)
    np.testing.assert_array_equal(mag[:, :, :], data)
    np.testing.assert_array_equal(mag[...], data)
    np.testing.assert_array_equal(mag[12, :, 7], data[2, :, 2])
    assert mag[12, 3, 7] == data[2, 3, 2]
    mag[10:12, 0:2, 5:7] = 9
    assert (mag[10:12, 0:2, 5:7] == 9).all()
    with pytest.raises(InvalidArgumentError, match="step"):
        mag[0:10:2, :, :]
    with pytest.raises(InvalidArgumentError):
        mag[0:1, 0:1, 0:1, 0:1]
    with pytest.raises(DataShapeError):
        mag[0:4, 0:4, 0:4] = np.zeros((3, 3, 3), np.uint8)
    with pytest.raises(DTypeError):
        mag[0:4, 0:4, 0:4] = 1.5


def test_views_bounds_and_read_only(dataset: Dataset, rng: np.random.Generator) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1)
    mag.write(rng.integers(0, 255, size=(64, 64, 64), dtype=np.uint8))
    view = mag.get_view(absolute_offset=(16, 16, 16), size=(32, 32, 32))
    assert view.bounding_box == BoundingBox((16, 16, 16), (32, 32, 32))
    view.write(np.full((8, 8, 8), 3, np.uint8), relative_offset=(0, 0, 0))
    assert (mag.read(absolute_offset=(16, 16, 16), size=(8, 8, 8)) == 3).all()
    with pytest.raises(OutOfBoundsError):
        view.write(np.zeros((8, 8, 8), np.uint8), relative_offset=(30, 0, 0))
    with pytest.raises(OutOfBoundsError):
        view.get_view(relative_offset=(0, 0, 0), size=(64, 8, 8))
    wide = view.get_view(relative_offset=(0, 0, 0), size=(64, 8, 8), read_only=True)
    assert wide.read().shape == (1, 64, 8, 8)
    with pytest.raises(ReadOnlyError):
        wide.write(np.zeros((8, 8, 8), np.uint8))
    with pytest.raises(ReadOnlyError):
        wide.get_view(size=(8, 8, 8), read_only=False)
    with pytest.raises(GeometryError):
        view.read(size=(0, 8, 8))


def test_chunk_for_each_and_map_chunk(dataset: Dataset, rng: np.random.Generator) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1, shard_shape=64)
    data = rng.integers(0, 255, size=(100, 70, 40), dtype=np.uint8)
    mag.write(data, absolute_offset=(10, 0, 0))
    boxes = [c.bounding_box for c in mag.chunk((32, 32, 32))]
    assert sum(b.volume() for b in boxes) == mag.bounding_box.volume()
    sums = mag.map_chunk(_sum_view)
    assert sum(sums) == int(data.sum())
    with executors.threads(2) as pool:
        assert sum(mag.map_chunk(_sum_view, executor=pool)) == int(data.sum())
    with pytest.raises(AlignmentError):
        mag.for_each_chunk(_invert_chunk, chunk_shape=(32, 32, 32))
    mag.for_each_chunk(_invert_chunk)
    np.testing.assert_array_equal(mag.read()[0], 255 - data)


def test_map_chunk_with_process_pool(dataset: Dataset, rng: np.random.Generator) -> None:
    seg = dataset.add_layer("seg", "segmentation", dtype="uint32")
    mag = seg.add_mag(1, shard_shape=64)
    data = rng.integers(0, 50_000, size=(128, 64, 64), dtype=np.uint32)
    mag.write(data)
    with executors.processes(2) as pool:
        assert sum(mag.map_chunk(_sum_view, executor=pool)) == int(data.sum(dtype=np.uint64))
        mag.for_each_chunk(_invert_chunk, executor=pool)
    np.testing.assert_array_equal(mag.read()[0], np.iinfo(np.uint32).max - data)
    assert Dataset.open(dataset.path).get_segmentation_layer("seg").largest_segment_id == int(
        (np.iinfo(np.uint32).max - data).max()
    )


def _sum_view(view: View) -> int:
    return int(view.read().sum(dtype=np.uint64))


def _invert_chunk(args: tuple[View, int]) -> None:
    view, _ = args
    data = view.read()
    view.write(np.iinfo(data.dtype).max - data)


def test_content_is_equal(dataset: Dataset, rng: np.random.Generator) -> None:
    data = rng.integers(0, 255, size=(70, 50, 30), dtype=np.uint8)
    a = dataset.add_layer("a", "color").add_mag(1, compress=False)
    b = dataset.add_layer("b", "color").add_mag(1, compress=True)
    a.write(data)
    b.write(data)
    assert a.content_is_equal(b)
    b.write(np.array([[[1]]], np.uint8) + data[:1, :1, :1], absolute_offset=(0, 0, 0))
    assert not a.content_is_equal(b)
    c = dataset.add_layer("c", "color").add_mag(1)
    c.write(data[:, :, :20])
    assert not a.content_is_equal(c)


def test_bounding_boxes_on_disk(dataset: Dataset) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1, shard_shape=64)
    mag.write(np.ones((10, 10, 10), np.uint8), absolute_offset=(130, 0, 0))
    boxes = list(mag.get_bounding_boxes_on_disk())
    assert boxes == [BoundingBox((130, 0, 0), (10, 10, 10))]


def test_compress_in_place_and_to_target(
    dataset: Dataset, rng: np.random.Generator, tmp_path: Path
) -> None:
    layer = dataset.add_layer("color", "color")
    mag = layer.add_mag(1, compress=False)
    data = (rng.integers(0, 4, size=(200, 130, 70)) * 50).astype(np.uint8)
    mag.write(data, absolute_offset=(5, 5, 5))
    raw_size = sum(p.stat().st_blocks for p in mag.path.rglob("*.wkw"))
    mag.compress(target_path=tmp_path / "copy")
    assert (tmp_path / "copy" / "header.wkw").exists()
    assert not mag.info.compressed
    with executors.threads(2) as pool:
        mag.compress(executor=pool)
    view = Dataset.open(dataset.path).get_layer("color").get_mag(1)
    assert view.info.compressed
    np.testing.assert_array_equal(view.read()[0], data)
    assert sum(p.stat().st_blocks for p in view.path.rglob("*.wkw")) < raw_size
    # Nothing left over but the mag and its lock file.
    assert sorted(p.name for p in layer.path.iterdir()) == [".1.lock", "1"]


def test_mag_management(dataset: Dataset) -> None:
    layer = dataset.add_layer("color", "color")
    layer.add_mag(1)
    layer.add_mag("2-2-1", compress=False)
    assert list(layer.mags) == [Mag(1), Mag("2-2-1")]
    assert layer.get_finest_mag().mag == Mag(1)
    with pytest.raises(MagExistsError):
        layer.add_mag([1, 1, 1])
    with pytest.raises(MagNotFoundError) as info:
        layer.get_mag(4)
    assert isinstance(info.value, KeyError)
    assert layer.get_or_add_mag("2-2-1", compress=False).mag == Mag("2-2-1")
    with pytest.raises(InvalidArgumentError, match="compress"):
        layer.get_or_add_mag("2-2-1", compress=True)
    layer.delete_mag("2-2-1")
    assert not (layer.path / "2-2-1").exists()
    assert list(Dataset.open(dataset.path).get_layer("color").mags) == [Mag(1)]
    data = json.loads((dataset.path / "datasource-properties.json").read_text())
    assert data["dataLayers"][0]["mags"] == [
        {
            "mag": [1, 1, 1],
            "path": "./color/1",
            "cubeLength": 128,
            "axisOrder": {"c": 0, "x": 1, "y": 2, "z": 3},
        }
    ]


def test_largest_segment_id_tracks_writes(dataset: Dataset) -> None:
    seg = dataset.add_layer("seg", "segmentation", dtype="uint64")
    mag = seg.add_mag(1)
    mag.write(np.full((4, 4, 4), 17, np.uint64))
    assert seg.largest_segment_id == 17
    big = 2**60 + 3
    mag.write(np.full((4, 4, 4), big, np.uint64), absolute_offset=(8, 0, 0))
    reopened = Dataset.open(dataset.path).get_segmentation_layer("seg")
    assert reopened.largest_segment_id == big
    data = json.loads((dataset.path / "datasource-properties.json").read_text())
    assert data["dataLayers"][0]["largestSegmentId"] == {
        "customJsonEncoding": "bigint",
        "value": str(big),
    }
    seg.largest_segment_id = None
    mag.write(np.full((4, 4, 4), big + 1, np.uint64))
    assert seg.largest_segment_id is None
    assert seg.refresh_largest_segment_id() == big + 1
    assert Dataset.open(dataset.path).get_segmentation_layer("seg").largest_segment_id == big + 1
    with pytest.raises(InvalidArgumentError):
        seg.largest_segment_id = 3.5  # type: ignore[assignment]


def test_buffered_slice_writer_and_reader(dataset: Dataset, rng: np.random.Generator) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1)
    data = rng.integers(0, 255, size=(40, 30, 50), dtype=np.uint8)
    with mag.get_buffered_slice_writer(absolute_offset=(0, 0, 10), buffer_size=16) as writer:
        for z in range(data.shape[2]):
            writer.send(data[:, :, z])
    np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 10), size=(40, 30, 50))[0], data)
    box = BoundingBox((0, 0, 10), (40, 30, 50))
    with mag.get_buffered_slice_reader(absolute_bounding_box=box, buffer_size=7) as reader:
        slices = list(reader)
    assert len(slices) == 50
    np.testing.assert_array_equal(np.stack(slices, axis=-1)[0], data)


def test_views_pickle(dataset: Dataset, rng: np.random.Generator) -> None:
    mag = dataset.add_layer("color", "color").add_mag(1)
    data = rng.integers(0, 255, size=(16, 16, 16), dtype=np.uint8)
    mag.write(data)
    view = mag.get_view(size=(8, 8, 8))
    for obj in (mag, view, mag.layer, dataset):
        clone = pickle.loads(pickle.dumps(obj))
        assert type(clone) is type(obj)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(view)).read()[0], data[:8, :8, :8])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(mag)).read()[0], data)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    writes=st.lists(
        st.tuples(
            st.tuples(*(st.integers(0, 90) for _ in range(3))),
            st.tuples(*(st.integers(1, 40) for _ in range(3))),
        ),
        min_size=1,
        max_size=4,
    ),
    compress=st.booleans(),
)
def test_random_writes_match_numpy_model(
    tmp_path_factory: pytest.TempPathFactory, writes: list, compress: bool
) -> None:
    ds = Dataset(tmp_path_factory.mktemp("prop") / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("seg", "segmentation", dtype="uint16").add_mag(
        1, compress=compress, shard_shape=64
    )
    model = np.zeros((130, 130, 130), np.uint16)
    for value, (offset, size) in enumerate(writes, start=1):
        block = np.full(size, value, np.uint16)
        mag.write(block, absolute_offset=offset)
        model[tuple(slice(o, o + s) for o, s in zip(offset, size, strict=True))] = value
    np.testing.assert_array_equal(
        mag.read(absolute_offset=(0, 0, 0), size=(130, 130, 130))[0], model
    )
    union = BoundingBox.empty()
    for offset, size in writes:
        union = union.extended_by(BoundingBox(offset, size))
    assert Dataset.open(ds.path).get_layer("seg").bounding_box == union
    assert ds.get_segmentation_layer("seg").largest_segment_id == len(writes)


@pytest.mark.parametrize("data_format", ["wkw", "neuroglancerPrecomputed"])
def test_parallel_write_with_executor(
    dataset: Dataset, rng: np.random.Generator, data_format: str
) -> None:
    layer = dataset.add_layer("seg", "segmentation", dtype="uint32", data_format=data_format)
    mag = layer.add_mag(1)
    data = rng.integers(0, 70_000, size=(300, 140, 70), dtype=np.uint32)
    with executors.threads(2) as pool:
        mag.write(data, absolute_offset=(5, 6, 7), executor=pool)
    assert layer.bounding_box == BoundingBox((5, 6, 7), (300, 140, 70))
    assert layer.largest_segment_id == int(data.max())
    np.testing.assert_array_equal(mag.read()[0], data)
