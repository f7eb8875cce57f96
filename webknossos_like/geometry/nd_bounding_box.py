"""An immutable, half-open N-dimensional integer box with named axes (e.g. c, x, y, z, t)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from webknossos_like.errors import GeometryError
from webknossos_like.geometry.bounding_box import BoundingBox
from webknossos_like.geometry.mag import MagLike
from webknossos_like.geometry.vec3_int import Vec3Int, Vec3IntLike
from webknossos_like.geometry.vec_int import VecInt, VecIntLike

if TYPE_CHECKING:
    from webknossos_like.geometry.normalized_bounding_box import NormalizedBoundingBox

__all__ = ["NDBoundingBox"]

_XYZ = ("x", "y", "z")
_DEFAULT_NAME = "Unnamed Bounding Box"


def _vec(value: VecIntLike, axes: tuple[str, ...]) -> VecInt:
    """Return `value` as a VecInt on `axes`."""
    if isinstance(value, (VecInt, Vec3Int)):
        return VecInt(tuple(value), axes=axes)
    return VecInt(value, axes=axes)


class NDBoundingBox:
    """A box from `topleft` (inclusive) spanning `size` on each named axis; size never negative.

    The 3D `BoundingBox` is the special case with axes ("x", "y", "z"); the two compare equal
    and combine (intersect, extend, contain) when the axes match. Unlike webknossos,
    `BoundingBox` is not a subclass: convert with `BoundingBox.from_ndbbox()` or
    `NDBoundingBox.from_bbox()`.
    """

    __slots__ = ("axes", "bottomright", "color", "index", "is_visible", "name", "size", "topleft")

    topleft: VecInt
    size: VecInt
    axes: tuple[str, ...]
    index: VecInt
    bottomright: VecInt
    name: str | None
    is_visible: bool
    color: tuple[float, float, float, float] | None

    def __init__(
        self,
        topleft: VecIntLike,
        size: VecIntLike,
        axes: Iterable[str],
        index: VecIntLike | None = None,
        name: str | None = _DEFAULT_NAME,
        is_visible: bool = True,
        color: tuple[float, float, float, float] | None = None,
    ) -> None:
        """Build a box; with `index`, the axes are sorted by it (as webknossos does)."""
        names = tuple(axes)
        tl = _vec(topleft, names)
        sz = _vec(size, names)
        if index is None:
            idx = VecInt(range(len(names)), axes=names)
        else:
            idx = _vec(index, names)
            order = sorted(range(len(names)), key=lambda i: idx[i])
            if order != list(range(len(names))):
                names = tuple(names[i] for i in order)
                tl = VecInt([tl[i] for i in order], axes=names)
                sz = VecInt([sz[i] for i in order], axes=names)
                idx = VecInt([idx[i] for i in order], axes=names)
        if not sz.is_positive():
            raise GeometryError(
                f"NDBoundingBox size must be non-negative on every axis, got {sz.to_tuple()}"
            )
        set_ = object.__setattr__
        set_(self, "topleft", tl)
        set_(self, "size", sz)
        set_(self, "axes", names)
        set_(self, "index", idx)
        set_(self, "bottomright", tl + sz)
        set_(self, "name", name)
        set_(self, "is_visible", is_visible)
        set_(self, "color", color)

    def __setattr__(self, name: str, value: object) -> None:
        """Refuse mutation: boxes are immutable."""
        raise AttributeError(f"NDBoundingBox is immutable (cannot set {name!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by the constructor arguments."""
        return (
            type(self),
            (
                self.topleft,
                self.size,
                self.axes,
                self.index,
                self.name,
                self.is_visible,
                self.color,
            ),
        )

    def _evolve(self, **changes: Any) -> NDBoundingBox:
        """Return a copy with some constructor arguments replaced."""
        args: dict[str, Any] = {
            "topleft": self.topleft,
            "size": self.size,
            "axes": self.axes,
            "index": self.index,
            "name": self.name,
            "is_visible": self.is_visible,
            "color": self.color,
        }
        args.update(changes)
        return type(self)(**args)

    # --- conversion from and to the 3D box ----------------------------------------------------

    @classmethod
    def from_bbox(cls, bbox: BoundingBox | NDBoundingBox) -> NDBoundingBox:
        """Return `bbox` as an NDBoundingBox (a 3D box gets axes x, y, z)."""
        if isinstance(bbox, NDBoundingBox):
            return bbox
        return cls(bbox.topleft, bbox.size, _XYZ)

    def to_bbox(self) -> BoundingBox:
        """Return the x, y, z part as a 3D BoundingBox (same as BoundingBox.from_ndbbox)."""
        return BoundingBox(self.topleft_xyz, self.size_xyz)

    @classmethod
    def from_axes(cls, axes: Iterable[str], sizes: Iterable[int]) -> NDBoundingBox:
        """Return a box at the origin with the given per-axis sizes."""
        names = tuple(axes)
        return cls(VecInt.zeros(names), VecInt(list(sizes), axes=names), names)

    def _other(self, other: BoundingBox | NDBoundingBox) -> NDBoundingBox:
        """Return `other` as an NDBoundingBox with the same axes, else raise ValueError."""
        nd = NDBoundingBox.from_bbox(other)
        if nd.axes != self.axes:
            raise GeometryError(
                "Operation with two bboxes is only possible if they have the same axes and "
                f"axes order. {self.axes} != {nd.axes}"
            )
        return nd

    # --- value semantics ----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Compare topleft and size (name, colour, visibility ignored); axes must match."""
        if isinstance(other, (NDBoundingBox, BoundingBox)):
            nd = self._other(other)
            return self.topleft == nd.topleft and self.size == nd.size
        return NotImplemented

    def __hash__(self) -> int:
        """Hash topleft, size and axes."""
        return hash((self.topleft.to_tuple(), self.size.to_tuple(), self.axes))

    def __repr__(self) -> str:
        """Return e.g. "NDBoundingBox(topleft=(0, 0), size=(4, 4), axes={'x': 0, 'y': 1})"."""
        axes = dict(zip(self.axes, self.index, strict=True))
        return (
            f"{type(self).__name__}(topleft={self.topleft.to_tuple()}, "
            f"size={self.size.to_tuple()}, "
            f"axes={axes})"
        )

    def __len__(self) -> int:
        """Return the number of axes."""
        return len(self.axes)

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self.axes)

    # --- per-axis access ----------------------------------------------------------------------

    def _axis(self, axis: str) -> int:
        """Return the position of `axis`, KeyError if absent."""
        if axis not in self.axes:
            raise KeyError("The given axis name does not exist.")
        return self.axes.index(axis)

    def get_bounds(self, axis: str) -> tuple[int, int]:
        """Return (start, end) on `axis`, end exclusive."""
        i = self._axis(axis)
        return (self.topleft[i], self.bottomright[i])

    def get_shape(self, axis_name: str) -> int:
        """Return the size on `axis_name`."""
        if axis_name not in self.axes:
            raise KeyError(f"Axis {axis_name} doesn't exist in NDBoundingBox.")
        return int(self.size[self.axes.index(axis_name)])

    def with_bounds(
        self, axis: str, new_topleft: int | None = None, new_size: int | None = None
    ) -> NDBoundingBox:
        """Return a copy with topleft and/or size replaced on one axis."""
        i = self._axis(axis)
        topleft = (
            self.topleft if new_topleft is None else self.topleft.with_replaced(i, new_topleft)
        )
        size = self.size if new_size is None else self.size.with_replaced(i, new_size)
        return self._evolve(topleft=topleft, size=size)

    def with_topleft(self, new_topleft: VecIntLike) -> NDBoundingBox:
        """Return a copy with a new topleft, same size."""
        return self._evolve(topleft=new_topleft)

    def with_size(self, new_size: VecIntLike) -> NDBoundingBox:
        """Return a copy with a new size, same topleft."""
        return self._evolve(size=new_size)

    def with_bottomright(self, new_bottomright: VecIntLike) -> NDBoundingBox:
        """Return a copy ending at `new_bottomright` (exclusive), same topleft."""
        return self._evolve(size=_vec(new_bottomright, self.axes) - self.topleft)

    def with_index(self, new_index: VecIntLike) -> NDBoundingBox:
        """Return a copy with a new axis index (the axes are re-sorted by it)."""
        return self._evolve(index=new_index)

    def with_name(self, name: str | None) -> NDBoundingBox:
        """Return a copy with a new name."""
        return self._evolve(name=name)

    def with_is_visible(self, is_visible: bool) -> NDBoundingBox:
        """Return a copy with a new visibility flag."""
        return self._evolve(is_visible=is_visible)

    def with_color(self, color: tuple[float, float, float, float] | None) -> NDBoundingBox:
        """Return a copy with a new RGBA colour."""
        return self._evolve(color=color)

    def _xyz(self, vec: VecInt) -> Vec3Int:
        """Return the x, y, z values of `vec`, 0 for an absent axis (as webknossos)."""
        return Vec3Int([vec[axis] if axis in self.axes else 0 for axis in _XYZ])

    def _with_xyz(self, vec: VecInt, xyz: Vec3IntLike) -> VecInt:
        """Return `vec` with its x, y, z values replaced (absent axes skipped)."""
        return vec.with_xyz(Vec3Int(xyz))

    @property
    def topleft_xyz(self) -> Vec3Int:
        """The topleft on x, y, z (0 for an absent axis)."""
        return self._xyz(self.topleft)

    @property
    def size_xyz(self) -> Vec3Int:
        """The size on x, y, z (0 for an absent axis)."""
        return self._xyz(self.size)

    @property
    def bottomright_xyz(self) -> Vec3Int:
        """The bottomright on x, y, z (0 for an absent axis)."""
        return self._xyz(self.bottomright)

    @property
    def index_xyz(self) -> Vec3Int:
        """The index on x, y, z (0 for an absent axis)."""
        return self._xyz(self.index)

    def with_topleft_xyz(self, new_xyz: Vec3IntLike) -> NDBoundingBox:
        """Return a copy with topleft replaced on x, y, z."""
        return self.with_topleft(self._with_xyz(self.topleft, new_xyz))

    def with_size_xyz(self, new_xyz: Vec3IntLike) -> NDBoundingBox:
        """Return a copy with size replaced on x, y, z."""
        return self.with_size(self._with_xyz(self.size, new_xyz))

    def with_bottomright_xyz(self, new_xyz: Vec3IntLike) -> NDBoundingBox:
        """Return a copy with bottomright replaced on x, y, z."""
        return self.with_bottomright(self._with_xyz(self.bottomright, new_xyz))

    def with_index_xyz(self, new_xyz: Vec3IntLike) -> NDBoundingBox:
        """Return a copy with index replaced on x, y, z."""
        return self.with_index(self._with_xyz(self.index, new_xyz))

    # --- measures and predicates --------------------------------------------------------------

    def is_empty(self) -> bool:
        """Return whether some size is 0."""
        return not self.size.is_positive(strictly_positive=True)

    def volume(self) -> int:
        """Return the product of the sizes."""
        return self.size.prod()

    def contains(self, coord: VecIntLike) -> bool:
        """Return whether topleft <= coord < bottomright on every axis (floats: numpy only)."""
        if isinstance(coord, np.ndarray):
            if coord.shape != (len(self.axes),):
                raise GeometryError(
                    f"A numpy point must have shape ({len(self.axes)},), got {coord.shape}"
                )
            return bool(
                np.all(coord >= self.topleft.to_np()) and np.all(coord < self.bottomright.to_np())
            )
        point = [int(value) for value in coord]
        if len(point) != len(self.axes):
            raise GeometryError(f"A point needs {len(self.axes)} coordinates, got {coord!r}")
        return all(
            start <= value < end
            for start, value, end in zip(self.topleft, point, self.bottomright, strict=True)
        )

    def contains_bbox(self, inner_bbox: BoundingBox | NDBoundingBox) -> bool:
        """Return whether `inner_bbox` lies inside this box (its intersection is itself)."""
        inner = self._other(inner_bbox)
        return inner.intersected_with(self) == inner

    # --- combining and deriving boxes ---------------------------------------------------------

    def intersected_with(
        self, other: BoundingBox | NDBoundingBox, dont_assert: bool = False
    ) -> NDBoundingBox:
        """Return the overlap (empty if disjoint; `dont_assert` has no effect, see BoundingBox)."""
        del dont_assert
        nd = self._other(other)
        topleft = self.topleft.pairmax(nd.topleft)
        size = (self.bottomright.pairmin(nd.bottomright) - topleft).pairmax(0)
        return self._evolve(topleft=topleft, size=size)

    def extended_by(self, other: BoundingBox | NDBoundingBox) -> NDBoundingBox:
        """Return the smallest box containing both; an empty box is ignored."""
        nd = self._other(other)
        if self.is_empty():
            return nd
        if nd.is_empty():
            return self
        topleft = self.topleft.pairmin(nd.topleft)
        return self._evolve(
            topleft=topleft, size=self.bottomright.pairmax(nd.bottomright) - topleft
        )

    def offset(self, vector: VecIntLike) -> NDBoundingBox:
        """Shift by a 3-vector on x, y, z, or by a vector over all axes."""
        values = list(vector)
        if len(values) == 3:
            return self.with_topleft_xyz(self.topleft_xyz + Vec3Int(values))
        return self.with_topleft(self.topleft + _vec(values, self.axes))

    def padded_with_margins(
        self, margins_left: Vec3IntLike, margins_right: Vec3IntLike | None = None
    ) -> NDBoundingBox:
        """Grow on x, y, z by `margins_left` before and `margins_right` (default: left) after."""
        left = Vec3Int(margins_left)
        right = left if margins_right is None else Vec3Int(margins_right)
        return self.with_topleft_xyz(self.topleft_xyz - left).with_size_xyz(
            self.size_xyz + left + right
        )

    def in_mag(self, mag: MagLike) -> NDBoundingBox:
        """Convert x, y, z from mag-1 into `mag` coordinates (must be aligned)."""
        box = self.to_bbox().in_mag(mag)
        return self.with_topleft_xyz(box.topleft).with_size_xyz(box.size)

    def from_mag_to_mag1(self, from_mag: MagLike) -> NDBoundingBox:
        """Convert x, y, z from `from_mag` back into mag-1 coordinates."""
        box = self.to_bbox().from_mag_to_mag1(from_mag)
        return self.with_topleft_xyz(box.topleft).with_size_xyz(box.size)

    def align_with_mag(self, mag: MagLike, ceil: bool = False) -> NDBoundingBox:
        """Align x, y, z like BoundingBox.align_with_mag; other axes are unchanged."""
        box = self.to_bbox().align_with_mag(mag, ceil)
        return self.with_topleft_xyz(box.topleft).with_size_xyz(box.size)

    def _per_axis(self, value: VecIntLike) -> VecInt:
        """Expand a 3-vector to all axes (1 elsewhere, the full size on c), else take it as is."""
        values = list(value)
        if len(values) == 3:
            result = VecInt.ones(self.axes).with_xyz(Vec3Int(values))
            return result.with_c(self.size.c) if "c" in self.axes else result
        return _vec(values, self.axes)

    def chunk(
        self, chunk_shape: VecIntLike, chunk_border_alignments: VecIntLike | None = None
    ) -> Iterator[NDBoundingBox]:
        """Tile the box into chunks, first axis outermost (as webknossos), clipped to the box.

        A 3D `chunk_shape` chunks x, y, z and steps by 1 on other axes (whole on c).
        """
        shape = self._per_axis(chunk_shape)
        if not shape.is_positive(strictly_positive=True):
            raise GeometryError(f"chunk_shape must be strictly positive, got {chunk_shape!r}")
        adjust = VecInt.zeros(self.axes)
        if chunk_border_alignments is not None:
            alignment = self._per_axis(chunk_border_alignments)
            if not alignment.is_positive(strictly_positive=True) or any(shape % alignment):
                raise GeometryError(f"{shape.to_tuple()} not divisible by {alignment.to_tuple()}")
            adjust = self.topleft % alignment
        ranges = [
            range(start - back, end, step)
            for start, back, end, step in zip(
                self.topleft, adjust, self.bottomright, shape, strict=True
            )
        ]
        return self._chunks(ranges, shape)

    def _chunks(self, ranges: list[range], shape: VecInt) -> Iterator[NDBoundingBox]:
        """Yield the grid cells, clipped to this box."""
        if self.is_empty():
            return
        for start in product(*ranges):
            yield self._evolve(topleft=start, size=shape).intersected_with(self)

    def to_slices(self) -> tuple[slice, ...]:
        """Return one slice per axis, topleft to bottomright."""
        return tuple(
            slice(start, end) for start, end in zip(self.topleft, self.bottomright, strict=True)
        )

    def to_slices_xyz(self) -> tuple[slice, ...]:
        """Slices with x, y, z at topleft and other (size-1) axes at 0."""
        if any(
            size != 1 for size, axis in zip(self.size, self.axes, strict=True) if axis not in _XYZ
        ):
            raise GeometryError(
                "The bounding box must be flat in all dimensions except x, y and z."
            )
        xyz = self.topleft_xyz
        return tuple(
            slice(xyz[_XYZ.index(axis)], xyz[_XYZ.index(axis)] + size)
            if axis in _XYZ
            else slice(0, size)
            for axis, size in zip(self.axes, self.size, strict=True)
        )

    def slice_array(self, array: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Return `array[self.to_slices()]`."""
        return array[self.to_slices()]

    def xyz_array_to_bbox_shape(self, data: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Reshape an (x, y, z) array to this box's axis order (other axes must have size 1)."""
        if any(
            size != 1 for size, axis in zip(self.size, self.axes, strict=True) if axis not in _XYZ
        ):
            raise GeometryError(
                "The bounding box must be flat in all dimensions except x, y and z."
            )
        expanded = data.reshape(data.shape + (1,) * (len(self.axes) - data.ndim))
        return np.moveaxis(expanded, [0, 1, 2], [self.axes.index(axis) for axis in _XYZ])

    @classmethod
    def group_boxes_with_aligned_mag(
        cls, bounding_boxes: Iterable[NDBoundingBox], aligning_mag: MagLike
    ) -> dict[NDBoundingBox, list[NDBoundingBox]]:
        """Group boxes by `box.align_with_mag(aligning_mag, ceil=True)`."""
        groups: dict[NDBoundingBox, list[NDBoundingBox]] = {}
        for box in bounding_boxes:
            groups.setdefault(box.align_with_mag(aligning_mag, ceil=True), []).append(box)
        return groups

    def to_config_dict(self) -> dict[str, Any]:
        """Return {"topleft": [...], "size": [...], "axes": (...)}."""
        return {"topleft": self.topleft.to_list(), "size": self.size.to_list(), "axes": self.axes}

    def to_checkpoint_name(self) -> str:
        """Return the topleft values then the sizes, joined by "_"."""
        return "_".join(str(value) for value in (*self.topleft, *self.size))

    def denormalize(self) -> NDBoundingBox:
        """Return the box itself (`NormalizedBoundingBox` overrides this)."""
        return self

    def normalize_axes(self, num_channels: int) -> NormalizedBoundingBox:
        """This box as a `NormalizedBoundingBox` whose `c` axis spans `num_channels`."""
        from webknossos_like.geometry.normalized_bounding_box import normalize_axes

        return normalize_axes(self, num_channels)
