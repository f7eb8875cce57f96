"""`defaultViewConfiguration` of a dataset and of a layer: how webknossos shows them first.

Stored as camelCase JSON with unset (None) fields omitted, as the webknossos package writes it
(its per-layer entries inside the dataset's configuration come out snake_case there; we read both
spellings and write camelCase); unknown keys are kept in `extra` and written back.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import InvalidPropertiesError

__all__ = ["DatasetViewConfiguration", "LayerViewConfiguration"]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, LayerViewConfiguration):
        return value.to_json()
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _fields_to_json(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in attrs.fields(type(obj)):
        if field.name == "extra":
            continue
        value = getattr(obj, field.name)
        if value is not None:
            out[_camel(field.name)] = _to_json(value)
    out.update(obj.extra)
    return out


def _split(data: Any, cls: type, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(known fields by snake_case name, unknown keys)` of a JSON object."""
    if not isinstance(data, dict):
        raise InvalidPropertiesError(f"{where} must be an object, got {data!r}")
    fields = [f.name for f in attrs.fields(cls) if f.name != "extra"]
    # webknossos 4.3.3 writes the per-layer entries of a dataset's configuration in snake_case.
    names = {**{name: name for name in fields}, **{_camel(name): name for name in fields}}
    known = {names[k]: v for k, v in data.items() if k in names}
    extra = {k: v for k, v in data.items() if k not in names}
    return known, extra


def _int_tuple(value: Any) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(v) for v in value)


def _float_tuple(value: Any) -> tuple[float, ...] | None:
    return None if value is None else tuple(float(v) for v in value)


@attrs.define
class LayerViewConfiguration:
    """A layer's display defaults (color, opacity, contrast range, visibility...)."""

    color: tuple[int, ...] | None = attrs.field(default=None, converter=_int_tuple)
    alpha: float | None = None
    intensity_range: tuple[float, ...] | None = attrs.field(default=None, converter=_float_tuple)
    min: float | None = None
    max: float | None = None
    is_disabled: bool | None = None
    is_inverted: bool | None = None
    is_in_edit_mode: bool | None = None
    mapping: dict[str, str] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        """The camelCase JSON object, unset fields omitted."""
        return _fields_to_json(self)

    @classmethod
    def from_json(cls, data: Any) -> LayerViewConfiguration:
        """Parse a layer's `defaultViewConfiguration` object."""
        known, extra = _split(data, cls, "defaultViewConfiguration")
        return cls(**known, extra=extra)


@attrs.define
class DatasetViewConfiguration:
    """The dataset's display defaults (zoom, position, interpolation, per-layer settings...)."""

    four_bit: bool | None = None
    interpolation: bool | None = None
    render_missing_data_black: bool | None = None
    loading_strategy: str | None = None
    segmentation_pattern_opacity: int | None = None
    zoom: float | None = None
    position: tuple[int, ...] | None = attrs.field(default=None, converter=_int_tuple)
    rotation: tuple[int, ...] | None = attrs.field(default=None, converter=_int_tuple)
    layers: dict[str, LayerViewConfiguration] | None = None
    color_layer_order: list[str] | None = None
    blend_mode: str | None = None
    natively_rendered_layer_name: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        """The camelCase JSON object, unset fields omitted."""
        return _fields_to_json(self)

    @classmethod
    def from_json(cls, data: Any) -> DatasetViewConfiguration:
        """Parse the dataset's `defaultViewConfiguration` object."""
        known, extra = _split(data, cls, "defaultViewConfiguration")
        layers = known.get("layers")
        if isinstance(layers, dict):
            known["layers"] = {
                name: LayerViewConfiguration.from_json(value) for name, value in layers.items()
            }
        return cls(**known, extra=extra)
