"""datasource-properties.json interop with the real `webknossos` package (4.3.3), both directions."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like.properties import (
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    PropertiesFile,
    SegmentationLayerProperties,
    VoxelSize,
    dtype_per_channel,
    dumps,
    element_class_for,
    loads,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # optional image readers missing
    wk = pytest.importorskip("webknossos")
    from webknossos.dataset_properties.dtype_conversion import (
        dtype_per_channel_to_element_class,
        element_class_to_dtype_per_channel,
    )


def _key_order(value: Any) -> Any:
    if isinstance(value, dict):
        return [(key, _key_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_key_order(item) for item in value]
    return None


@pytest.fixture(scope="module")
def wk_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dataset written by webknossos: uint8 color, uint32 segmentation, 3 x uint8 RGB."""
    path = tmp_path_factory.mktemp("interop") / "wk_ds"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = wk.Dataset(path, voxel_size=(11.24, 11.24, 25))
        # WKW with small uncompressed shards: webknossos' zarr3 default takes seconds per write
        color = ds.add_layer("color", "color", dtype_per_channel="uint8", data_format="wkw")
        color.add_mag(1, chunk_shape=32, shard_shape=64, compress=False).write(
            np.arange(64**3, dtype=np.uint8).reshape(64, 64, 64),
            absolute_offset=(0, 0, 0),
            allow_resize=True,
        )
        seg = ds.add_layer(
            "segmentation", "segmentation", dtype_per_channel="uint32", data_format="wkw"
        )
        seg.add_mag(1, chunk_shape=32, shard_shape=64, compress=False).write(
            np.full((32, 32, 32), 7, dtype=np.uint32),
            absolute_offset=(32, 32, 0),
            allow_resize=True,
        )
        seg.largest_segment_id = 7
        rgb = ds.add_layer("rgb", "color", dtype_per_channel="uint8", num_channels=3)
        rgb.add_mag(1)  # zarr3 (webknossos' default format)
        two = ds.add_layer("two", "color", dtype_per_channel="uint16", num_channels=2)
        two.add_mag(1)
    return path


def test_webknossos_file_loads_and_dumps_identically(wk_dataset: Path) -> None:
    text = (wk_dataset / "datasource-properties.json").read_text()
    props = PropertiesFile(wk_dataset).load()
    out = dumps(props)
    assert json.loads(out) == json.loads(text)
    assert _key_order(json.loads(out)) == _key_order(json.loads(text))
    assert out == text

    layers = {layer.name: layer for layer in props.data_layers}
    assert isinstance(layers["segmentation"], SegmentationLayerProperties)
    assert layers["segmentation"].largest_segment_id == 7
    assert layers["color"].bounding_box == BoundingBoxProperties([0, 0, 0], 64, 64, 64)
    assert layers["segmentation"].bounding_box == BoundingBoxProperties([32, 32, 0], 32, 32, 32)
    # webknossos writes elementClass for all channels together
    assert (layers["rgb"].element_class, layers["rgb"].num_channels) == ("uint24", 3)
    assert (layers["two"].element_class, layers["two"].num_channels) == ("uint32", 2)
    assert dtype_per_channel("uint24", 3) == np.uint8
    assert dtype_per_channel("uint32", 2) == np.uint16
    assert element_class_for(np.uint8, 3) == "uint24"


def test_our_file_opens_in_webknossos(tmp_path: Path) -> None:
    box = BoundingBoxProperties([16, 32, 8], 100, 50, 20)
    layers: list[LayerProperties | SegmentationLayerProperties] = [
        LayerProperties("gray", "color", box, "wkw", [], 1, element_class_for("uint8", 1)),
        LayerProperties("rgb", "color", box, "wkw", [], 3, element_class_for("uint8", 3)),
        LayerProperties("f32", "color", box, "zarr3", [], 1, element_class_for("float32", 1)),
        SegmentationLayerProperties(
            "seg",
            "segmentation",
            BoundingBoxProperties([0, 0, 0], 64, 64, 64),
            "wkw",
            [],
            1,
            element_class_for("uint64", 1),
            largest_segment_id=2**60 + 1,
            mappings=["m"],
        ),
    ]
    props = DatasetProperties(
        DatasetId("ours"), VoxelSize((4.0, 4.0, 35.0), "nm"), layers, extra={"ourKey": 1}
    )
    PropertiesFile(tmp_path).save(props)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = wk.Dataset.open(tmp_path)
    assert list(ds.layers) == ["gray", "rgb", "f32", "seg"]
    assert tuple(ds.voxel_size) == (4.0, 4.0, 35.0)
    expected = {
        "gray": (np.uint8, 1),
        "rgb": (np.uint8, 3),
        "f32": (np.float32, 1),
        "seg": (np.uint64, 1),
    }
    for name, (dtype, channels) in expected.items():
        layer = ds.get_layer(name)
        assert np.dtype(layer.dtype) == np.dtype(dtype), name
        assert layer.num_channels == channels, name
    assert ds.get_layer("gray").bounding_box.topleft.to_tuple() == (16, 32, 8)
    assert ds.get_layer("gray").bounding_box.size.to_tuple() == (100, 50, 20)
    assert ds.get_layer("seg").bounding_box.size.to_tuple() == (64, 64, 64)
    assert ds.get_layer("seg").largest_segment_id == 2**60 + 1
    assert ds.get_layer("seg").category == "segmentation"


def test_our_edit_of_webknossos_dataset_reopens_with_data(wk_dataset: Path, tmp_path: Path) -> None:
    """Change metadata of a webknossos dataset through our file layer; webknossos still reads it."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(wk_dataset, copy)
    file = PropertiesFile(copy)

    def edit(props: DatasetProperties) -> None:
        color = props.get_layer("color")
        assert color is not None
        color.bounding_box.width = 32
        color.extra["ourNote"] = "kept by us, ignored by webknossos"

    file.update(edit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = wk.Dataset.open(copy)
        color = ds.get_layer("color")
        assert color.bounding_box.size.to_tuple() == (32, 64, 64)
        data = color.get_mag(1).read(absolute_offset=(0, 0, 0), size=(32, 64, 64))
    assert np.array_equal(data[0], np.arange(64**3, dtype=np.uint8).reshape(64, 64, 64)[:32])
    assert loads(file.path.read_text()).get_layer("color").extra == {  # type: ignore[union-attr]
        "ourNote": "kept by us, ignored by webknossos"
    }


@pytest.mark.parametrize(
    "dtype", ["uint8", "uint16", "uint32", "uint64", "int8", "int32", "float32", "float64"]
)
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_dtype_helpers_match_webknossos(dtype: str, channels: int) -> None:
    element_class = dtype_per_channel_to_element_class(dtype, channels)
    assert element_class_for(dtype, channels) == element_class
    assert dtype_per_channel(element_class, channels) == element_class_to_dtype_per_channel(
        element_class, channels
    )


def test_mag_entries_and_bigint_survive_webknossos_rewrite(tmp_path: Path) -> None:
    """webknossos re-saving our file keeps what it understands identically."""
    props = DatasetProperties(
        DatasetId("x"),
        VoxelSize((1.0, 1.0, 1.0)),
        [
            SegmentationLayerProperties(
                "seg",
                "segmentation",
                BoundingBoxProperties([0, 0, 0], 8, 8, 8),
                "wkw",
                [],
                1,
                "uint64",
                largest_segment_id=2**63,
            )
        ],
    )
    PropertiesFile(tmp_path).save(props)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = wk.Dataset.open(tmp_path)
        ds.get_segmentation_layer("seg").add_mag(1)
    reread = PropertiesFile(tmp_path).load()
    seg = reread.get_layer("seg")
    assert isinstance(seg, SegmentationLayerProperties)
    assert seg.largest_segment_id == 2**63
    assert [m.mag for m in seg.mags] == [[1, 1, 1]]
    assert seg.mags[0] == MagViewProperties(
        [1, 1, 1], "./seg/1", 1024, {"c": 0, "x": 1, "y": 2, "z": 3}
    )
