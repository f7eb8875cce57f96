"""An axis-aligned, half-open 3D integer box (topleft inclusive, bottomright exclusive)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import product
from typing import TYPE_CHECKING, Any, ClassVar, cast

import attrs
import numpy as np
import numpy.typing as npt

from webknossos_like.errors import AlignmentError, GeometryError
from webknossos_like.geometry.mag import Mag, MagLike
from webknossos_like.geometry.vec3_int import Vec3Int, Vec3IntLike, _coerce

if TYPE_CHECKING:
    from webknossos_like.geometry.normalized_bounding_box import NormalizedBoundingBox

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

    # --- webknossos' NDBoundingBox view of a 3D box (axes x, y, z) ----------------------------

    axes: ClassVar[tuple[str, str, str]] = _XYZ
    """The axis names, always ("x", "y", "z") as on webknossos' BoundingBox."""

    @property
    def index(self) -> Vec3Int:
        """The axis index vector webknossos' BoundingBox carries by default, (1, 2, 3)."""
        return Vec3Int._of(1, 2, 3)

    @property
    def index_xyz(self) -> Vec3Int:
        """Same as `index` (a 3D box has only x, y, z)."""
        return self.index

    @property
    def ndim(self) -> int:
        """Return 3, the number of axes."""
        return 3

    def __len__(self) -> int:
        """Return 3, the number of axes (as webknossos' NDBoundingBox)."""
        return 3

    @property
    def topleft_xyz(self) -> Vec3Int:
        """Same as `topleft` (a 3D box has only x, y, z)."""
        return self.topleft

    @property
    def size_xyz(self) -> Vec3Int:
        """Same as `size`."""
        return self.size

    @property
    def bottomright_xyz(self) -> Vec3Int:
        """Same as `bottomright`."""
        return self.bottomright

    def with_topleft_xyz(self, new_xyz: Vec3IntLike) -> BoundingBox:
        """Same as `with_topleft`."""
        return self.with_topleft(new_xyz)

    def with_size_xyz(self, new_xyz: Vec3IntLike) -> BoundingBox:
        """Same as `with_size`."""
        return self.with_size(new_xyz)

    def with_bottomright_xyz(self, new_xyz: Vec3IntLike) -> BoundingBox:
        """Same as `with_bottomright`."""
        return self.with_bottomright(new_xyz)

    def _axis(self, axis: str) -> int:
        """Return the position of axis "x", "y" or "z"; KeyError otherwise (as webknossos)."""
        if axis not in _XYZ:
            raise KeyError("The given axis name does not exist.")
        return _XYZ.index(axis)

    def with_bounds(
        self, axis: str, new_topleft: int | None = None, new_size: int | None = None
    ) -> BoundingBox:
        """Return a copy with topleft and/or size replaced on one axis ("x", "y" or "z")."""
        index = self._axis(axis)
        topleft = (
            self.topleft if new_topleft is None else self.topleft.with_replaced(index, new_topleft)
        )
        size = self.size if new_size is None else self.size.with_replaced(index, new_size)
        return BoundingBox(topleft, size)

    def with_bounds_x(
        self, new_topleft_x: int | None = None, new_size_x: int | None = None
    ) -> BoundingBox:
        """Return a copy with topleft.x and/or size.x replaced."""
        return self.with_bounds("x", new_topleft_x, new_size_x)

    def with_bounds_y(
        self, new_topleft_y: int | None = None, new_size_y: int | None = None
    ) -> BoundingBox:
        """Return a copy with topleft.y and/or size.y replaced."""
        return self.with_bounds("y", new_topleft_y, new_size_y)

    def with_bounds_z(
        self, new_topleft_z: int | None = None, new_size_z: int | None = None
    ) -> BoundingBox:
        """Return a copy with topleft.z and/or size.z replaced."""
        return self.with_bounds("z", new_topleft_z, new_size_z)

    def get_bounds(self, axis: str) -> tuple[int, int]:
        """Return (start, end) on one axis, end exclusive."""
        index = self._axis(axis)
        return (self.topleft[index], self.bottomright[index])

    def get_shape(self, axis_name: str) -> int:
        """Return the size on one axis."""
        if axis_name not in _XYZ:
            raise KeyError(f"Axis {axis_name} doesn't exist in NDBoundingBox.")
        return self.size[_XYZ.index(axis_name)]

    def slice_array(self, array: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Return `array[self.to_slices()]`."""
        return array[self.to_slices()]

    def to_slices_xyz(self) -> tuple[slice, slice, slice]:
        """Same as `to_slices` (a 3D box has only x, y, z)."""
        return self.to_slices()

    def xyz_array_to_bbox_shape(self, data: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Return `data` unchanged: an x, y, z array already has this box's axis order."""
        return data

    @classmethod
    def group_boxes_with_aligned_mag(
        cls, bounding_boxes: Iterable[BoundingBox], aligning_mag: MagLike
    ) -> dict[BoundingBox, list[BoundingBox]]:
        """Group boxes by `box.align_with_mag(aligning_mag, ceil=True)` (e.g. the shard they touch)."""
        groups: dict[BoundingBox, list[BoundingBox]] = defaultdict(list)
        for box in bounding_boxes:
            groups[box.align_with_mag(aligning_mag, ceil=True)].append(box)
        return groups

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

    def denormalize(self) -> BoundingBox:
        """The box itself (a 3-D box has no channel axis to drop)."""
        return self

    def normalize_axes(self, num_channels: int) -> NormalizedBoundingBox:
        """This box with the channel axis first: axes c, x, y, z, channels 0..num_channels."""
        from webknossos_like.geometry.normalized_bounding_box import normalize_axes

        return normalize_axes(self, num_channels)

    @classmethod
    def from_ndbbox(cls, bbox: Any) -> BoundingBox:
        """Return the x, y, z part of an NDBoundingBox (or any box with topleft_xyz, size_xyz)."""
        return cls(bbox.topleft_xyz, bbox.size_xyz)

    @classmethod
    def from_tuple2(cls, tuple2: Sequence[Vec3IntLike]) -> BoundingBox:
        """Build from (topleft, size)."""
        if len(tuple2) != 2:
            raise GeometryError(f"BoundingBox.from_tuple2 needs (topleft, size), got {tuple2!r}")
        return cls(tuple2[0], tuple2[1])

    @classmethod
    def from_csv(cls, csv_bbox: str) -> BoundingBox:
        """Parse "x,y,z,width,height,depth"."""
        try:
            values = [int(part) for part in csv_bbox.split(",")]
        except ValueError:
            raise GeometryError(f"Cannot parse a bounding box from {csv_bbox!r}") from None
        return cls.from_tuple6(values)

    def to_csv(self) -> str:
        """Return "x,y,z,width,height,depth"."""
        return ",".join(str(value) for value in self.to_tuple6())

    @classmethod
    def from_config_dict(cls, bbox: Mapping[str, Any]) -> BoundingBox:
        """Parse {"topleft": [x, y, z], "size": [w, h, d]}."""
        return cls(bbox["topleft"], bbox["size"])

    def to_config_dict(self) -> dict[str, list[int]]:
        """Return {"topleft": [x, y, z], "size": [w, h, d]}."""
        return {"topleft": self.topleft.to_list(), "size": self.size.to_list()}

    @classmethod
    def from_checkpoint_name(cls, checkpoint_name: str) -> BoundingBox:
        """Extract the first "x_y_z_w_h_d" group of six non-negative ints from a string."""
        match = re.search(r"([0-9]+_){5}[0-9]+", checkpoint_name)
        if match is None:
            raise GeometryError(f"Could not extract bounding box from {checkpoint_name}")
        return cls.from_tuple6(int(value) for value in match.group().split("_"))

    def to_checkpoint_name(self) -> str:
        """Return "x_y_z_w_h_d"."""
        return "_".join(str(value) for value in self.to_tuple6())

    @classmethod
    def from_auto(cls, obj: BoundingBox | str | Mapping[str, Any] | Sequence[Any]) -> BoundingBox:
        """Build from a box, a CSV or JSON string, a config or properties dict, or a 2/6-sequence."""
        if isinstance(obj, BoundingBox):
            return obj
        if isinstance(obj, str):
            return cls.from_auto(json.loads(obj)) if ":" in obj else cls.from_csv(obj)
        if isinstance(obj, Mapping):
            return cls.from_config_dict(obj) if "size" in obj else cls.from_properties_dict(obj)
        if isinstance(obj, (list, tuple)):
            if len(obj) == 2:
                return cls.from_tuple2(obj)
            if len(obj) == 6:
                return cls.from_tuple6(obj)
        raise GeometryError(f"Unknown bounding box format: {obj!r}")

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
        return _spatial(other).intersected_with(self) == _spatial(other)

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
        other = _spatial(other)
        topleft = self.topleft.pairmax(other.topleft)
        bottomright = self.bottomright.pairmin(other.bottomright)
        return BoundingBox(topleft, (bottomright - topleft).pairmax(0))

    def extended_by(self, other: BoundingBox) -> BoundingBox:
        """Return the smallest box containing both; an empty box is ignored (if both are, `other` is returned)."""
        other = _spatial(other)
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


def _spatial(other: Any) -> BoundingBox:
    """`other` as a 3-D box: a `NormalizedBoundingBox` (c, x, y, z) combines on x, y, z."""
    if isinstance(other, BoundingBox):
        return other
    denormalized = other.denormalize() if hasattr(other, "denormalize") else other
    return cast(BoundingBox, denormalized)
