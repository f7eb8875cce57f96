"""Dataset creation, opening, layer management and the properties write-through."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset, SegmentationLayer
from webknossos_like.errors import (
    DatasetExistsError,
    DatasetNotFoundError,
    DTypeError,
    InvalidArgumentError,
    InvalidNameError,
    LayerExistsError,
    LayerNotFoundError,
    ReadOnlyError,
    UnsupportedFormatError,
)


def properties_json(ds: Dataset) -> dict:
    return json.loads((ds.path / "datasource-properties.json").read_text())


def test_create_writes_properties(dataset: Dataset) -> None:
    data = properties_json(dataset)
    assert data["id"] == {"name": "ds", "team": ""}
    assert data["scale"] == {"factor": [11.24, 11.24, 25.0], "unit": "nanometer"}
    assert data["dataLayers"] == []
    assert dataset.voxel_size == (11.24, 11.24, 25.0)
    assert dataset.voxel_size_unit == "nanometer"
    assert dataset.name == "ds"


def test_create_needs_voxel_size(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="voxel_size"):
        Dataset(tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_create_refuses_existing(dataset: Dataset, tmp_path: Path) -> None:
    with pytest.raises(DatasetExistsError) as info:
        Dataset(dataset.path, voxel_size=(1, 1, 1))
    assert isinstance(info.value, FileExistsError)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    with pytest.raises(DatasetExistsError, match="not empty"):
        Dataset(tmp_path / "busy", voxel_size=(1, 1, 1))
    assert (tmp_path / "busy" / "file.txt").read_text() == "x"


def test_exist_ok_reopens_and_checks_voxel_size(dataset: Dataset) -> None:
    dataset.add_layer("color", "color")
    again = Dataset(dataset.path, voxel_size=(11.24, 11.24, 25.0), exist_ok=True)
    assert list(again.layers) == ["color"]
    with pytest.raises(DatasetExistsError, match="voxel size"):
        Dataset(dataset.path, voxel_size=(1, 1, 1), exist_ok=True)


def test_open_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        Dataset.open(tmp_path / "nothing")
    assert isinstance(info.value, FileNotFoundError)
    assert "nothing" in str(info.value)


def test_add_layer_persists(dataset: Dataset) -> None:
    color = dataset.add_layer("color", "color", dtype="uint16", num_channels=1)
    seg = dataset.add_layer("seg", "segmentation", dtype=np.uint32)
    assert isinstance(seg, SegmentationLayer)
    assert color.dtype == np.uint16
    reopened = Dataset.open(dataset.path)
    assert list(reopened.layers) == ["color", "seg"]
    assert reopened.get_layer("seg").category == "segmentation"
    assert reopened.get_segmentation_layer("seg").largest_segment_id is None  # as in webknossos
    layers = properties_json(dataset)["dataLayers"]
    assert layers[0]["elementClass"] == "uint16"
    assert layers[1]["elementClass"] == "uint32"
    assert [layer.name for layer in reopened.get_color_layers()] == ["color"]
    assert [layer.name for layer in reopened.get_segmentation_layers()] == ["seg"]


@pytest.mark.parametrize(
    ("name", "category", "dtype", "error"),
    [
        ("bad/name", "color", "uint8", InvalidNameError),
        ("../escape", "color", "uint8", InvalidNameError),
        (".hidden", "color", "uint8", InvalidNameError),
        ("", "color", "uint8", InvalidNameError),
        ("a b", "color", "uint8", InvalidNameError),
        ("ok", "colour", "uint8", InvalidArgumentError),
        ("ok", "color", "float64", DTypeError),
        ("ok", "color", "uint64", DTypeError),
        ("ok", "segmentation", "float32", DTypeError),
    ],
)
def test_add_layer_rejects_bad_input(
    dataset: Dataset, name: str, category: str, dtype: str, error: type[Exception]
) -> None:
    before = (dataset.path / "datasource-properties.json").read_text()
    with pytest.raises(error):
        dataset.add_layer(name, category, dtype=dtype)
    assert (dataset.path / "datasource-properties.json").read_text() == before
    assert sorted(p.name for p in dataset.path.iterdir() if not p.name.startswith(".")) == [
        "datasource-properties.json"
    ]


def test_add_layer_errors_are_builtin_types(dataset: Dataset) -> None:
    dataset.add_layer("color", "color")
    with pytest.raises(LayerExistsError) as info:
        dataset.add_layer("color", "segmentation")
    assert isinstance(info.value, ValueError)
    with pytest.raises(KeyError):
        dataset.get_layer("nope")
    with pytest.raises(UnsupportedFormatError):
        dataset.add_layer("z", "color", data_format="n5")


def test_get_or_add_layer(dataset: Dataset) -> None:
    first = dataset.get_or_add_layer("color", "color", dtype="uint8")
    assert dataset.get_or_add_layer("color", "color", dtype="uint8") is first
    with pytest.raises(LayerExistsError, match="dtype"):
        dataset.get_or_add_layer("color", "color", dtype="uint16")
    with pytest.raises(LayerExistsError, match="category"):
        dataset.get_or_add_layer("color", "segmentation")


def test_delete_layer_removes_folder(dataset: Dataset) -> None:
    layer = dataset.add_layer("color", "color")
    layer.add_mag(1).write(np.ones((8, 8, 8), np.uint8))
    assert (dataset.path / "color" / "1" / "header.wkw").exists()
    dataset.delete_layer("color")
    assert not (dataset.path / "color").exists()
    assert "color" not in Dataset.open(dataset.path).layers
    with pytest.raises(LayerNotFoundError):
        dataset.delete_layer("color")


def test_rename_layer_moves_folder_and_paths(dataset: Dataset) -> None:
    layer = dataset.add_layer("color", "color")
    layer.add_mag(1).write(np.full((8, 8, 8), 7, np.uint8))
    layer.name = "renamed"
    assert not (dataset.path / "color").exists()
    assert (dataset.path / "renamed" / "1" / "header.wkw").exists()
    data = properties_json(dataset)["dataLayers"][0]
    assert data["name"] == "renamed"
    assert data["mags"][0]["path"] == "./renamed/1"
    reopened = Dataset.open(dataset.path)
    assert reopened.get_layer("renamed").get_mag(1).read().sum() == 7 * 8**3
    other = dataset.add_layer("other", "color")
    with pytest.raises(LayerExistsError):
        other.name = "renamed"
    with pytest.raises(InvalidNameError):
        other.name = "../x"


def test_read_only_dataset_refuses_everything(dataset: Dataset) -> None:
    layer = dataset.add_layer("color", "color")
    layer.add_mag(1).write(np.ones((4, 4, 4), np.uint8))
    ro = Dataset.open(dataset.path, read_only=True)
    before = (dataset.path / "datasource-properties.json").read_text()
    with pytest.raises(ReadOnlyError) as info:
        ro.add_layer("x", "color")
    assert isinstance(info.value, PermissionError)
    ro_layer = ro.get_layer("color")
    with pytest.raises(ReadOnlyError):
        ro_layer.add_mag(2)
    with pytest.raises(ReadOnlyError):
        ro_layer.get_mag(1).write(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ReadOnlyError):
        ro_layer.bounding_box = BoundingBox((0, 0, 0), (1, 1, 1))
    with pytest.raises(ReadOnlyError):
        ro.delete_layer("color")
    assert (dataset.path / "datasource-properties.json").read_text() == before
    assert ro_layer.get_mag(1).read().sum() == 64


def test_add_layer_like_and_as_copy(
    dataset: Dataset, tmp_path: Path, rng: np.random.Generator
) -> None:
    seg = dataset.add_layer("seg", "segmentation", dtype="uint32")
    data = rng.integers(0, 1000, size=(40, 50, 30), dtype=np.uint32)
    seg.add_mag(1, compress=True).write(data, absolute_offset=(10, 20, 30))
    other = Dataset(tmp_path / "other", voxel_size=(1, 1, 1))
    copy = other.add_layer_as_copy(seg, "seg_copy", compress=False)
    assert copy.bounding_box == seg.bounding_box
    assert copy.dtype == np.uint32
    assert not copy.get_mag(1).info.compressed
    assert copy.get_mag(1).content_is_equal(seg.get_mag(1))
    np.testing.assert_array_equal(copy.get_mag(1).read()[0], data)
    assert isinstance(copy, SegmentationLayer)
    assert copy.largest_segment_id == seg.largest_segment_id == int(data.max())
    like = other.add_layer_like(seg, "like")
    assert like.bounding_box == seg.bounding_box and not like.mags


def test_add_layer_for_existing_files(
    dataset: Dataset, tmp_path: Path, rng: np.random.Generator
) -> None:
    source = dataset.add_layer("color", "color", dtype="uint16")
    data = rng.integers(0, 60000, size=(64, 64, 32), dtype=np.uint16)
    source.add_mag(1, compress=False).write(data, absolute_offset=(128, 0, 0))
    source.add_mag("2-2-1").write(data[::2, ::2, :], absolute_offset=(128, 0, 0))
    fresh = Dataset(tmp_path / "fresh", voxel_size=(1, 1, 1))
    import shutil

    shutil.copytree(source.path, fresh.path / "imported")
    layer = fresh.add_layer_for_existing_files("imported", "color")
    assert layer.dtype == np.uint16
    assert sorted(m.to_layer_name() for m in layer.mags) == ["1", "2-2-1"]
    assert layer.bounding_box.contains_bbox(BoundingBox((128, 0, 0), (64, 64, 32)))
    np.testing.assert_array_equal(
        layer.get_mag(1).read(absolute_offset=(128, 0, 0), size=(64, 64, 32))[0], data
    )


def test_calculate_bounding_box(dataset: Dataset) -> None:
    a = dataset.add_layer("a", "color", bounding_box=BoundingBox((0, 0, 0), (10, 10, 10)))
    dataset.add_layer("b", "color", bounding_box=BoundingBox((20, 0, 0), (10, 5, 5)))
    assert dataset.calculate_bounding_box() == BoundingBox((0, 0, 0), (30, 10, 10))
    assert a.bounding_box == BoundingBox((0, 0, 0), (10, 10, 10))


def test_dataset_name_setter_persists(dataset: Dataset) -> None:
    dataset.name = "renamed dataset"
    assert Dataset.open(dataset.path).name == "renamed dataset"
    with pytest.raises(InvalidArgumentError):
        dataset.name = ""
