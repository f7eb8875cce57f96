"""Malformed properties raise InvalidPropertiesError naming the file and the exact JSON path."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from webknossos_like.errors import InvalidPropertiesError
from webknossos_like.properties import (
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    SegmentationLayerProperties,
    VoxelSize,
    dumps,
    loads,
)

EXAMPLE_TEXT = (Path(__file__).parent / "data" / "wk_example.json").read_text()
FILE = "/data/my_dataset/datasource-properties.json"


def _doc() -> dict[str, Any]:
    return copy.deepcopy(json.loads(EXAMPLE_TEXT))


def _expect_error(text: str, json_path: str | None) -> InvalidPropertiesError:
    with pytest.raises(InvalidPropertiesError) as info:
        loads(text, path=FILE)
    error = info.value
    assert type(error) is InvalidPropertiesError
    assert isinstance(error, ValueError)
    message = str(error)
    assert message.startswith(FILE)
    assert error.json_path == json_path
    if json_path is not None:
        assert f"{FILE} at {json_path}: " in message
    return error


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        EXAMPLE_TEXT[: len(EXAMPLE_TEXT) // 2],
        EXAMPLE_TEXT[:-1],
        "{'id': 1}",
        "[1, 2,]",
        "1" * 5000,
    ],
    ids=[
        "empty",
        "brace",
        "truncated-half",
        "truncated-last",
        "single-quotes",
        "trailing-comma",
        "huge-int",
    ],
)
def test_invalid_json_text(text: str) -> None:
    error = _expect_error(text, None)
    assert "invalid JSON" in str(error)


@pytest.mark.parametrize("text", ["[]", "1", "null", '"x"'])
def test_top_level_not_an_object(text: str) -> None:
    assert "expected a JSON object" in str(_expect_error(text, None))


def _set(path: list[str | int], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _delete(path: list[str | int]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return mutate


def _clear(doc: dict[str, Any]) -> None:
    doc.clear()


L1: list[str | int] = ["dataLayers", 1]

CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (id, mutation, expected json path, expected message fragment)
    ("empty-object", _clear, "id", "missing required key 'id'"),
    ("missing-id", _delete(["id"]), "id", "missing required key"),
    ("missing-scale", _delete(["scale"]), "scale", "missing required key"),
    ("missing-dataLayers", _delete(["dataLayers"]), "dataLayers", "missing required key"),
    ("missing-name", _delete([*L1, "name"]), "dataLayers[1].name", "missing required key"),
    ("missing-category", _delete([*L1, "category"]), "dataLayers[1].category", "missing"),
    ("missing-bbox", _delete([*L1, "boundingBox"]), "dataLayers[1].boundingBox", "missing"),
    ("missing-dataFormat", _delete([*L1, "dataFormat"]), "dataLayers[1].dataFormat", "missing"),
    (
        "missing-elementClass",
        _delete([*L1, "elementClass"]),
        "dataLayers[1].elementClass",
        "missing",
    ),
    ("missing-mags", _delete([*L1, "mags"]), "dataLayers[1].mags", "missing"),
    ("missing-id-name", _delete(["id", "name"]), "id.name", "missing"),
    ("missing-factor", _delete(["scale", "factor"]), "scale.factor", "missing"),
    (
        "missing-width",
        _delete([*L1, "boundingBox", "width"]),
        "dataLayers[1].boundingBox.width",
        "missing",
    ),
    ("missing-mag", _delete([*L1, "mags", 1, "mag"]), "dataLayers[1].mags[1].mag", "missing"),
    ("id-not-object", _set(["id"], "x"), "id", "expected a JSON object"),
    ("id-name-int", _set(["id", "name"], 5), "id.name", "expected a string"),
    ("scale-string", _set(["scale"], "11nm"), "scale", "expected a JSON object"),
    ("factor-short", _set(["scale", "factor"], [1, 1]), "scale.factor", "three numbers"),
    (
        "factor-bool",
        _set(["scale", "factor"], [1, True, 1]),
        "scale.factor[1]",
        "expected a number",
    ),
    ("factor-zero", _set(["scale", "factor"], [1, 0, 1]), "scale.factor[1]", "positive"),
    ("legacy-scale-str", _set(["scale"], [1, "x", 1]), "scale[1]", "expected a number"),
    ("bad-unit", _set(["scale", "unit"], "parsecs"), "scale.unit", "unknown length unit"),
    ("unit-int", _set(["scale", "unit"], 3), "scale.unit", "unknown length unit"),
    ("dataLayers-object", _set(["dataLayers"], {}), "dataLayers", "expected a JSON array"),
    ("layer-not-object", _set(L1, []), "dataLayers[1]", "expected a JSON object"),
    (
        "category-foo",
        _set([*L1, "category"], "foo"),
        "dataLayers[1].category",
        "'color' or 'segmentation'",
    ),
    ("name-null", _set([*L1, "name"], None), "dataLayers[1].name", "expected a string"),
    (
        "dataFormat-int",
        _set([*L1, "dataFormat"], 1),
        "dataLayers[1].dataFormat",
        "expected a string",
    ),
    (
        "elementClass-foo",
        _set([*L1, "elementClass"], "foo"),
        "dataLayers[1].elementClass",
        "unknown elementClass",
    ),
    (
        "elementClass-int",
        _set([*L1, "elementClass"], 8),
        "dataLayers[1].elementClass",
        "expected a string",
    ),
    (
        "uint24-2ch",
        lambda doc: doc["dataLayers"][1].update(elementClass="uint24", numChannels=2),
        "dataLayers[1].elementClass",
        "needs numChannels 3",
    ),
    (
        "uint24-1ch",
        _set([*L1, "elementClass"], "uint24"),
        "dataLayers[1].elementClass",
        "does not fit",
    ),
    (
        "numChannels-str",
        _set([*L1, "numChannels"], "1"),
        "dataLayers[1].numChannels",
        "expected an integer",
    ),
    ("numChannels-0", _set([*L1, "numChannels"], 0), "dataLayers[1].numChannels", ">= 1"),
    (
        "width-negative",
        _set([*L1, "boundingBox", "width"], -1),
        "dataLayers[1].boundingBox.width",
        ">= 0",
    ),
    (
        "depth-float",
        _set([*L1, "boundingBox", "depth"], 6.5),
        "dataLayers[1].boundingBox.depth",
        "integer",
    ),
    (
        "topLeft-short",
        _set([*L1, "boundingBox", "topLeft"], [0, 0]),
        "dataLayers[1].boundingBox.topLeft",
        "three",
    ),
    (
        "topLeft-str",
        _set([*L1, "boundingBox", "topLeft"], [0, "a", 0]),
        "dataLayers[1].boundingBox.topLeft[1]",
        "integer",
    ),
    ("mags-object", _set([*L1, "mags"], {}), "dataLayers[1].mags", "expected a JSON array"),
    (
        "mag-3",
        _set([*L1, "mags", 0, "mag"], [3, 3, 3]),
        "dataLayers[1].mags[0].mag",
        "powers of two",
    ),
    ("mag-0", _set([*L1, "mags", 0, "mag"], 0), "dataLayers[1].mags[0].mag", "powers of two"),
    (
        "mag-negative",
        _set([*L1, "mags", 0, "mag"], [-2, 2, 2]),
        "dataLayers[1].mags[0].mag",
        "powers of two",
    ),
    ("mag-str", _set([*L1, "mags", 0, "mag"], "2x2x1"), "dataLayers[1].mags[0].mag", "2-2-1"),
    ("mag-str-3", _set([*L1, "mags", 0, "mag"], "3"), "dataLayers[1].mags[0].mag", "powers of two"),
    (
        "mag-2d",
        _set([*L1, "mags", 0, "mag"], [1, 1]),
        "dataLayers[1].mags[0].mag",
        "three components",
    ),
    (
        "mag-float",
        _set([*L1, "mags", 0, "mag"], [1, 1.5, 1]),
        "dataLayers[1].mags[0].mag[1]",
        "integer",
    ),
    ("mag-bool", _set([*L1, "mags", 0, "mag"], True), "dataLayers[1].mags[0].mag", "integer"),
    (
        "mag-duplicate",
        _set([*L1, "mags", 1, "mag"], [1, 1, 1]),
        "dataLayers[1].mags[1].mag",
        "duplicate mag",
    ),
    (
        "path-int",
        _set([*L1, "mags", 0, "path"], 1),
        "dataLayers[1].mags[0].path",
        "expected a string",
    ),
    (
        "cubeLength-0",
        _set([*L1, "mags", 0, "cubeLength"], 0),
        "dataLayers[1].mags[0].cubeLength",
        ">= 1",
    ),
    (
        "axisOrder-neg",
        _set([*L1, "mags", 0, "axisOrder", "x"], -1),
        "dataLayers[1].mags[0].axisOrder.x",
        ">= 0",
    ),
    (
        "axisOrder-list",
        _set([*L1, "mags", 0, "axisOrder"], [0, 1]),
        "dataLayers[1].mags[0].axisOrder",
        "object",
    ),
    (
        "channelIndex-str",
        _set([*L1, "mags", 0, "channelIndex"], "0"),
        "dataLayers[1].mags[0].channelIndex",
        "integer",
    ),
    (
        "lsi-float",
        _set([*L1, "largestSegmentId"], 3.5),
        "dataLayers[1].largestSegmentId",
        "expected an integer",
    ),
    (
        "lsi-str",
        _set([*L1, "largestSegmentId"], "x"),
        "dataLayers[1].largestSegmentId",
        "expected an integer",
    ),
    (
        "lsi-bool",
        _set([*L1, "largestSegmentId"], True),
        "dataLayers[1].largestSegmentId",
        "expected an integer",
    ),
    (
        "lsi-envelope-value",
        _set([*L1, "largestSegmentId"], {"customJsonEncoding": "bigint", "value": "12a"}),
        "dataLayers[1].largestSegmentId.value",
        "decimal string",
    ),
    (
        "lsi-envelope-kind",
        _set([*L1, "largestSegmentId"], {"customJsonEncoding": "float", "value": "1"}),
        "dataLayers[1].largestSegmentId.customJsonEncoding",
        "bigint",
    ),
    (
        "lsi-envelope-extra-key",
        _set([*L1, "largestSegmentId"], {"customJsonEncoding": "bigint", "value": "1", "x": 1}),
        "dataLayers[1].largestSegmentId.x",
        "unexpected key",
    ),
    (
        "mappings-int",
        _set([*L1, "mappings"], [1]),
        "dataLayers[1].mappings[0]",
        "expected a string",
    ),
    ("attachments-list", _set([*L1, "attachments"], []), "dataLayers[1].attachments", "object"),
    (
        "layer-dvc-list",
        _set([*L1, "defaultViewConfiguration"], []),
        "dataLayers[1].defaultViewConfiguration",
        "object",
    ),
    (
        "transforms-obj",
        _set([*L1, "coordinateTransformations"], {}),
        "dataLayers[1].coordinateTransformations",
        "array",
    ),
    (
        "additionalAxes-str",
        _set([*L1, "additionalAxes"], "t"),
        "dataLayers[1].additionalAxes",
        "array",
    ),
    ("dvc-list", _set(["defaultViewConfiguration"], []), "defaultViewConfiguration", "object"),
    ("version-2", _set(["version"], 2), "version", "unsupported dataset version"),
    ("version-str", _set(["version"], "1"), "version", "unsupported dataset version"),
    ("version-bool", _set(["version"], True), "version", "unsupported dataset version"),
    ("duplicate-layer", _set([*L1, "name"], "color"), "dataLayers[1].name", "duplicate layer name"),
    (
        "legacy-resolution",
        lambda doc: doc["dataLayers"][1].update(
            {"wkwResolutions": [{"resolution": 3, "cubeLength": 32}]}, mags=None
        ),
        "dataLayers[1].wkwResolutions[0].resolution",
        "powers of two",
    ),
    (
        "odd-key-path",
        _set([*L1, "mags", 0, "axisOrder", "a b"], -1),
        'dataLayers[1].mags[0].axisOrder["a b"]',
        ">= 0",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "json_path", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_document(
    mutate: Callable[[dict[str, Any]], None], json_path: str, fragment: str
) -> None:
    doc = _doc()
    mutate(doc)
    error = _expect_error(json.dumps(doc), json_path)
    assert fragment in str(error)
    assert error.path == FILE


def test_error_without_file_name_still_has_json_path() -> None:
    doc = _doc()
    doc["dataLayers"][0]["elementClass"] = "uint7"
    with pytest.raises(InvalidPropertiesError) as info:
        loads(json.dumps(doc))
    assert str(info.value).startswith("dataLayers[0].elementClass: ")


def test_error_is_not_chained_to_cattrs_or_key_errors() -> None:
    doc = _doc()
    del doc["dataLayers"][0]["boundingBox"]
    with pytest.raises(InvalidPropertiesError) as info:
        loads(json.dumps(doc), path=FILE)
    assert info.value.__cause__ is None
    assert not isinstance(info.value, (KeyError, TypeError))


# --- dumps refuses models that would write an unreadable file ---------------------------------


def _layer(**changes: Any) -> LayerProperties:
    layer = LayerProperties(
        "c",
        "color",
        BoundingBoxProperties([0, 0, 0], 1, 1, 1),
        "wkw",
        [MagViewProperties([1, 1, 1])],
        1,
        "uint8",
    )
    for key, value in changes.items():
        setattr(layer, key, value)
    return layer


@pytest.mark.parametrize(
    ("layer", "json_path"),
    [
        (_layer(mags=[MagViewProperties([3, 3, 3])]), "dataLayers[0].mags[0].mag"),
        (_layer(element_class="uint12"), "dataLayers[0].elementClass"),
        (_layer(num_channels=0), "dataLayers[0].numChannels"),
        (_layer(extra={"name": "shadow"}), "dataLayers[0].extra"),
        (_layer(extra={"wkwResolutions": []}), "dataLayers[0].extra"),
        (
            _layer(bounding_box=BoundingBoxProperties([0, 0, 0], -1, 1, 1)),
            "dataLayers[0].boundingBox.width",
        ),
    ],
)
def test_dumps_rejects_invalid_models(layer: LayerProperties, json_path: str) -> None:
    props = DatasetProperties(DatasetId("d"), VoxelSize((1, 1, 1)), [layer])
    with pytest.raises(InvalidPropertiesError) as info:
        dumps(props)
    assert info.value.json_path == json_path


def test_dumps_rejects_non_json_extra() -> None:
    props = DatasetProperties(DatasetId("d"), VoxelSize((1, 1, 1)), [], extra={"x": object()})
    with pytest.raises(InvalidPropertiesError, match="JSON-serializable"):
        dumps(props)


def test_model_category_must_match_class() -> None:
    with pytest.raises(InvalidPropertiesError):
        _layer(category="segmentation")
    with pytest.raises(InvalidPropertiesError):
        SegmentationLayerProperties(
            "s", "color", BoundingBoxProperties([0, 0, 0], 1, 1, 1), "wkw", [], 1, "uint32"
        )
