"""An axis-aligned, half-open 3D integer box (topleft inclusive, bottomright exclusive)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import numpy as np

from webknossos_like.errors import AlignmentError, GeometryError
from webknossos_like.geometry.mag import Mag, MagLike
from webknossos_like.geometry.vec3_int import Vec3Int, Vec3IntLike, _coerce

__all__ = ["BoundingBox"]

_PROPERTY_KEYS = ("topLeft", "width", "height", "depth")


def _to_vec3_int(value: Vec3IntLike) -> Vec3Int:
    """Convert a field value to Vec3Int (the attrs converter for topleft and size)."""
    return _coerce(value)


def _grid(value: MagLike, what: str) -> Vec3Int:
    """Return a mag or grid spacing as a strictly positive Vec3Int, else raise GeometryError."""
    if isinstance(value, Mag):
        return value.as_vec3_int
    if isinstance(value, str):
        return Mag(value).as_vec3_int
    vec = _coerce(value)
    if not vec.is_positive(strictly_positive=True):
        raise GeometryError(f"{what} must be strictly positive on every axis, got {value!r}")
    return vec


def _is_json_int(value: object) -> bool:
    """Return whether `value` is an int (not a bool), as JSON integers are parsed."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_multiple(vec: Vec3Int, grid: Vec3Int) -> bool:
    """Return whether every component of `vec` is a multiple of the one in `grid`."""
    return vec.x % grid.x == 0 and vec.y % grid.y == 0 and vec.z % grid.z == 0


@attrs.frozen(repr=False)
class BoundingBox:
    """A box from `topleft` (inclusive) spanning `size` voxels; size may be 0 but never negative."""

    topleft: Vec3Int = attrs.field(converter=_to_vec3_int)
    size: Vec3Int = attrs.field(converter=_to_vec3_int)

    def __attrs_post_init__(self) -> None:
        """Reject negative sizes instead of silently flipping the box."""
        if not self.size.is_positive():
            raise GeometryError(
                f"BoundingBox size must be non-negative on every axis, got {self.size.to_tuple()} "
                f"(topleft {self.topleft.to_tuple()})"
            )

    @property
    def bottomright(self) -> Vec3Int:
        """Return the exclusive end corner, topleft + size."""
        return self.topleft + self.size

    def _repr_html_(self) -> str:
        """A table for Jupyter (`webknossos_like.notebook.bbox_html`)."""
        from webknossos_like.notebook.html import bbox_html

        return bbox_html(self)

    def __repr__(self) -> str:
        """Return e.g. "BoundingBox(topleft=(0, 0, 0), size=(10, 10, 10))"."""
        return f"BoundingBox(topleft={self.topleft.to_tuple()}, size={self.size.to_tuple()})"

    # --- alternative constructors and serialisation -------------------------------------------

    @classmethod
    def from_tuple6(cls, values: Iterable[int]) -> BoundingBox:
        """Build from (x, y, z, width, height, depth), the flat form used in configs and CLIs."""
        items = list(values)
        if len(items) != 6:
            raise GeometryError(
                f"BoundingBox.from_tuple6 needs six ints (x, y, z, w, h, d), got {values!r}"
            )
        return cls(Vec3Int(items[:3]), Vec3Int(items[3:]))

    def to_tuple6(self) -> tuple[int, int, int, int, int, int]:
        """Return (x, y, z, width, height, depth)."""
        return (*self.topleft.to_tuple(), *self.size.to_tuple())

    @classmethod
    def from_points(cls, points: Iterable[Vec3IntLike]) -> BoundingBox:
        """Return the smallest box containing all points (inclusive), so size = max - min + 1."""
        iterator = iter(points)
        try:
            first = _coerce(next(iterator))
        except StopIteration:
            raise GeometryError("BoundingBox.from_points needs at least one point") from None
        low = high = first
        for point in iterator:
            vec = _coerce(point)
            low = low.pairmin(vec)
            high = high.pairmax(vec)
        return cls(low, high - low + 1)

    @classmethod
    def empty(cls) -> BoundingBox:
        """Return the box at the origin with size 0, the identity of `extended_by`."""
        return cls(Vec3Int.zeros(), Vec3Int.zeros())

    @classmethod
    def from_properties_dict(cls, data: Mapping[str, Any]) -> BoundingBox:
        """Parse the datasource-properties JSON form {"topLeft", "width", "height", "depth"}.

        Other keys are ignored; missing or ill-typed keys raise GeometryError.
        """
        if not isinstance(data, Mapping):
            raise GeometryError(f"A bounding box must be a JSON object, got {data!r}")
        missing = [key for key in _PROPERTY_KEYS if key not in data]
        if missing:
            raise GeometryError(f"Bounding box is missing key(s) {missing}: {dict(data)!r}")
        top_left = data["topLeft"]
        if (
            not isinstance(top_left, (list, tuple))
            or len(top_left) != 3
            or not all(_is_json_int(value) for value in top_left)
        ):
            raise GeometryError(
                f"Bounding box 'topLeft' must be a list of three ints, got {top_left!r}"
            )
        extent = []
        for key in ("width", "height", "depth"):
            value = data[key]
            if not _is_json_int(value):
                raise GeometryError(f"Bounding box {key!r} must be an int, got {value!r}")
            extent.append(int(value))
        return cls(Vec3Int(top_left), Vec3Int(extent))

    def to_properties_dict(self) -> dict[str, Any]:
        """Return the JSON form {"topLeft": [x, y, z], "width": w, "height": h, "depth": d}."""
        return {
            "topLeft": self.topleft.to_list(),
            "width": self.size.x,
            "height": self.size.y,
            "depth": self.size.z,
        }

    # --- measures and predicates --------------------------------------------------------------

    def is_empty(self) -> bool:
        """Return whether the box holds no voxel (some size component is 0)."""
        return self.size.x == 0 or self.size.y == 0 or self.size.z == 0

    def volume(self) -> int:
        """Return the number of voxels as an unbounded Python int."""
        return self.size.prod()

    def contains(self, point: Vec3IntLike) -> bool:
        """Return whether topleft <= point < bottomright on every axis."""
        p = _coerce(point)
        tl, br = self.topleft, self.bottomright
        return tl.x <= p.x < br.x and tl.y <= p.y < br.y and tl.z <= p.z < br.z

    def contains_bbox(self, other: BoundingBox) -> bool:
        """Return whether `other` lies inside this box, defined as other.intersected_with(self) == other.

        For an empty `other` this means its topleft lies within [topleft, bottomright] and its
        non-zero extents fit inside this box.
        """
        return other.intersected_with(self) == other

    def is_aligned(self, grid: MagLike) -> bool:
        """Return whether topleft and bottomright are multiples of `grid` (a mag or chunk shape)."""
        g = _grid(grid, "Alignment grid")
        return _is_multiple(self.topleft, g) and _is_multiple(self.bottomright, g)

    # --- combining boxes ----------------------------------------------------------------------

    def intersected_with(self, other: BoundingBox) -> BoundingBox:
        """Return the overlap; disjoint boxes give an empty box at the max of the toplefts."""
        topleft = self.topleft.pairmax(other.topleft)
        bottomright = self.bottomright.pairmin(other.bottomright)
        return BoundingBox(topleft, (bottomright - topleft).pairmax(0))

    def extended_by(self, other: BoundingBox) -> BoundingBox:
        """Return the smallest box containing both; an empty box is ignored (if both are, `other` is returned)."""
        if self.is_empty():
            return other
        if other.is_empty():
            return self
        topleft = self.topleft.pairmin(other.topleft)
        bottomright = self.bottomright.pairmax(other.bottomright)
        return BoundingBox(topleft, bottomright - topleft)

    # --- derived boxes ------------------------------------------------------------------------

    def padded_with_margins(
        self, margins_left: Vec3IntLike, margins_right: Vec3IntLike | None = None
    ) -> BoundingBox:
        """Grow the box by `margins_left` before topleft and `margins_right` (default: left) after the end."""
        left = _coerce(margins_left)
        right = left if margins_right is None else _coerce(margins_right)
        return BoundingBox(self.topleft - left, self.size + left + right)

    def offset(self, vector: Vec3IntLike) -> BoundingBox:
        """Return the box shifted by `vector`, same size."""
        return BoundingBox(self.topleft + _coerce(vector), self.size)

    def with_topleft(self, topleft: Vec3IntLike) -> BoundingBox:
        """Return a box with a new topleft and the same size."""
        return BoundingBox(topleft, self.size)

    def with_size(self, size: Vec3IntLike) -> BoundingBox:
        """Return a box with the same topleft and a new size."""
        return BoundingBox(self.topleft, size)

    def with_bottomright(self, bottomright: Vec3IntLike) -> BoundingBox:
        """Return a box with the same topleft ending at `bottomright` (exclusive)."""
        return BoundingBox(self.topleft, _coerce(bottomright) - self.topleft)

    def to_slices(self) -> tuple[slice, slice, slice]:
        """Return (x, y, z) slices from topleft to bottomright, for indexing arrays."""
        tl, br = self.topleft, self.bottomright
        return (slice(tl.x, br.x), slice(tl.y, br.y), slice(tl.z, br.z))

    # --- mags and alignment -------------------------------------------------------------------

    def align_with_mag(self, mag: MagLike, ceil: bool = False) -> BoundingBox:
        """Snap to multiples of `mag`: topleft floored, bottomright ceiled (if `ceil`) or floored.

        Any strictly positive vector is accepted as the grid, not only power-of-two mags.
        """
        m = _grid(mag, "Mag")
        topleft = (self.topleft // m) * m
        bottomright = self.bottomright.ceildiv(m) * m if ceil else (self.bottomright // m) * m
        return BoundingBox(topleft, bottomright - topleft)

    def in_mag(self, mag: MagLike) -> BoundingBox:
        """Convert mag-1 coordinates into coordinates of `mag`; the box must be aligned with it."""
        m = Mag(mag)
        vec = m.as_vec3_int
        if not (_is_multiple(self.topleft, vec) and _is_multiple(self.bottomright, vec)):
            raise AlignmentError(
                f"{self!r} is not aligned with {m!r}: topleft and bottomright must be multiples "
                f"of {vec.to_tuple()} (align_with_mag() snaps a box to the mag)"
            )
        return BoundingBox(self.topleft // vec, self.size // vec)

    def from_mag_to_mag1(self, mag: MagLike) -> BoundingBox:
        """Convert coordinates of `mag` back into mag-1 coordinates (inverse of in_mag)."""
        vec = Mag(mag).as_vec3_int
        return BoundingBox(self.topleft * vec, self.size * vec)

    def chunk(
        self,
        chunk_shape: Vec3IntLike,
        chunk_border_alignments: MagLike | None = None,
    ) -> Iterator[BoundingBox]:
        """Tile the box exactly, without overlap, into chunks (z outermost, x innermost).

        Without alignments chunks start at topleft and step by `chunk_shape`. With
        `chunk_border_alignments`, chunk borders lie on multiples of it (the grid starts at
        floor(topleft / alignment) * alignment) and the chunks are clipped to this box. Arguments
        are validated eagerly, before the first chunk is requested.
        """
        shape = _coerce(chunk_shape)
        if not shape.is_positive(strictly_positive=True):
            raise GeometryError(
                f"chunk_shape must be strictly positive on every axis, got {chunk_shape!r}"
            )
        if chunk_border_alignments is None:
            start = self.topleft
        else:
            alignment = _grid(chunk_border_alignments, "chunk_border_alignments")
            if not _is_multiple(shape, alignment):
                raise AlignmentError(
                    f"chunk_shape {shape.to_tuple()} must be a multiple of "
                    f"chunk_border_alignments {alignment.to_tuple()}"
                )
            start = (self.topleft // alignment) * alignment
        return self._chunks(start, shape)

    def _chunks(self, start: Vec3Int, shape: Vec3Int) -> Iterator[BoundingBox]:
        """Yield the grid cells starting at `start` with step `shape`, clipped to this box."""
        if self.is_empty():
            return
        end = self.bottomright
        for z in range(start.z, end.z, shape.z):
            for y in range(start.y, end.y, shape.y):
                for x in range(start.x, end.x, shape.x):
                    yield BoundingBox(Vec3Int._of(x, y, z), shape).intersected_with(self)
