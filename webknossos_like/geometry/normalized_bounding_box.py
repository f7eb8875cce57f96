"""`NormalizedBoundingBox`: an N-D box that carries the channel axis `c` (webknossos' layer box form).

A layer's box in webknossos 4.x is held as axes `c, x, y, z` (plus any extra axes such as `t`),
and written to `datasource-properties.json` in the "wkw dict" form: `topLeft`, `width`, `height`,
`depth`, `numChannels`, optional `channelIndex`, `axisOrder` and `additionalAxes`. Against a 3-D
`BoundingBox` it compares and combines on x, y, z only.
"""

from __future__ import annotations

from typing import Any

from webknossos_like.errors import GeometryError
from webknossos_like.geometry.bounding_box import BoundingBox
from webknossos_like.geometry.nd_bounding_box import NDBoundingBox
from webknossos_like.geometry.vec_int import VecInt

__all__ = ["NormalizedBoundingBox"]

CXYZ = ("c", "x", "y", "z")
_DEFAULT_ORDER = {"c": 0, "x": 1, "y": 2, "z": 3}
_DEFAULT_ORDER_WITHOUT_C = {"x": 1, "y": 2, "z": 3}


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GeometryError(f"{where} must be an integer, got {value!r}")
    return value


class NormalizedBoundingBox(NDBoundingBox):
    """An `NDBoundingBox` whose axes include the channel axis (`BoundingBox.normalize_axes`)."""

    __slots__ = ()

    def denormalize(self) -> NDBoundingBox | BoundingBox:  # type: ignore[override]
        """The 3-D `BoundingBox` for axes c, x, y, z; else the same box as a plain NDBoundingBox."""
        if self.axes == CXYZ:
            return BoundingBox(self.topleft_xyz, self.size_xyz)
        return NDBoundingBox(self.topleft, self.size, self.axes, self.index)

    def _spatial(self, other: object) -> BoundingBox | None:
        """This box as a 3-D box when `other` is one and the axes are c, x, y, z."""
        if isinstance(other, BoundingBox) and self.axes == CXYZ:
            return BoundingBox(self.topleft_xyz, self.size_xyz)
        return None

    def __eq__(self, other: object) -> bool:
        """Against a `BoundingBox`, compare x, y, z (False if this box has other axes)."""
        if isinstance(other, BoundingBox):
            mine = self._spatial(other)
            return mine is not None and mine == other
        return super().__eq__(other)

    def __hash__(self) -> int:
        return super().__hash__()

    def intersected_with(
        self, other: BoundingBox | NDBoundingBox, dont_assert: bool = False
    ) -> NormalizedBoundingBox:
        """The overlap; with a `BoundingBox` on x, y, z, keeping this box's channels."""
        mine = self._spatial(other)
        if mine is not None:
            assert isinstance(other, BoundingBox)
            return _with_channels(mine.intersected_with(other), self)
        return _as_normalized(super().intersected_with(other, dont_assert))

    def extended_by(self, other: BoundingBox | NDBoundingBox) -> NormalizedBoundingBox:
        """The smallest box holding both; with a `BoundingBox` on x, y, z, keeping channels."""
        mine = self._spatial(other)
        if mine is not None:
            assert isinstance(other, BoundingBox)
            return _with_channels(mine.extended_by(other), self)
        return _as_normalized(super().extended_by(other))

    def contains_bbox(self, inner_bbox: BoundingBox | NDBoundingBox) -> bool:
        """Whether `inner_bbox` lies inside; a `BoundingBox` is checked on x, y, z."""
        mine = self._spatial(inner_bbox)
        if mine is not None:
            assert isinstance(inner_bbox, BoundingBox)
            return mine.contains_bbox(inner_bbox)
        return super().contains_bbox(inner_bbox)

    @classmethod
    def from_wkw_dict(cls, bbox: dict[str, Any]) -> NormalizedBoundingBox:
        """The box of a layer's `boundingBox` JSON (with channels and any extra axes)."""
        try:
            topleft = [_int(v, "topLeft") for v in bbox["topLeft"]]
            sizes = [_int(bbox[key], key) for key in ("width", "height", "depth")]
        except (KeyError, TypeError) as exc:
            raise GeometryError(f"Not a bounding box dict: {bbox!r} ({exc})") from None
        if len(topleft) != 3:
            raise GeometryError(f"topLeft needs three values, got {bbox['topLeft']!r}")
        channels = _int(bbox.get("numChannels", 1), "numChannels")
        first_channel = _int(bbox.get("channelIndex", 0), "channelIndex")
        extra = list(bbox.get("additionalAxes") or [])
        order = bbox.get("axisOrder")
        if extra and order is None:
            raise GeometryError("A bounding box with additionalAxes needs an axisOrder.")
        # name -> (start, size, position)
        axes: dict[str, tuple[int, int, int]] = {"c": (first_channel, channels, 0)}
        for position, (name, start, size) in enumerate(zip("xyz", topleft, sizes, strict=True)):
            axes[name] = (start, size, position + 1)
        for axis in extra:
            low, high = (_int(v, f"bounds of axis {axis.get('name')!r}") for v in axis["bounds"])
            axes[str(axis["name"])] = (low, high - low, _int(axis["index"], "index"))
        if not order or order == _DEFAULT_ORDER_WITHOUT_C:  # c, x, y, z implied
            order = _DEFAULT_ORDER
        order = dict(order)
        for name, position in order.items():
            if name not in axes:
                raise GeometryError(f"axisOrder names an unknown axis {name!r}")
            start, size, _ = axes[name]
            axes[name] = (start, size, _int(position, f"axisOrder[{name!r}]"))
        kept = [name for name in axes if name in order or any(a["name"] == name for a in extra)]
        kept.sort(key=lambda name: axes[name][2])
        return cls(
            VecInt([axes[n][0] for n in kept], axes=kept),
            VecInt([axes[n][1] for n in kept], axes=kept),
            kept,
            VecInt([axes[n][2] for n in kept], axes=kept),
        )

    def to_wkw_dict(self) -> dict[str, Any]:
        """The `boundingBox` JSON of this box (inverse of `from_wkw_dict`)."""
        out: dict[str, Any] = {
            "topLeft": self.topleft_xyz.to_list(),
            "width": self.size_xyz.x,
            "height": self.size_xyz.y,
            "depth": self.size_xyz.z,
        }
        extra = [
            {
                "name": name,
                "bounds": [self.topleft[i], self.bottomright[i]],
                "index": self.index[i],
            }
            for i, name in enumerate(self.axes)
            if name not in _DEFAULT_ORDER
        ]
        if extra:
            out["additionalAxes"] = extra
        order = {name: self.index[i] for i, name in enumerate(self.axes) if name in _DEFAULT_ORDER}
        if order:
            out["axisOrder"] = order
        if "c" in self.axes:
            channel = self.axes.index("c")
            if self.topleft[channel] != 0:
                out["channelIndex"] = self.topleft[channel]
            out["numChannels"] = self.size[channel]
        return out


def _with_channels(box: BoundingBox, like: NDBoundingBox) -> NormalizedBoundingBox:
    """`box` (x, y, z) with the channel range of `like` (axes c, x, y, z)."""
    return NormalizedBoundingBox(
        (like.topleft[0], *box.topleft), (like.size[0], *box.size), CXYZ, like.index
    )


def _as_normalized(box: NDBoundingBox) -> NormalizedBoundingBox:
    if isinstance(box, NormalizedBoundingBox):
        return box
    return NormalizedBoundingBox(box.topleft, box.size, box.axes, box.index)


def normalize_axes(box: BoundingBox | NDBoundingBox, num_channels: int) -> NormalizedBoundingBox:
    """`box` with the channel axis: `c` first (0, num_channels) for a 3-D box, resized if
    present, and for an N-D box without `c` only `num_channels == 1` is allowed."""
    if isinstance(box, BoundingBox):
        return NormalizedBoundingBox(
            (0, *box.topleft), (num_channels, *box.size), CXYZ, (0, 1, 2, 3)
        )
    if "c" in box.axes:
        size = box.size.with_replaced("c", num_channels)
    elif num_channels != 1:
        raise GeometryError(
            f"A box without a channel axis ({box.axes}) cannot hold {num_channels} channels."
        )
    else:
        size = box.size
    return NormalizedBoundingBox(box.topleft, size, box.axes, box.index)
