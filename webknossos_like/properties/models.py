"""Mutable attrs models mirroring `datasource-properties.json` (snake_case here, camelCase on disk)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, Final, Literal, TypeAlias

import attrs

from webknossos_like.errors import InvalidPropertiesError

__all__ = [
    "COLOR_CATEGORY",
    "KNOWN_DATA_FORMATS",
    "LENGTH_UNITS",
    "LengthUnit",
    "LENGTH_UNIT_TO_NANOMETER",
    "SEGMENTATION_CATEGORY",
    "AnyLayerProperties",
    "BoundingBoxProperties",
    "DatasetId",
    "DatasetProperties",
    "LayerCategory",
    "LayerProperties",
    "MagViewProperties",
    "SegmentationLayerProperties",
    "VoxelSize",
    "normalize_length_unit",
]

LayerCategory: TypeAlias = Literal["color", "segmentation"]
COLOR_CATEGORY: Final = "color"
SEGMENTATION_CATEGORY: Final = "segmentation"

KNOWN_DATA_FORMATS: Final = ("wkw", "neuroglancerPrecomputed", "zarr", "zarr3", "n5")
"""`dataFormat` values webknossos knows; the properties layer accepts any string."""

# Length units as webknossos' `LengthUnit` enum names them, with their size in nanometers.
LENGTH_UNIT_TO_NANOMETER: Final[dict[str, float]] = {
    "yoctometer": 1e-15,
    "zeptometer": 1e-12,
    "attometer": 1e-9,
    "femtometer": 1e-6,
    "picometer": 1e-3,
    "nanometer": 1.0,
    "micrometer": 1e3,
    "millimeter": 1e6,
    "centimeter": 1e7,
    "decimeter": 1e8,
    "meter": 1e9,
    "hectometer": 1e11,
    "kilometer": 1e12,
    "megameter": 1e15,
    "gigameter": 1e18,
    "terameter": 1e21,
    "petameter": 1e24,
    "exameter": 1e27,
    "zettameter": 1e30,
    "yottameter": 1e33,
    "angstrom": 0.1,
    "inch": 25400000.0,
    "foot": 304800000.0,
    "yard": 914400000.0,
    "mile": 1609344000000.0,
    "parsec": 3.085677581e25,
}
LENGTH_UNITS: Final = tuple(LENGTH_UNIT_TO_NANOMETER)
#: webknossos' `LengthUnit` enum (`LengthUnit.NANOMETER == "nanometer"`); plain strings work too.
LengthUnit = enum.Enum(  # type: ignore[misc]
    "LengthUnit", {name.upper(): name for name in LENGTH_UNITS}, type=str, module=__name__
)

# Case-sensitive short forms ("Mm" is megameter, "mm" millimeter), as webknossos' parser accepts them.
_UNIT_ALIASES: Final[dict[str, str]] = {
    "ym": "yoctometer",
    "zm": "zeptometer",
    "am": "attometer",
    "fm": "femtometer",
    "pm": "picometer",
    "nm": "nanometer",
    "µm": "micrometer",
    "μm": "micrometer",
    "um": "micrometer",
    "micron": "micrometer",
    "mm": "millimeter",
    "cm": "centimeter",
    "dm": "decimeter",
    "m": "meter",
    "hm": "hectometer",
    "km": "kilometer",
    "Mm": "megameter",
    "Gm": "gigameter",
    "Tm": "terameter",
    "Pm": "petameter",
    "Em": "exameter",
    "Zm": "zettameter",
    "Ym": "yottameter",
    "Å": "angstrom",
    "in": "inch",
    "ft": "foot",
    "yd": "yard",
    "mi": "mile",
    "pc": "parsec",
}


def normalize_length_unit(unit: object) -> str:
    """Return the long webknossos name of a length unit ("nm" -> "nanometer"), so files always carry one spelling."""
    value = getattr(unit, "value", None)  # a LengthUnit member (ours or webknossos')
    if isinstance(value, str):
        unit = value
    if isinstance(unit, str):
        if unit in _UNIT_ALIASES:
            return _UNIT_ALIASES[unit]
        if unit.lower() in LENGTH_UNIT_TO_NANOMETER:
            return unit.lower()
    raise InvalidPropertiesError(
        f"unknown length unit {unit!r}; expected one of {', '.join(LENGTH_UNITS)} "
        "or a short form such as 'nm', 'um', 'µm', 'Å'"
    )


def _to_factor(value: Iterable[float]) -> tuple[float, float, float]:
    """Coerce a voxel size to a 3-tuple of floats (ints like 25 become 25.0, as webknossos writes them)."""
    try:
        items = tuple(float(v) for v in value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidPropertiesError(
            f"voxel size factor must be three numbers, got {value!r}"
        ) from None
    if len(items) != 3:
        raise InvalidPropertiesError(f"voxel size factor must be three numbers, got {value!r}")
    return (items[0], items[1], items[2])


@attrs.define
class DatasetId:
    """The legacy `id` object (`name`, `team`); webknossos derives both from the path, but the key is required."""

    name: str
    team: str = ""
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True)


@attrs.define
class VoxelSize:
    """`scale`: physical size of one mag-1 voxel, always written as `{"factor": [x, y, z], "unit": ...}`."""

    factor: tuple[float, float, float] = attrs.field(converter=_to_factor)
    unit: str = attrs.field(default="nanometer", converter=normalize_length_unit)
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True)

    def to_nanometer(self) -> tuple[float, float, float]:
        """The voxel size in nanometers, for comparing sizes given in different units."""
        scale = LENGTH_UNIT_TO_NANOMETER[self.unit]
        return (self.factor[0] * scale, self.factor[1] * scale, self.factor[2] * scale)


@attrs.define
class BoundingBoxProperties:
    """A layer's `boundingBox` in mag-1 voxels; `axisOrder`/`channelIndex` and other keys stay in `extra`."""

    top_left: list[int]
    width: int
    height: int
    depth: int
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True)


@attrs.define
class MagViewProperties:
    """One entry of a layer's `mags`: the mag as three power-of-two ints plus where and how it is stored."""

    mag: list[int]
    path: str | None = None
    cube_length: int | None = None
    axis_order: dict[str, int] | None = None
    channel_index: int | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True)


def _check_category(instance: LayerProperties, attribute: Any, value: object) -> None:
    """Keep `category` consistent with the class, so the converter's dispatch and the JSON agree."""
    expected = (
        SEGMENTATION_CATEGORY
        if isinstance(instance, SegmentationLayerProperties)
        else COLOR_CATEGORY
    )
    if value != expected:
        raise InvalidPropertiesError(
            f"{type(instance).__name__} must have category {expected!r}, got {value!r}"
        )


@attrs.define
class LayerProperties:
    """One entry of `dataLayers` (a color layer); opaque sub-objects are kept as plain JSON values."""

    name: str
    category: LayerCategory = attrs.field(validator=_check_category)
    bounding_box: BoundingBoxProperties
    data_format: str
    mags: list[MagViewProperties]
    num_channels: int
    element_class: str
    default_view_configuration: dict[str, Any] | None = None
    coordinate_transformations: list[Any] | None = None
    additional_axes: list[Any] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True)


@attrs.define
class SegmentationLayerProperties(LayerProperties):
    """A segmentation layer: a color layer plus `largestSegmentId`, `mappings` and `attachments`."""

    largest_segment_id: int | None = None
    mappings: list[str] | None = None
    attachments: dict[str, Any] | None = None


AnyLayerProperties: TypeAlias = LayerProperties | SegmentationLayerProperties


@attrs.define
class DatasetProperties:
    """The whole `datasource-properties.json` document."""

    id: DatasetId
    scale: VoxelSize
    data_layers: list[LayerProperties | SegmentationLayerProperties]
    version: int = 1
    default_view_configuration: dict[str, Any] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True)

    def get_layer(self, name: str) -> LayerProperties | None:
        """Return the layer called `name`, or None (the object model turns None into its own error)."""
        for layer in self.data_layers:
            if layer.name == name:
                return layer
        return None
