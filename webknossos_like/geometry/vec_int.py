"""An immutable N-dimensional integer vector with named axes (e.g. c, x, y, z, t)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from webknossos_like.errors import GeometryError
from webknossos_like.geometry.vec3_int import Vec3Int, _component

__all__ = ["VecInt", "VecIntLike"]


def _ints(values: Iterable[Any], shown: object) -> tuple[int, ...]:
    """Return `values` as plain ints, else raise GeometryError."""
    result = []
    for value in values:
        component = _component(value)
        if component is None:
            raise GeometryError(f"VecInt components must be integers, got {shown!r}")
        result.append(component)
    return tuple(result)


class VecInt:
    """Integers with one axis name each; compares, orders and hashes like the plain tuple.

    Build it as `VecInt(1, 2, 3, axes=("x", "y", "z"))`, `VecInt([1, 2, 3], axes=...)`,
    `VecInt((1, 2, 3), ("x", "y", "z"))` or `VecInt(x=1, y=2, z=3)`.
    """

    __slots__ = ("_data", "axes")

    _data: tuple[int, ...]
    axes: tuple[str, ...]

    def __init__(self, *args: Any, axes: Iterable[str] | None = None, **kwargs: int) -> None:
        """Parse the forms listed in the class docstring; axes are required."""
        if args and kwargs:
            raise GeometryError(f"VecInt takes values or axis keywords, not both: {args} {kwargs}")
        if kwargs:
            if axes is not None:
                raise GeometryError("VecInt(x=..., ...) takes its axes from the keywords")
            data = _ints(kwargs.values(), kwargs)
            names: tuple[str, ...] = tuple(kwargs)
        elif not args:
            raise GeometryError("VecInt needs values and axes")
        else:
            first = args[0]
            if isinstance(first, (VecInt, Vec3Int)):
                data = tuple(first)
                names = tuple(axes) if axes is not None else first.axes
            elif isinstance(first, (np.ndarray, Iterable)) and not isinstance(first, (str, bytes)):
                data = _ints(first, first)
                if len(args) == 2 and isinstance(args[1], Iterable):
                    if axes is not None:
                        raise GeometryError("VecInt got axes twice")
                    axes = args[1]
                elif len(args) > 1:
                    raise GeometryError(f"Cannot build a VecInt from {args!r}")
                if axes is None:
                    raise GeometryError(f"VecInt needs axes for {args!r}")
                names = tuple(axes)
            else:
                data = _ints(args, args)
                if axes is None:
                    raise GeometryError(f"VecInt needs axes for {args!r}")
                names = tuple(axes)
        if not all(isinstance(name, str) for name in names):
            raise GeometryError(f"VecInt axis names must be strings, got {names!r}")
        if len(names) != len(data):
            raise GeometryError(f"VecInt has {len(data)} values but {len(names)} axes {names}")
        if len(set(names)) != len(names):
            raise GeometryError(f"VecInt axis names must be unique, got {names}")
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "axes", names)

    def __setattr__(self, name: str, value: object) -> None:
        """Refuse mutation: vectors are immutable."""
        raise AttributeError(f"VecInt is immutable (cannot set {name!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as (values, axes)."""
        return (VecInt, (self._data, self.axes))

    @classmethod
    def _of(cls, data: tuple[int, ...], axes: tuple[str, ...]) -> VecInt:
        """Build from validated values and axes."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "_data", data)
        object.__setattr__(obj, "axes", axes)
        return obj

    @classmethod
    def zeros(cls, axes: Iterable[str]) -> VecInt:
        """Return 0 on every axis."""
        return cls.full(0, axes)

    @classmethod
    def ones(cls, axes: Iterable[str]) -> VecInt:
        """Return 1 on every axis."""
        return cls.full(1, axes)

    @classmethod
    def full(cls, an_int: int, axes: Iterable[str]) -> VecInt:
        """Return `an_int` on every axis."""
        names = tuple(axes)
        return cls([an_int] * len(names), axes=names)

    # --- sequence protocol and axis access ----------------------------------------------------

    def __len__(self) -> int:
        """Return the number of axes."""
        return len(self._data)

    def __iter__(self) -> Iterator[int]:
        """Iterate over the values in axis order."""
        return iter(self._data)

    def __getitem__(self, index: Any) -> Any:
        """Return the value at a position, a slice, or the value of an axis name."""
        if isinstance(index, str):
            if index not in self.axes:
                raise KeyError(f"Axis {index} not found in {self.axes}")
            return self._data[self.axes.index(index)]
        return self._data[index]

    def __contains__(self, item: object) -> bool:
        """Return whether `item` equals one of the values."""
        return item in self._data

    def index(self, value: object) -> int:
        """Return the position of the first value equal to `value` (ValueError if none)."""
        return self._data.index(value)

    def count(self, value: object) -> int:
        """Return how many values equal `value`."""
        return self._data.count(value)

    def _named(self, axis: str) -> int:
        """Return the value of `axis`, KeyError if absent."""
        if axis not in self.axes:
            raise KeyError(f"The vector does not have an {axis} component.")
        return self._data[self.axes.index(axis)]

    @property
    def c(self) -> int:
        """The value of axis "c"."""
        return self._named("c")

    @property
    def x(self) -> int:
        """The value of axis "x"."""
        return self._named("x")

    @property
    def y(self) -> int:
        """The value of axis "y"."""
        return self._named("y")

    @property
    def z(self) -> int:
        """The value of axis "z"."""
        return self._named("z")

    @property
    def xyz(self) -> Vec3Int:
        """The values of axes x, y, z as a Vec3Int (KeyError if one is absent)."""
        return Vec3Int(self.x, self.y, self.z)

    def get(self, axis: str, default: int | None = None) -> int:
        """Return the value of `axis`, else `default` (KeyError if None)."""
        if axis in self.axes:
            return self._data[self.axes.index(axis)]
        if default is None:
            raise KeyError(f"Axis {axis} not found in {self.axes}")
        return default

    def with_replaced(self, axis: str | int, new_element: int) -> VecInt:
        """Return a copy with the value at `axis` (name or position) replaced."""
        index = self.axes.index(axis) if isinstance(axis, str) else axis
        data = list(self._data)
        data[index] = new_element
        return VecInt(data, axes=self.axes)

    def with_c(self, new_c: int) -> VecInt:
        """Return a copy with c replaced."""
        self._named("c")
        return self.with_replaced("c", new_c)

    def with_x(self, new_x: int) -> VecInt:
        """Return a copy with x replaced."""
        self._named("x")
        return self.with_replaced("x", new_x)

    def with_y(self, new_y: int) -> VecInt:
        """Return a copy with y replaced."""
        self._named("y")
        return self.with_replaced("y", new_y)

    def with_z(self, new_z: int) -> VecInt:
        """Return a copy with z replaced."""
        self._named("z")
        return self.with_replaced("z", new_z)

    def with_xyz(self, new_xyz: Iterable[int]) -> VecInt:
        """Return a copy with x, y and z replaced; axes this vector lacks are skipped."""
        vec = Vec3Int(new_xyz)
        result = self
        for axis, value in zip(("x", "y", "z"), vec, strict=True):
            if axis in self.axes:
                result = result.with_replaced(axis, value)
        return result

    # --- comparison ---------------------------------------------------------------------------

    def _comparable(self, other: object) -> tuple[Any, ...] | None:
        """Return `other` as a tuple for comparison, or None if it is not a vector or tuple."""
        if isinstance(other, (VecInt, Vec3Int)):
            return tuple(other)
        if isinstance(other, tuple):
            return other
        return None

    def __eq__(self, other: object) -> bool:
        """Compare the values (not the axes) with a vector or tuple, as webknossos does."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return self._data == data

    def __hash__(self) -> int:
        """Hash like the tuple of values."""
        return hash(self._data)

    def __lt__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        return NotImplemented if data is None else self._data < data

    def __le__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        return NotImplemented if data is None else self._data <= data

    def __gt__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        return NotImplemented if data is None else self._data > data

    def __ge__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        return NotImplemented if data is None else self._data >= data

    def __repr__(self) -> str:
        """Return e.g. "VecInt(1,2,3, axes=('x', 'y', 'z'))", as webknossos prints it."""
        return f"VecInt({','.join(str(value) for value in self._data)}, axes={self.axes})"

    # --- conversions and predicates -----------------------------------------------------------

    def to_np(self) -> npt.NDArray[np.int64]:
        """Return a new int64 array."""
        return np.array(self._data, dtype=np.int64)

    def to_list(self) -> list[int]:
        """Return the values as a list."""
        return list(self._data)

    def to_tuple(self) -> tuple[int, ...]:
        """Return the values as a tuple."""
        return self._data

    def contains(self, needle: int) -> bool:
        """Return whether some value equals `needle`."""
        return needle in self._data

    def is_positive(self, strictly_positive: bool = False) -> bool:
        """Return whether all values are >= 0 (or > 0)."""
        if strictly_positive:
            return all(value > 0 for value in self._data)
        return all(value >= 0 for value in self._data)

    def is_uniform(self) -> bool:
        """Return whether all values are equal."""
        return len(set(self._data)) <= 1

    def prod(self) -> int:
        """Return the product of all values (unbounded Python int)."""
        result = 1
        for value in self._data:
            result *= value
        return result

    # --- arithmetic ---------------------------------------------------------------------------

    def _apply(self, other: int | VecIntLike, fn: Callable[[int, int], int]) -> VecInt:
        """Combine element-wise with a same-length vector or a broadcast int."""
        if isinstance(other, (bool, np.bool_)):
            raise GeometryError(f"Cannot combine a VecInt with {other!r}")
        if isinstance(other, (int, np.integer)):
            values: tuple[int, ...] = (int(other),) * len(self._data)
        else:
            values = tuple(other) if isinstance(other, (VecInt, Vec3Int)) else _ints(other, other)
            if len(values) != len(self._data):
                raise GeometryError(f"{other!r} and {self!r} are not equally shaped")
        return VecInt._of(
            tuple(fn(a, b) for a, b in zip(self._data, values, strict=True)), self.axes
        )

    def __add__(self, other: int | VecIntLike) -> VecInt:
        """Add element-wise."""
        return self._apply(other, operator.add)

    def __sub__(self, other: int | VecIntLike) -> VecInt:
        """Subtract element-wise."""
        return self._apply(other, operator.sub)

    def __mul__(self, other: int | VecIntLike) -> VecInt:
        """Multiply element-wise."""
        return self._apply(other, operator.mul)

    def __floordiv__(self, other: int | VecIntLike) -> VecInt:
        """Floor-divide element-wise."""
        return self._apply(other, operator.floordiv)

    def __mod__(self, other: int | VecIntLike) -> VecInt:
        """Take the Python modulo element-wise."""
        return self._apply(other, operator.mod)

    def __neg__(self) -> VecInt:
        """Negate every value."""
        return VecInt._of(tuple(-value for value in self._data), self.axes)

    def ceildiv(self, other: int | VecIntLike) -> VecInt:
        """Divide rounding up."""
        return self._apply(other, lambda a, b: -(-a // b))

    def pairmax(self, other: int | VecIntLike) -> VecInt:
        """Return the element-wise maximum."""
        return self._apply(other, max)

    def pairmin(self, other: int | VecIntLike) -> VecInt:
        """Return the element-wise minimum."""
        return self._apply(other, min)

    def add_or_none(self, other: VecInt | None) -> VecInt | None:
        """Return self + other, or None if `other` is None."""
        return None if other is None else self + other

    def moveaxis(self, source: int | list[int], target: int | list[int]) -> VecInt:
        """Move values (and their axis names) like np.moveaxis; not a swap."""
        permutation = np.moveaxis(np.empty(tuple(range(len(self._data)))), source, target).shape
        return VecInt._of(
            tuple(self._data[i] for i in permutation), tuple(self.axes[i] for i in permutation)
        )


VecIntLike: TypeAlias = VecInt | Vec3Int | tuple[int, ...] | npt.NDArray[Any] | Iterable[int]
