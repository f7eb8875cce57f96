"""Property-based tests: random valid properties round-trip; random damage only raises InvalidPropertiesError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webknossos_like.errors import InvalidPropertiesError
from webknossos_like.properties import (
    KNOWN_DATA_FORMATS,
    LENGTH_UNITS,
    SUPPORTED_DTYPES,
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    SegmentationLayerProperties,
    VoxelSize,
    dumps,
    element_class_for,
    loads,
)

EXAMPLE_TEXT = (Path(__file__).parent / "data" / "wk_example.json").read_text()
RICH_TEXT = (Path(__file__).parent / "data" / "rich_example.json").read_text()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
# Unknown keys: prefixed so they never collide with a known key.
# Layer names and mag paths become file paths: any Unicode but NUL and lone surrogates.
PATH_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")

extras = st.dictionaries(st.text(max_size=6).map(lambda s: "x-" + s), json_values, max_size=3)
opt_object = st.none() | st.dictionaries(st.text(max_size=5), json_values, max_size=3)
opt_array = st.none() | st.lists(json_values, max_size=3)
powers = st.sampled_from([1, 2, 4, 8, 16, 32, 64, 1024])
small_int = st.integers(min_value=0, max_value=10**7)


@st.composite
def mag_views(draw: st.DrawFn, mag: list[int]) -> MagViewProperties:
    return MagViewProperties(
        mag=mag,
        path=draw(st.none() | st.text(PATH_CHARS, max_size=10)),
        cube_length=draw(st.none() | st.integers(min_value=1, max_value=4096)),
        axis_order=draw(st.none() | st.dictionaries(st.text(max_size=3), small_int, max_size=5)),
        channel_index=draw(st.none() | small_int),
        extra=draw(extras),
    )


@st.composite
def layers(draw: st.DrawFn, name: str) -> LayerProperties:
    mags = draw(st.lists(st.lists(powers, min_size=3, max_size=3), max_size=4, unique_by=tuple))
    num_channels = draw(st.integers(min_value=1, max_value=4))
    common: dict[str, Any] = {
        "name": name,
        "bounding_box": BoundingBoxProperties(
            top_left=draw(st.lists(st.integers(-(10**6), 10**6), min_size=3, max_size=3)),
            width=draw(small_int),
            height=draw(small_int),
            depth=draw(small_int),
            extra=draw(extras),
        ),
        "data_format": draw(st.sampled_from(KNOWN_DATA_FORMATS) | st.text(max_size=8)),
        "mags": [draw(mag_views(mag)) for mag in mags],
        "num_channels": num_channels,
        "element_class": element_class_for(draw(st.sampled_from(SUPPORTED_DTYPES)), num_channels),
        "default_view_configuration": draw(opt_object),
        "coordinate_transformations": draw(opt_array),
        "additional_axes": draw(opt_array),
        "extra": draw(extras),
    }
    if draw(st.booleans()):
        return SegmentationLayerProperties(
            category="segmentation",
            largest_segment_id=draw(st.none() | st.integers(min_value=0, max_value=2**64 - 1)),
            mappings=draw(st.none() | st.lists(st.text(max_size=8), max_size=3)),
            attachments=draw(opt_object),
            **common,
        )
    return LayerProperties(category="color", **common)


@st.composite
def dataset_properties(draw: st.DrawFn) -> DatasetProperties:
    names = draw(st.lists(st.text(PATH_CHARS, min_size=1, max_size=8), max_size=4, unique=True))
    positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
    return DatasetProperties(
        id=DatasetId(draw(st.text(max_size=10)), draw(st.text(max_size=5)), extra=draw(extras)),
        scale=VoxelSize(
            (draw(positive), draw(positive), draw(positive)),
            draw(st.sampled_from(LENGTH_UNITS)),
            extra=draw(extras),
        ),
        data_layers=[draw(layers(name)) for name in names],
        default_view_configuration=draw(opt_object),
        extra=draw(extras),
    )


@SETTINGS
@given(dataset_properties())
def test_random_properties_round_trip(props: DatasetProperties) -> None:
    text = dumps(props)
    again = loads(text, path="random.json")
    assert again == props
    assert dumps(again) == text
    assert text == json.dumps(json.loads(text), indent=4)


def _check_loads(text: str) -> None:
    """Loading either works (and then round-trips) or raises exactly InvalidPropertiesError."""
    try:
        props = loads(text, path="fuzz.json")
    except InvalidPropertiesError as error:
        assert type(error) is InvalidPropertiesError
        assert str(error).startswith("fuzz.json")
        return
    assert loads(dumps(props)) == props


_CHARS = st.sampled_from([*'{}[],:"0123456789-.eE+ tfnaluxyz\\/', "\n", "é", "\x00"])


@st.composite
def damaged_texts(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([EXAMPLE_TEXT, RICH_TEXT]))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        action = draw(st.sampled_from(["truncate", "delete", "insert", "replace"]))
        if action == "truncate":
            text = text[:position]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 40)) :]
        elif action == "insert":
            text = text[:position] + draw(st.text(_CHARS, min_size=1, max_size=5)) + text[position:]
        else:
            text = text[:position] + draw(_CHARS) + text[position + 1 :]
    return text


@SETTINGS
@given(damaged_texts())
def test_damaged_text_only_raises_invalid_properties(text: str) -> None:
    _check_loads(text)


def _locations(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path inside a JSON value."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return found
    for key, item in items:
        found.append((*prefix, key))
        found.extend(_locations(item, (*prefix, key)))
    return found


@SETTINGS
@given(st.data())
def test_structural_damage_only_raises_invalid_properties(data: st.DataObject) -> None:
    doc = json.loads(data.draw(st.sampled_from([EXAMPLE_TEXT, RICH_TEXT])))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        locations = _locations(doc)
        if not locations:
            break
        location = data.draw(st.sampled_from(locations))
        parent: Any = doc
        for part in location[:-1]:
            parent = parent[part]
        if data.draw(st.booleans()):
            del parent[location[-1]]
        else:
            parent[location[-1]] = data.draw(json_values)
    _check_loads(json.dumps(doc))
