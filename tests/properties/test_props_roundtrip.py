"""Round trips of datasource-properties.json: the webknossos example, a rich file, legacy forms, dtypes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like.errors import DataShapeError, DTypeError, InvalidPropertiesError
from webknossos_like.properties import (
    JS_MAX_SAFE_INTEGER,
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    SegmentationLayerProperties,
    VoxelSize,
    converter,
    dtype_per_channel,
    dumps,
    element_class_for,
    loads,
    normalize_length_unit,
    structure,
    unstructure,
)

DATA = Path(__file__).parent / "data"


def _key_order(value: Any) -> Any:
    """The nested key order of a JSON value, for comparing order and not only content."""
    if isinstance(value, dict):
        return [(key, _key_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_key_order(item) for item in value]
    return None


def _normalised(text: str) -> str:
    return json.dumps(json.loads(text))


# --- the verbatim webknossos example --------------------------------------------------------


def test_wk_example_round_trips_exactly() -> None:
    text = (DATA / "wk_example.json").read_text()
    props = loads(text, path="wk_example.json")
    out = dumps(props)
    assert _normalised(out) == _normalised(text)
    assert _key_order(json.loads(out)) == _key_order(json.loads(text))
    assert out == text


def test_wk_example_content() -> None:
    props = loads((DATA / "wk_example.json").read_text())
    assert props.id == DatasetId("wk_example_ds", "")
    assert props.scale == VoxelSize((11.24, 11.24, 25.0), "nanometer")
    assert props.version == 1
    color, seg = props.data_layers
    assert type(color) is LayerProperties
    assert isinstance(seg, SegmentationLayerProperties)
    assert color.bounding_box == BoundingBoxProperties([64, 32, 0], 128, 96, 64)
    assert [m.mag for m in color.mags] == [[1, 1, 1], [2, 2, 1]]
    assert color.mags[1] == MagViewProperties(
        [2, 2, 1], "./color/2-2-1", 1024, {"c": 0, "x": 1, "y": 2, "z": 3}
    )
    assert (color.num_channels, color.element_class) == (1, "uint8")
    assert seg.largest_segment_id == 70000
    assert seg.mappings is None and seg.attachments is None


def test_float_factor_written_as_float() -> None:
    props = loads((DATA / "wk_example.json").read_text())
    props.scale = VoxelSize((1, 2, 25))
    assert json.loads(dumps(props))["scale"] == {"factor": [1.0, 2.0, 25.0], "unit": "nanometer"}
    assert '"factor": [\n            1.0,' in dumps(props)


# --- the rich example: every optional key and unknown keys at each level ----------------------


def test_rich_example_round_trips_exactly() -> None:
    text = (DATA / "rich_example.json").read_text()
    props = loads(text)
    assert dumps(props) == text
    assert loads(dumps(props)) == props


def test_rich_example_content() -> None:
    props = loads((DATA / "rich_example.json").read_text())
    assert props.scale.unit == "micrometer"
    assert props.scale.to_nanometer() == (500.0, 500.0, 1250.0)
    assert props.id.extra == {"legacyOwner": "someone"}
    assert props.scale.extra == {"scaleComment": "from microscope"}
    assert list(props.extra) == ["topLevelUnknown", "zzz"]
    assert props.default_view_configuration is not None
    assert props.default_view_configuration["zoom"] == 1.5
    color, seg = props.data_layers
    assert color.extra == {"layerNote": "kept", "anotherUnknown": 1.5}
    assert color.bounding_box.extra == {"bboxNote": [1, 2, 3]}
    assert color.mags[0].extra == {"magNote": {"a": None}}
    assert color.mags[0].channel_index == 0
    assert color.additional_axes == [{"name": "t", "bounds": [0, 10], "index": 1}]
    assert color.coordinate_transformations is not None
    assert color.coordinate_transformations[0]["type"] == "affine"
    assert (color.num_channels, color.element_class) == (3, "uint24")
    assert dtype_per_channel(color.element_class, color.num_channels) == np.uint8
    assert isinstance(seg, SegmentationLayerProperties)
    assert seg.largest_segment_id == 2**60 + 1
    assert seg.mappings == ["agglomerate_view_70", "mapping_b"]
    assert seg.attachments is not None and "meshes" in seg.attachments
    assert seg.extra == {"segNote": {"deep": {"er": [True, None, "x"]}}}


def test_layer_key_order_matches_webknossos() -> None:
    """Order observed from webknossos 4.3.3's converter (additionalAxes after attachments)."""
    layer = SegmentationLayerProperties(
        name="s",
        category="segmentation",
        bounding_box=BoundingBoxProperties([0, 0, 0], 1, 1, 1),
        data_format="zarr3",
        mags=[MagViewProperties([1, 1, 1], "./s/1", 32, {"c": 0, "x": 1}, 1, extra={"m": 1})],
        num_channels=1,
        element_class="uint32",
        default_view_configuration={"alpha": 3},
        coordinate_transformations=[],
        additional_axes=[{"name": "t", "bounds": [0, 3], "index": 1}],
        largest_segment_id=4,
        mappings=["a"],
        attachments={"meshes": []},
        extra={"unknown": True},
    )
    props = DatasetProperties(
        DatasetId("d"), VoxelSize((1, 1, 1)), [layer], default_view_configuration={}, extra={"u": 1}
    )
    data = unstructure(props)
    assert list(data) == ["id", "scale", "dataLayers", "version", "defaultViewConfiguration", "u"]
    assert list(data["dataLayers"][0]) == [
        "name",
        "category",
        "boundingBox",
        "dataFormat",
        "mags",
        "defaultViewConfiguration",
        "coordinateTransformations",
        "largestSegmentId",
        "mappings",
        "attachments",
        "additionalAxes",
        "numChannels",
        "elementClass",
        "unknown",
    ]
    assert list(data["dataLayers"][0]["mags"][0]) == [
        "mag",
        "path",
        "cubeLength",
        "axisOrder",
        "channelIndex",
        "m",
    ]


def test_none_optionals_are_omitted() -> None:
    layer = LayerProperties(
        "c",
        "color",
        BoundingBoxProperties([0, 0, 0], 0, 0, 0),
        "wkw",
        [MagViewProperties([1, 1, 1])],
        1,
        "uint8",
    )
    data = unstructure(DatasetProperties(DatasetId("d"), VoxelSize((1, 1, 1)), [layer]))
    assert data["dataLayers"][0]["mags"] == [{"mag": [1, 1, 1]}]
    assert "defaultViewConfiguration" not in data
    assert list(data["dataLayers"][0]) == [
        "name",
        "category",
        "boundingBox",
        "dataFormat",
        "mags",
        "numChannels",
        "elementClass",
    ]


# --- largestSegmentId encoding ----------------------------------------------------------------


def _segmentation(props: DatasetProperties) -> SegmentationLayerProperties:
    layer = props.data_layers[1]
    assert isinstance(layer, SegmentationLayerProperties)
    return layer


def _seg_doc(segment_id: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / "wk_example.json").read_text())
    doc["dataLayers"][1]["largestSegmentId"] = segment_id
    return doc


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (0, 0),
        (JS_MAX_SAFE_INTEGER, JS_MAX_SAFE_INTEGER),
        (JS_MAX_SAFE_INTEGER + 1, {"customJsonEncoding": "bigint", "value": str(2**53)}),
        (2**64 - 1, {"customJsonEncoding": "bigint", "value": "18446744073709551615"}),
    ],
)
def test_largest_segment_id_bigint_threshold(value: int, written: Any) -> None:
    props = structure(_seg_doc(value))
    assert _segmentation(props).largest_segment_id == value
    assert json.loads(dumps(props))["dataLayers"][1]["largestSegmentId"] == written


def test_bigint_envelope_for_small_value_reads_as_int_and_writes_plain() -> None:
    props = structure(_seg_doc({"customJsonEncoding": "bigint", "value": "17"}))
    assert _segmentation(props).largest_segment_id == 17
    assert json.loads(dumps(props))["dataLayers"][1]["largestSegmentId"] == 17


def test_null_largest_segment_id_is_none_and_omitted() -> None:
    props = structure(_seg_doc(None))
    assert _segmentation(props).largest_segment_id is None
    assert "largestSegmentId" not in json.loads(dumps(props))["dataLayers"][1]


# --- legacy forms -----------------------------------------------------------------------------


def _legacy_doc() -> dict[str, Any]:
    return {
        "id": {"name": "old", "team": "t"},
        "scale": [11.24, 11.24, 25],
        "dataLayers": [
            {
                "name": "color",
                "category": "color",
                "boundingBox": {"topLeft": [0, 0, 0], "width": 10, "height": 10, "depth": 10},
                "dataFormat": "wkw",
                "wkwResolutions": [
                    {"resolution": 1, "cubeLength": 1024},
                    {"resolution": [2, 2, 1], "cubeLength": 1024},
                    {"resolution": "4-4-2", "cubeLength": 512},
                ],
                "elementClass": "uint24",
            }
        ],
    }


def test_legacy_forms_load() -> None:
    props = structure(_legacy_doc())
    assert props.scale == VoxelSize((11.24, 11.24, 25.0), "nanometer")
    assert props.version == 1
    layer = props.data_layers[0]
    assert [(m.mag, m.cube_length) for m in layer.mags] == [
        ([1, 1, 1], 1024),
        ([2, 2, 1], 1024),
        ([4, 4, 2], 512),
    ]
    assert layer.num_channels == 3
    assert dtype_per_channel(layer.element_class, layer.num_channels) == np.dtype("uint8")
    assert layer.extra == {}


def test_legacy_forms_are_saved_in_current_form() -> None:
    data = json.loads(dumps(structure(_legacy_doc())))
    assert data["scale"] == {"factor": [11.24, 11.24, 25.0], "unit": "nanometer"}
    assert data["version"] == 1
    layer = data["dataLayers"][0]
    assert "wkwResolutions" not in layer
    assert layer["mags"][0] == {"mag": [1, 1, 1], "cubeLength": 1024}
    assert (layer["numChannels"], layer["elementClass"]) == (3, "uint24")
    # and the current form reads back to the same model
    assert structure(data) == structure(_legacy_doc())


def test_legacy_uint24_with_explicit_three_channels() -> None:
    doc = _legacy_doc()
    doc["dataLayers"][0]["numChannels"] = 3
    assert structure(doc).data_layers[0].num_channels == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, [1, 1, 1]),
        (4, [4, 4, 4]),
        ("2", [2, 2, 2]),
        ("2-2-1", [2, 2, 1]),
        ([8, 4, 1], [8, 4, 1]),
    ],
)
def test_mag_forms(raw: Any, expected: list[int]) -> None:
    doc: dict[str, Any] = json.loads((DATA / "wk_example.json").read_text())
    doc["dataLayers"][0]["mags"] = [{"mag": raw}]
    assert structure(doc).data_layers[0].mags[0].mag == expected


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("nm", "nanometer"),
        ("µm", "micrometer"),
        ("μm", "micrometer"),
        ("um", "micrometer"),
        ("Å", "angstrom"),
        ("mm", "millimeter"),
        ("Mm", "megameter"),
        ("Parsec", "parsec"),
        ("nanometer", "nanometer"),
    ],
)
def test_unit_aliases_normalised(alias: str, name: str) -> None:
    assert normalize_length_unit(alias) == name
    doc: dict[str, Any] = json.loads((DATA / "wk_example.json").read_text())
    doc["scale"]["unit"] = alias
    props = structure(doc)
    assert props.scale.unit == name
    assert json.loads(dumps(props))["scale"]["unit"] == name


def test_missing_unit_defaults_to_nanometer() -> None:
    doc: dict[str, Any] = json.loads((DATA / "wk_example.json").read_text())
    del doc["scale"]["unit"]
    assert structure(doc).scale.unit == "nanometer"


def test_voxel_size_model_rejects_bad_unit() -> None:
    with pytest.raises(InvalidPropertiesError, match="parsecs"):
        VoxelSize((1, 1, 1), "parsecs")


def test_numpy_scalars_in_models_serialize() -> None:
    props = loads((DATA / "wk_example.json").read_text())
    box = props.data_layers[0].bounding_box
    box.width = np.int64(7)
    box.top_left = list(np.array([1, 2, 3]))
    data = json.loads(dumps(props))
    assert data["dataLayers"][0]["boundingBox"]["width"] == 7
    assert data["dataLayers"][0]["boundingBox"]["topLeft"] == [1, 2, 3]


def test_converter_structures_single_models() -> None:
    assert converter.structure({"mag": "2-2-1", "x": 1}, MagViewProperties) == MagViewProperties(
        [2, 2, 1], extra={"x": 1}
    )
    with pytest.raises(InvalidPropertiesError) as info:
        converter.structure({"mag": 3}, MagViewProperties)
    assert info.value.json_path == "mag"


# --- dtypes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "channels", "element_class"),
    [
        ("uint8", 1, "uint8"),
        ("uint16", 1, "uint16"),
        ("uint32", 1, "uint32"),
        ("uint64", 1, "uint64"),
        ("int8", 1, "int8"),
        ("int64", 1, "int64"),
        ("float32", 1, "float"),
        ("float64", 1, "double"),
        ("uint8", 3, "uint24"),
        ("uint8", 2, "uint16"),
        ("uint16", 3, "uint48"),
        ("float32", 2, "double"),
        ("float64", 2, "float128"),
    ],
)
def test_element_class_for_and_back(dtype: str, channels: int, element_class: str) -> None:
    assert element_class_for(dtype, channels) == element_class
    assert element_class_for(np.dtype(dtype), channels) == element_class
    assert dtype_per_channel(element_class, channels) == np.dtype(dtype)


@pytest.mark.parametrize(
    ("element_class", "channels", "dtype"),
    [
        ("float", 1, "float32"),
        ("double", 1, "float64"),
        ("uint24", 3, "uint8"),
        ("uint8", 3, "uint8"),
    ],
)
def test_dtype_per_channel(element_class: str, channels: int, dtype: str) -> None:
    assert dtype_per_channel(element_class, channels) == np.dtype(dtype)


@pytest.mark.parametrize(
    ("element_class", "channels"),
    [("uint24", 1), ("uint24", 2), ("foo", 1), ("float16", 1), ("uint8", 0), ("uint", 1), ("", 1)],
)
def test_dtype_per_channel_rejects(element_class: str, channels: int) -> None:
    with pytest.raises(InvalidPropertiesError):
        dtype_per_channel(element_class, channels)


def test_element_class_for_rejects() -> None:
    with pytest.raises(DTypeError):
        element_class_for("float16", 1)
    with pytest.raises(DTypeError):
        element_class_for("bool", 1)
    with pytest.raises(DTypeError):
        element_class_for("not-a-dtype", 1)
    with pytest.raises(DataShapeError):
        element_class_for("uint8", 0)


def test_version_one_point_zero_is_accepted_and_written_as_int() -> None:
    doc: dict[str, Any] = json.loads((DATA / "wk_example.json").read_text())
    doc["version"] = 1.0
    assert '"version": 1\n' in dumps(structure(doc))
