"""The one cattrs converter between the models and JSON: validation with exact JSON paths, key order, extras."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import cattrs
import numpy as np

from webknossos_like._limits import MAX_PATH_BYTES
from webknossos_like.errors import InvalidPropertiesError
from webknossos_like.properties.dtypes import dtype_per_channel
from webknossos_like.properties.models import (
    COLOR_CATEGORY,
    SEGMENTATION_CATEGORY,
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    SegmentationLayerProperties,
    VoxelSize,
    normalize_length_unit,
)

__all__ = [
    "JS_MAX_SAFE_INTEGER",
    "converter",
    "dumps",
    "format_json_path",
    "loads",
    "structure",
    "unstructure",
]

T = TypeVar("T")
PathPart = str | int

JS_MAX_SAFE_INTEGER: Final = 2**53 - 1
#: Bounding-box coordinates and sizes are at most this in magnitude.
MAX_COORDINATE: Final = 2**53
#: WKW layers' boxes end at most here (WKW has uint32 voxel coordinates).
WKW_COORDINATE_LIMIT: Final = 2**32
"""Largest integer JavaScript represents exactly; bigger `largestSegmentId`s use the bigint envelope."""

# Known keys per object, in the order they are written. Everything else goes to `extra`.
_DATASET_KEYS: Final = ("id", "scale", "dataLayers", "version", "defaultViewConfiguration")
_ID_KEYS: Final = ("name", "team")
_SCALE_KEYS: Final = ("factor", "unit")
_BBOX_KEYS: Final = ("topLeft", "width", "height", "depth")
_MAG_KEYS: Final = ("mag", "path", "cubeLength", "axisOrder", "channelIndex")
_LEGACY_MAG_KEYS: Final = ("resolution", "mag", "path", "cubeLength", "axisOrder", "channelIndex")
_LAYER_KEYS: Final = (
    "name",
    "category",
    "boundingBox",
    "dataFormat",
    "mags",
    "wkwResolutions",  # legacy input, consumed (converted to `mags`)
    "defaultViewConfiguration",
    "coordinateTransformations",
    "additionalAxes",
    "numChannels",
    "elementClass",
)
_SEGMENTATION_KEYS: Final = (*_LAYER_KEYS, "largestSegmentId", "mappings", "attachments")
_BIGINT_KEY: Final = "customJsonEncoding"
_BIGINT_VALUE: Final = "bigint"
_DECIMAL: Final = re.compile(r"-?[0-9]{1,1000}", re.ASCII)
_MAG_STRING: Final = re.compile(r"[0-9]{1,30}(-[0-9]{1,30}-[0-9]{1,30})?", re.ASCII)
_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*", re.ASCII)


# ---------------------------------------------------------------------------------------------
# JSON paths and the internal error that carries them
# ---------------------------------------------------------------------------------------------


def format_json_path(parts: Sequence[PathPart]) -> str:
    """Render path parts as `dataLayers[1].elementClass` (odd keys as `["a b"]`)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


class _StructureError(InvalidPropertiesError):
    """Raised inside hooks; parents prepend their key/index so the final error has the full JSON path."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.parts: list[PathPart] = []
        super().__init__(message)

    def prepend(self, parts: Sequence[PathPart]) -> None:
        """Prefix the path with the location of the enclosing object."""
        self.parts[:0] = parts
        InvalidPropertiesError.__init__(
            self, self.message, json_path=format_json_path(self.parts) or None
        )


@contextmanager
def _at(*parts: PathPart) -> Iterator[None]:
    """Attribute any `_StructureError` raised inside the block to the JSON location `parts`."""
    try:
        yield
    except _StructureError as error:
        error.prepend(parts)
        raise


def _describe(value: object) -> str:
    """Short JSON-flavoured description of a value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"string {text!r}"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"{type(value).__name__}"


# ---------------------------------------------------------------------------------------------
# Value checkers (raise `_StructureError` without a path; callers wrap them in `_at`)
# ---------------------------------------------------------------------------------------------


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _StructureError(f"expected a JSON object, got {_describe(value)}")
    return value


def _array(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise _StructureError(f"expected a JSON array, got {_describe(value)}")
    return value


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _StructureError(f"expected a string, got {_describe(value)}")
    return value


def _path_string(value: object) -> str:
    """A string used as (part of) a file path: no NUL, encodable, no over-long path segment."""
    text = _string(value)
    if "\x00" in text:
        raise _StructureError("a path must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _StructureError("a path must be valid Unicode (no lone surrogates)") from None
    if any(len(part.encode("utf-8")) > 255 for part in text.split("/")):
        raise _StructureError("a path segment is longer than 255 bytes")
    if len(text.encode("utf-8")) > MAX_PATH_BYTES:
        raise _StructureError(
            f"a path is longer than {MAX_PATH_BYTES} bytes ({len(text.encode('utf-8'))} bytes)"
        )
    return text


def _int(value: object, minimum: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _StructureError(f"expected an integer, got {_describe(value)}")
    result = int(value)
    if minimum is not None and result < minimum:
        raise _StructureError(f"expected an integer >= {minimum}, got {result}")
    return result


def _non_negative_int(value: object) -> int:
    return _int(value, 0)


def _positive_int(value: object) -> int:
    return _int(value, 1)


def _string_list(value: object) -> list[str]:
    items = _array(value)
    for index, item in enumerate(items):
        with _at(index):
            _string(item)
    return items


def _required(data: dict[str, Any], key: str, check: Callable[[Any], T]) -> T:
    """Check `data[key]`, reporting a missing key or a bad value at `key`."""
    with _at(key):
        if key not in data:
            raise _StructureError(f"missing required key {key!r}")
        return check(data[key])


def _optional(data: dict[str, Any], key: str, check: Callable[[Any], T]) -> T | None:
    """Check `data[key]` if present and not null."""
    with _at(key):
        value = data.get(key)
        return None if value is None else check(value)


def _extra(data: dict[str, Any], known: Sequence[str]) -> dict[str, Any]:
    """Unknown keys, in their original order."""
    return {key: value for key, value in data.items() if key not in known}


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _mag(value: object) -> list[int]:
    """Parse `[x, y, z]`, `2` or `"2-2-1"` into three positive powers of two."""
    components: list[int]
    if isinstance(value, str):
        if not _MAG_STRING.fullmatch(value):
            raise _StructureError(f"a mag string must look like '2' or '2-2-1', got {value!r}")
        parts = [int(part) for part in value.split("-")]
        components = parts * 3 if len(parts) == 1 else parts
    elif isinstance(value, list):
        if len(value) != 3:
            raise _StructureError(f"a mag must have three components, got {len(value)}")
        components = []
        for index, item in enumerate(value):
            with _at(index):
                components.append(_int(item))
    else:
        components = [_int(value)] * 3
    for component in components:
        if not _is_power_of_two(component):
            raise _StructureError(
                f"mag components must be positive powers of two, got {components}"
            )
    return components


def _factor(value: object) -> tuple[float, float, float]:
    items = _array(value)
    if len(items) != 3:
        raise _StructureError(f"expected three numbers, got {len(items)}")
    numbers: list[float] = []
    for index, item in enumerate(items):
        with _at(index):
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise _StructureError(f"expected a number, got {_describe(item)}")
            try:
                number = float(item)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number) or number <= 0:
                raise _StructureError(f"a voxel size must be positive and finite, got {item!r}")
            numbers.append(number)
    return (numbers[0], numbers[1], numbers[2])


def _unit(value: object) -> str:
    try:
        return normalize_length_unit(value)
    except InvalidPropertiesError as error:
        raise _StructureError(str(error)) from None


def _axis_order(value: object) -> dict[str, int]:
    order = _object(value)
    for key, item in order.items():
        with _at(key):
            _non_negative_int(item)
    return {key: int(item) for key, item in order.items()}


def _segment_id(value: object) -> int:
    """A plain integer or the bigint envelope `{"customJsonEncoding": "bigint", "value": "<decimal>"}`."""
    if isinstance(value, dict):
        with _at(_BIGINT_KEY):
            if value.get(_BIGINT_KEY) != _BIGINT_VALUE:
                raise _StructureError(
                    f"expected an integer or {{{_BIGINT_KEY!r}: {_BIGINT_VALUE!r}, 'value': '<decimal>'}}"
                )
        for key in value:
            if key not in (_BIGINT_KEY, "value"):
                with _at(key):
                    raise _StructureError("unexpected key in a bigint envelope")
        with _at("value"):
            text = value.get("value")
            if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
                raise _StructureError(f"expected a decimal string, got {_describe(text)}")
            return int(text)
    return _int(value)


def _version(value: object) -> int:
    # 1.0 is accepted like webknossos does (`version in SUPPORTED_VERSIONS`) and written as 1.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != 1:
        raise _StructureError(
            f"unsupported dataset version {_describe(value)}; only 1 is supported"
        )
    return 1


# ---------------------------------------------------------------------------------------------
# Structure hooks (JSON -> models)
# ---------------------------------------------------------------------------------------------


def _structure_dataset_id(value: Any, _: Any) -> DatasetId:
    data = _object(value)
    name = _required(data, "name", _string)
    team = _optional(data, "team", _string)
    return DatasetId(name, "" if team is None else team, extra=_extra(data, _ID_KEYS))


def _structure_voxel_size(value: Any, _: Any) -> VoxelSize:
    data = _object(value)
    factor = _required(data, "factor", _factor)
    unit = _optional(data, "unit", _unit)
    return VoxelSize(factor, unit or "nanometer", extra=_extra(data, _SCALE_KEYS))


def _structure_bounding_box(value: Any, _: Any) -> BoundingBoxProperties:
    data = _object(value)

    def top_left(raw: object) -> list[int]:
        items = _array(raw)
        if len(items) != 3:
            raise _StructureError(f"expected three integers, got {len(items)}")
        result = []
        for index, item in enumerate(items):
            with _at(index):
                result.append(_coordinate(item))
        return result

    return BoundingBoxProperties(
        top_left=_required(data, "topLeft", top_left),
        width=_required(data, "width", _extent),
        height=_required(data, "height", _extent),
        depth=_required(data, "depth", _extent),
        extra=_extra(data, _BBOX_KEYS),
    )


def _coordinate(value: object) -> int:
    """A box coordinate: an integer of at most 2^53 in magnitude (exact in JSON/JavaScript; sums
    and mag products of such values stay far inside int64)."""
    result = _int(value)
    if abs(result) > MAX_COORDINATE:
        raise _StructureError(f"expected an integer of magnitude <= 2^53, got {result}")
    return result


def _extent(value: object) -> int:
    """A box size: a non-negative integer of at most 2^53."""
    result = _int(value, 0)
    if result > MAX_COORDINATE:
        raise _StructureError(f"expected an integer <= 2^53, got {result}")
    return result


def _check_wkw_box(box: BoundingBoxProperties) -> None:
    """WKW addresses voxels with uint32 coordinates: a WKW layer's box ends at most at 2^32 and
    starts no lower than -2^32 (negative voxels read as 0, as before; nothing lies beyond)."""
    sizes = (box.width, box.height, box.depth)
    for axis, (low, size) in enumerate(zip(box.top_left, sizes, strict=True)):
        if low < -WKW_COORDINATE_LIMIT or low + size > WKW_COORDINATE_LIMIT:
            raise _StructureError(
                f"a WKW layer's box must lie within -2^32..2^32 (WKW has uint32 coordinates), "
                f"got {'xyz'[axis]} from {low} to {low + size}"
            )


def _structure_mag_entry(value: Any, mag_key: str) -> MagViewProperties:
    """One `mags` entry (`mag_key="mag"`) or legacy `wkwResolutions` entry (`"resolution"`)."""
    data = _object(value)
    return MagViewProperties(
        mag=_required(data, mag_key, _mag),
        path=_optional(data, "path", _path_string),
        cube_length=_optional(data, "cubeLength", _positive_int),
        axis_order=_optional(data, "axisOrder", _axis_order),
        channel_index=_optional(data, "channelIndex", _non_negative_int),
        extra=_extra(data, _MAG_KEYS if mag_key == "mag" else _LEGACY_MAG_KEYS),
    )


def _structure_mag_view(value: Any, _: Any) -> MagViewProperties:
    return _structure_mag_entry(value, "mag")


def _structure_mags(data: dict[str, Any]) -> list[MagViewProperties]:
    """`mags`, or the legacy `wkwResolutions` converted to mags; duplicate mags are an error."""
    key, mag_key = ("mags", "mag")
    if data.get("mags") is None and data.get("wkwResolutions") is not None:
        key, mag_key = ("wkwResolutions", "resolution")
    entries = _required(data, key, _array)
    mags: list[MagViewProperties] = []
    seen: set[tuple[int, ...]] = set()
    for index, entry in enumerate(entries):
        with _at(key, index):
            mag = _structure_mag_entry(entry, mag_key)
            if tuple(mag.mag) in seen:
                with _at(mag_key):
                    raise _StructureError(f"duplicate mag {mag.mag}")
            seen.add(tuple(mag.mag))
            mags.append(mag)
    return mags


def _category(value: object) -> str:
    if value not in (COLOR_CATEGORY, SEGMENTATION_CATEGORY):
        raise _StructureError(
            f"a layer category must be 'color' or 'segmentation', got {_describe(value)}"
        )
    return str(value)


def _structure_layer_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments shared by color and segmentation layers (category already checked)."""
    name = _required(data, "name", _path_string)
    bounding_box = _required(
        data, "boundingBox", lambda v: converter.structure(v, BoundingBoxProperties)
    )
    data_format = _required(data, "dataFormat", _string)
    if data_format == "wkw":
        with _at("boundingBox"):
            _check_wkw_box(bounding_box)
    mags = _structure_mags(data)
    num_channels = _optional(data, "numChannels", _positive_int)
    element_class = _required(data, "elementClass", _string)
    if num_channels is None:
        num_channels = 3 if element_class == "uint24" else 1
    with _at("elementClass"):
        try:
            dtype_per_channel(element_class, num_channels)
        except InvalidPropertiesError as error:
            raise _StructureError(str(error)) from None
    return {
        "name": name,
        "bounding_box": bounding_box,
        "data_format": data_format,
        "mags": mags,
        "num_channels": num_channels,
        "element_class": element_class,
        "default_view_configuration": _optional(data, "defaultViewConfiguration", _object),
        "coordinate_transformations": _optional(data, "coordinateTransformations", _array),
        "additional_axes": _optional(data, "additionalAxes", _array),
    }


def _structure_color_layer(data: dict[str, Any]) -> LayerProperties:
    return LayerProperties(
        category=COLOR_CATEGORY,
        **_structure_layer_fields(data),
        extra=_extra(data, _LAYER_KEYS),
    )


def _structure_segmentation_layer_data(data: dict[str, Any]) -> SegmentationLayerProperties:
    return SegmentationLayerProperties(
        category=SEGMENTATION_CATEGORY,
        **_structure_layer_fields(data),
        largest_segment_id=_optional(data, "largestSegmentId", _segment_id),
        mappings=_optional(data, "mappings", _string_list),
        attachments=_optional(data, "attachments", _object),
        extra=_extra(data, _SEGMENTATION_KEYS),
    )


def _structure_any_layer(value: Any, _: Any) -> LayerProperties:
    """Dispatch on `category`: the two classes share all keys, so cattrs cannot tell them apart."""
    data = _object(value)
    category = _required(data, "category", _category)
    if category == SEGMENTATION_CATEGORY:
        return _structure_segmentation_layer_data(data)
    return _structure_color_layer(data)


def _structure_segmentation_layer(value: Any, _: Any) -> SegmentationLayerProperties:
    data = _object(value)
    category = _required(data, "category", _category)
    if category != SEGMENTATION_CATEGORY:
        with _at("category"):
            raise _StructureError(f"expected a segmentation layer, got category {category!r}")
    return _structure_segmentation_layer_data(data)


def _structure_dataset(value: Any, _: Any) -> DatasetProperties:
    data = _object(value)
    dataset_id = _required(data, "id", lambda v: converter.structure(v, DatasetId))
    scale = _required(data, "scale", _structure_scale)
    layers_raw = _required(data, "dataLayers", _array)
    layers: list[LayerProperties | SegmentationLayerProperties] = []
    names: set[str] = set()
    for index, raw in enumerate(layers_raw):
        with _at("dataLayers", index):
            layer = converter.structure(raw, LayerProperties)
            if layer.name in names:
                with _at("name"):
                    raise _StructureError(f"duplicate layer name {layer.name!r}")
            names.add(layer.name)
            layers.append(layer)
    version = _optional(data, "version", _version)
    return DatasetProperties(
        id=dataset_id,
        scale=scale,
        data_layers=layers,
        version=1 if version is None else version,
        default_view_configuration=_optional(data, "defaultViewConfiguration", _object),
        extra=_extra(data, _DATASET_KEYS),
    )


def _structure_scale(value: object) -> VoxelSize:
    """`scale` object, or the legacy bare `[x, y, z]` list in nanometers."""
    if isinstance(value, list):
        return VoxelSize(_factor(value), "nanometer")
    return converter.structure(value, VoxelSize)


# ---------------------------------------------------------------------------------------------
# Unstructure hooks (models -> JSON-ready dicts, known keys in webknossos' order, then extras)
# ---------------------------------------------------------------------------------------------


def _plain(value: object) -> object:
    """numpy scalars -> Python numbers, so values computed with numpy still serialize."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _plain_list(value: object) -> object:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    return value


def _with_extra(out: dict[str, Any], extra: object, known: Sequence[str]) -> dict[str, Any]:
    """Append `extra` after the known keys; refuse keys that would shadow (or be parsed as) known ones."""
    with _at("extra"):
        if not isinstance(extra, dict):
            raise _StructureError(f"extra must be a dict, got {type(extra).__name__}")
        for key, value in extra.items():
            if not isinstance(key, str):
                raise _StructureError(f"extra keys must be strings, got {key!r}")
            if key in known or key in out:
                raise _StructureError(f"extra key {key!r} collides with a known key")
            out[key] = value
    return out


def _unstructure_dataset_id(obj: DatasetId) -> dict[str, Any]:
    return _with_extra({"name": obj.name, "team": obj.team}, obj.extra, _ID_KEYS)


def _unstructure_voxel_size(obj: VoxelSize) -> dict[str, Any]:
    factor = [
        float(item) if isinstance(item, (int, float)) and not isinstance(item, bool) else item
        for item in obj.factor
    ]
    return _with_extra({"factor": factor, "unit": obj.unit}, obj.extra, _SCALE_KEYS)


def _unstructure_bounding_box(obj: BoundingBoxProperties) -> dict[str, Any]:
    out = {
        "topLeft": _plain_list(obj.top_left),
        "width": _plain(obj.width),
        "height": _plain(obj.height),
        "depth": _plain(obj.depth),
    }
    return _with_extra(out, obj.extra, _BBOX_KEYS)


def _unstructure_mag_view(obj: MagViewProperties) -> dict[str, Any]:
    out: dict[str, Any] = {"mag": _plain_list(obj.mag)}
    if obj.path is not None:
        out["path"] = obj.path
    if obj.cube_length is not None:
        out["cubeLength"] = _plain(obj.cube_length)
    if obj.axis_order is not None:
        out["axisOrder"] = (
            {key: _plain(value) for key, value in obj.axis_order.items()}
            if isinstance(obj.axis_order, dict)
            else obj.axis_order
        )
    if obj.channel_index is not None:
        out["channelIndex"] = _plain(obj.channel_index)
    return _with_extra(out, obj.extra, _MAG_KEYS)


def _unstructure_layer(obj: LayerProperties) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": obj.name,
        "category": obj.category,
    }
    with _at("boundingBox"):
        out["boundingBox"] = converter.unstructure(obj.bounding_box)
    out["dataFormat"] = obj.data_format
    with _at("mags"):
        if isinstance(obj.mags, (list, tuple)):
            mags: list[Any] = []
            for index, mag in enumerate(obj.mags):
                with _at(index):
                    mags.append(converter.unstructure(mag))
            out["mags"] = mags
        else:
            out["mags"] = obj.mags
    # Optional keys where webknossos 4.3.3 writes them: view config, transforms, segmentation
    # keys, then additionalAxes (moved out of its ND bounding box after the attrs fields).
    if obj.default_view_configuration is not None:
        out["defaultViewConfiguration"] = obj.default_view_configuration
    if obj.coordinate_transformations is not None:
        out["coordinateTransformations"] = obj.coordinate_transformations
    known: Sequence[str] = _LAYER_KEYS
    if isinstance(obj, SegmentationLayerProperties):
        known = _SEGMENTATION_KEYS
        segment_id = _plain(obj.largest_segment_id)
        if isinstance(segment_id, int) and not isinstance(segment_id, bool):
            if segment_id > JS_MAX_SAFE_INTEGER:
                out["largestSegmentId"] = {_BIGINT_KEY: _BIGINT_VALUE, "value": str(segment_id)}
            else:
                out["largestSegmentId"] = segment_id
        elif segment_id is not None:
            out["largestSegmentId"] = segment_id
        if obj.mappings is not None:
            out["mappings"] = obj.mappings
        if obj.attachments is not None:
            out["attachments"] = obj.attachments
    if obj.additional_axes is not None:
        out["additionalAxes"] = obj.additional_axes
    out["numChannels"] = _plain(obj.num_channels)
    out["elementClass"] = obj.element_class
    return _with_extra(out, obj.extra, known)


def _unstructure_dataset(obj: DatasetProperties) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with _at("id"):
        out["id"] = converter.unstructure(obj.id)
    with _at("scale"):
        out["scale"] = converter.unstructure(obj.scale)
    if isinstance(obj.data_layers, (list, tuple)):
        layers: list[Any] = []
        for index, layer in enumerate(obj.data_layers):
            with _at("dataLayers", index):
                layers.append(converter.unstructure(layer))
        out["dataLayers"] = layers
    else:
        out["dataLayers"] = obj.data_layers
    out["version"] = _plain(obj.version)
    if obj.default_view_configuration is not None:
        out["defaultViewConfiguration"] = obj.default_view_configuration
    return _with_extra(out, obj.extra, _DATASET_KEYS)


# ---------------------------------------------------------------------------------------------
# The converter: all hooks registered here, in one place
# ---------------------------------------------------------------------------------------------

converter: Final = cattrs.Converter()
"""The single converter for properties models; `structure`/`unstructure` below add paths and checks."""

converter.register_structure_hook(DatasetProperties, _structure_dataset)
converter.register_structure_hook(DatasetId, _structure_dataset_id)
converter.register_structure_hook(VoxelSize, _structure_voxel_size)
converter.register_structure_hook(LayerProperties, _structure_any_layer)
converter.register_structure_hook(
    LayerProperties | SegmentationLayerProperties, _structure_any_layer
)
converter.register_structure_hook(SegmentationLayerProperties, _structure_segmentation_layer)
converter.register_structure_hook(BoundingBoxProperties, _structure_bounding_box)
converter.register_structure_hook(MagViewProperties, _structure_mag_view)

converter.register_unstructure_hook(DatasetProperties, _unstructure_dataset)
converter.register_unstructure_hook(DatasetId, _unstructure_dataset_id)
converter.register_unstructure_hook(VoxelSize, _unstructure_voxel_size)
converter.register_unstructure_hook(LayerProperties, _unstructure_layer)
converter.register_unstructure_hook(SegmentationLayerProperties, _unstructure_layer)
converter.register_unstructure_hook(BoundingBoxProperties, _unstructure_bounding_box)
converter.register_unstructure_hook(MagViewProperties, _unstructure_mag_view)


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def _public_error(error: _StructureError, path: object) -> InvalidPropertiesError:
    """Turn the internal error into the public one, naming the file."""
    return InvalidPropertiesError(
        error.message, path=path, json_path=format_json_path(error.parts) or None
    )


def structure(data: Any, path: object = None) -> DatasetProperties:
    """Build `DatasetProperties` from parsed JSON; any problem raises `InvalidPropertiesError` naming `path` and the JSON path.

    The result shares opaque values (extras, view configurations, ...) with `data`.
    """
    try:
        return converter.structure(data, DatasetProperties)
    except _StructureError as error:
        raise _public_error(error, path) from None
    except RecursionError:
        raise InvalidPropertiesError("JSON nested too deeply", path=path) from None


def unstructure(props: DatasetProperties) -> dict[str, Any]:
    """Return the JSON-ready dict (known keys in webknossos' order, then extras).

    The result is validated by structuring it again, so nothing is produced that `loads` would
    reject; it shares opaque values with `props`.
    """
    if not isinstance(props, DatasetProperties):
        raise InvalidPropertiesError(f"expected DatasetProperties, got {type(props).__name__}")
    try:
        data: dict[str, Any] = converter.unstructure(props, DatasetProperties)
    except _StructureError as error:
        raise _public_error(error, None) from None
    structure(data)
    return data


def loads(text: str | bytes, path: object = None) -> DatasetProperties:
    """Parse the text of a `datasource-properties.json`; malformed input raises `InvalidPropertiesError` naming `path`."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, huge ints, bad UTF-8, nesting
        raise InvalidPropertiesError(f"invalid JSON: {error}", path=path) from error
    return structure(data, path)


def dumps(props: DatasetProperties) -> str:
    """Serialize like webknossos 4.3.3 (`json.dumps(..., indent=4)`, same key order, no trailing newline)."""
    data = unstructure(props)
    try:
        return json.dumps(data, indent=4)
    except (TypeError, ValueError, RecursionError) as error:
        raise InvalidPropertiesError(f"properties are not JSON-serializable: {error}") from None
