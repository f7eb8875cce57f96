"""An axis-aligned, half-open 3D integer box (topleft inclusive, bottomright exclusive)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import product
from typing import Any, ClassVar, cast

import attrs
import numpy as np

from webknossos_like.errors import AlignmentError, GeometryError
from webknossos_like.geometry.mag import Mag, MagLike
from webknossos_like.geometry.vec3_int import Vec3Int, Vec3IntLike, _coerce

__all__ = ["BoundingBox"]

_PROPERTY_KEYS = ("topLeft", "width", "height", "depth")
_XYZ = ("x", "y", "z")


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

    def contains(self, point: Vec3IntLike | Iterable[float]) -> bool:
        """Return whether topleft <= point < bottomright on every axis.

        As in webknossos: a numpy array of shape (3,) is compared as is (float coordinates
        work exactly, e.g. 9.5 lies inside [0, 10)); any other sequence of three numbers is
        first truncated towards zero with int(), so (-0.5, 0, 0) counts as (0, 0, 0). An int is
        broadcast to all axes.
        """
        tl, br = self.topleft, self.bottomright
        if isinstance(point, np.ndarray):
            if point.shape != (3,):
                raise GeometryError(
                    f"A numpy point for BoundingBox.contains must have shape (3,), got {point.shape}"
                )
            return bool(np.all(point >= tl.to_np()) and np.all(point < br.to_np()))
        if isinstance(point, (Vec3Int, int)):
            p = _coerce(point)
            x, y, z = p.x, p.y, p.z
        else:
            items = list(point)
            if len(items) != 3:
                raise GeometryError(f"A point needs three coordinates, got {point!r}")
            x, y, z = (int(item) for item in items)
        return tl.x <= x < br.x and tl.y <= y < br.y and tl.z <= z < br.z

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

    def intersected_with(self, other: BoundingBox, dont_assert: bool = False) -> BoundingBox:
        """Return the overlap; disjoint boxes give an empty box at the max of the toplefts.

        `dont_assert` is accepted for webknossos compatibility and has no effect: webknossos
        raises AssertionError for an empty overlap unless it is True, this library never raises.
        """
        del dont_assert
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
        """Snap topleft and bottomright to multiples of `mag`, as webknossos does.

        With `ceil` the box grows to the smallest aligned box around it (topleft rounded down,
        bottomright rounded up). Without it (the default) it shrinks to the largest aligned box
        inside (topleft rounded up, bottomright rounded down). If no aligned box fits inside on
        some axis, the rounded corners cross; like webknossos the negative extent is then
        flipped, which yields the one grid cell around the box on that axis.

        Any strictly positive vector is accepted as the grid, not only power-of-two mags.
        """
        m = _grid(mag, "Mag")
        if ceil:
            topleft = (self.topleft // m) * m
            bottomright = self.bottomright.ceildiv(m) * m
            return BoundingBox(topleft, bottomright - topleft)
        start = self.topleft.ceildiv(m) * m
        end = (self.bottomright // m) * m
        return BoundingBox(start.pairmin(end), (end - start).pairmax(start - end))

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

    def iter_chunk_toplefts(
        self,
        chunk_shape: Vec3IntLike,
        chunk_border_alignments: MagLike | None = None,
        clip_to: BoundingBox | None = None,
    ) -> Iterator[tuple[int, int, int]]:
        """Iterate the topleft (x, y, z) of every cell of `chunk()`'s grid, as plain int tuples.

        Same grid and order as `chunk()` (x outermost, z innermost, as webknossos), but the cells
        are not clipped: with `chunk_border_alignments` the first start on an axis may lie before
        this box's topleft. With `clip_to`, only cells overlapping both boxes are yielded (cells
        that merely touch a border are not). Arguments are validated eagerly.
        """
        shape = self._chunk_shape(chunk_shape)
        if chunk_border_alignments is None:
            grid = self.topleft
        else:
            grid = self._grid_start(shape, chunk_border_alignments)
        start, end = self.topleft, self.bottomright
        if clip_to is not None:
            start = start.pairmax(clip_to.topleft)
            end = end.pairmin(clip_to.bottomright)
        ranges = []
        for first, stop, phase, step in zip(start, end, grid, shape, strict=True):
            if first >= stop:
                return iter(())
            ranges.append(range(first - (first - phase) % step, stop, step))
        return cast(Iterator[tuple[int, int, int]], product(*ranges))

    def _chunk_shape(self, chunk_shape: Vec3IntLike) -> Vec3Int:
        """Return `chunk_shape` as a Vec3Int, else raise GeometryError if not strictly positive."""
        shape = _coerce(chunk_shape)
        if not shape.is_positive(strictly_positive=True):
            raise GeometryError(
                f"chunk_shape must be strictly positive on every axis, got {chunk_shape!r}"
            )
        return shape

    def _grid_start(self, shape: Vec3Int, chunk_border_alignments: MagLike) -> Vec3Int:
        """Return the grid line at or before topleft for aligned chunking (validating the args)."""
        alignment = _grid(chunk_border_alignments, "chunk_border_alignments")
        if not _is_multiple(shape, alignment):
            raise AlignmentError(
                f"chunk_shape {shape.to_tuple()} must be a multiple of "
                f"chunk_border_alignments {alignment.to_tuple()}"
            )
        return (self.topleft // alignment) * alignment

    def chunk(
        self,
        chunk_shape: Vec3IntLike,
        chunk_border_alignments: MagLike | None = None,
    ) -> Iterator[BoundingBox]:
        """Tile the box exactly, without overlap, into chunks (x outermost, z innermost).

        Without alignments chunks start at topleft and step by `chunk_shape`. With
        `chunk_border_alignments`, chunk borders lie on multiples of it (the grid starts at
        floor(topleft / alignment) * alignment) and the chunks are clipped to this box. The
        order is webknossos': the one of `iter_chunk_toplefts()`. Arguments are validated
        eagerly, before the first chunk is requested.
        """
        shape = self._chunk_shape(chunk_shape)
        toplefts = self.iter_chunk_toplefts(shape, chunk_border_alignments)
        return self._chunks(toplefts, shape)

    def _chunks(
        self, toplefts: Iterator[tuple[int, int, int]], shape: Vec3Int
    ) -> Iterator[BoundingBox]:
        """Yield the cells at `toplefts` of size `shape`, clipped to this box."""
        for x, y, z in toplefts:
            yield BoundingBox(Vec3Int._of(x, y, z), shape).intersected_with(self)
