"""Our side of the webknossos-compatible arguments and methods (tests/compat runs both libs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset, View
from webknossos_like.errors import (
    AlignmentError,
    DataShapeError,
    InvalidArgumentError,
    OutOfBoundsError,
    ReadOnlyError,
    UnsupportedFormatError,
)

DATA = np.arange(64**3, dtype=np.uint32).reshape((64, 64, 64)) % 1000


@pytest.mark.parametrize("data_format", ["wkw", "zarr3"])
def test_allow_resize_false_leaves_everything_unchanged(dataset: Dataset, data_format: str) -> None:
    layer = dataset.add_layer(
        "c", "color", data_format=data_format, bounding_box=BoundingBox((0, 0, 0), (32, 32, 32))
    )
    mag = layer.add_mag(1)
    with pytest.raises(OutOfBoundsError):
        mag.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(30, 0, 0), allow_resize=False)
    assert layer.bounding_box == BoundingBox((0, 0, 0), (32, 32, 32))
    assert not mag.read().any()
    mag.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(24, 0, 0), allow_resize=False)
    mag.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(30, 0, 0))  # default: grows
    assert layer.bounding_box == BoundingBox((0, 0, 0), (38, 32, 32))


def test_write_cxyz_needs_four_dimensions(dataset: Dataset) -> None:
    mag = dataset.add_layer("c", "color").add_mag(1)
    with pytest.raises(DataShapeError):
        mag.write_cxyz(np.ones((4, 4, 4), np.uint8))
    mag.write_cxyz(np.ones((1, 4, 4, 4), np.uint8))
    assert mag.read_cxyz().shape == (1, 4, 4, 4)


def test_add_layer_shapes_are_add_mag_defaults(dataset: Dataset) -> None:
    layer = dataset.add_layer("c", "color", data_format="wkw", chunk_shape=16, shard_shape=64)
    assert layer.add_mag(1).info.shard_shape == (64, 64, 64)
    assert layer.add_mag(2, shard_shape=32).info.shard_shape == (32, 32, 32)


def test_deprecated_arguments_conflicts(dataset: Dataset) -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidArgumentError):
        dataset.add_layer("c", "color", dtype="uint8", dtype_per_channel="uint16")
    layer = dataset.add_layer("d", "color", data_format="wkw")
    with pytest.warns(DeprecationWarning):
        assert layer.add_mag(1, chunks_per_shard=4).info.shard_shape == (128, 128, 128)


def test_first_write_sets_largest_segment_id(dataset: Dataset) -> None:
    seg = dataset.add_layer("s", "segmentation", dtype="uint32")
    assert seg.largest_segment_id is None
    seg.add_mag(1).write(DATA[:8, :8, :8] + 5)
    assert seg.largest_segment_id == int(DATA[:8, :8, :8].max()) + 5
    boxed = dataset.add_layer(
        "b", "segmentation", dtype="uint32", bounding_box=BoundingBox((0, 0, 0), (8, 8, 8))
    )
    boxed.add_mag(1).write(DATA[:8, :8, :8])
    assert boxed.largest_segment_id is None  # unknown: the box may hold other data
    assert boxed.refresh_largest_segment_id() == int(DATA[:8, :8, :8].max())


def test_write_layer_with_pyramid(dataset: Dataset) -> None:
    layer = dataset.write_layer("seg", "segmentation", DATA, absolute_offset=(64, 0, 0))
    assert layer.bounding_box == BoundingBox((64, 0, 0), (64, 64, 64))
    assert len(layer.mags) > 1
    np.testing.assert_array_equal(layer.get_mag(1).read()[0], DATA)
    with pytest.raises(InvalidArgumentError):
        dataset.write_layer("t", "color", DATA[0].astype(np.uint8))


def test_empty_layer_view_and_copy(dataset: Dataset, tmp_path: Path) -> None:
    layer = dataset.add_layer("c", "color")
    view = layer.add_mag(1).get_view()
    assert view.bounding_box.is_empty()
    other = Dataset(tmp_path / "other", (1, 1, 1)).add_layer_as_copy(layer)
    assert other.bounding_box.is_empty() and list(other.mags) == list(layer.mags)


def _sum_into(args: tuple[View, View, int]) -> None:
    source, target, _ = args
    target.write((source.read()[:, ::2, ::2, ::2]).astype(np.uint32))


def test_for_zipped_chunks_across_mags(dataset: Dataset) -> None:
    layer = dataset.add_layer("c", "color", dtype="uint32", data_format="wkw")
    mag1 = layer.add_mag(1, chunk_shape=32, shard_shape=32)
    mag1.write(DATA)
    mag2 = layer.add_mag(2, chunk_shape=32, shard_shape=32)
    mag1.for_zipped_chunks(_sum_into, mag2, (64, 64, 64), (64, 64, 64))
    np.testing.assert_array_equal(mag2.read()[0], DATA[::2, ::2, ::2])
    with pytest.raises(InvalidArgumentError):
        mag1.for_zipped_chunks(_sum_into, mag2, (64, 64, 64), (32, 32, 32))
    with pytest.raises(AlignmentError):
        mag1.for_zipped_chunks(_sum_into, mag2, (16, 16, 16), (16, 16, 16))
    with pytest.raises(InvalidArgumentError):
        mag1.for_zipped_chunks(_sum_into, mag2, source_chunk_shape=(64, 64, 64))


def test_refs_are_read_only_and_checked(dataset: Dataset, tmp_path: Path) -> None:
    source = dataset.add_layer("c", "color", dtype="uint32", data_format="wkw")
    source.add_mag(1).write(DATA)
    target = Dataset(tmp_path / "t", (1, 1, 1))
    ref = target.add_layer_as_ref(source.path, make_relative=True)
    with pytest.raises(ReadOnlyError):
        ref.get_mag(1).write(DATA)
    np.testing.assert_array_equal(
        Dataset.open(target.path).get_layer("c").get_mag(1).read()[0], DATA
    )
    wrong = target.add_layer("u8", "color", data_format="wkw")
    with pytest.raises(InvalidArgumentError):
        wrong.add_mag_as_ref(source.get_mag(1))
    with pytest.raises(InvalidArgumentError):
        dataset.add_layer_as_ref(source, "again")
    ref.delete_mag(1)  # removes the reference only
    assert source.get_mag(1).read().any()


def test_precomputed_refs_are_refused(dataset: Dataset, tmp_path: Path) -> None:
    source = dataset.add_layer("c", "color", data_format="neuroglancerPrecomputed")
    source.add_mag(1).write(np.ones((8, 8, 8), np.uint8))
    target = Dataset(tmp_path / "t", (1, 1, 1))
    layer: Any = target.add_layer("c", "color", data_format="neuroglancerPrecomputed")
    with pytest.raises(UnsupportedFormatError):
        layer.add_mag_as_ref(source.get_mag(1))
