"""An immutable 3D integer vector (x, y, z) used for positions, sizes and shapes."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar, SupportsIndex, TypeAlias, overload

import attrs
import numpy as np
import numpy.typing as npt

from webknossos_like.errors import GeometryError

__all__ = ["Vec3Int", "Vec3IntLike"]


_MISSING: Any = object()


def _component(value: object) -> int | None:
    """Return `value` as a plain int if it is an integer (or whole float), else None."""
    if type(value) is int:
        return value
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        as_float = float(value)
        if math.isfinite(as_float) and as_float.is_integer():
            return int(as_float)
    return None


def _invalid(shown: object) -> GeometryError:
    """Build the error raised for anything that is not three integers."""
    return GeometryError(f"Vec3Int components must be three integers, got {shown!r}")


def _parse_single(value: object) -> tuple[int, int, int]:
    """Turn one constructor argument (vector, sequence, array or scalar) into three ints."""
    if isinstance(value, Vec3Int):
        return (value.x, value.y, value.z)
    if isinstance(value, (str, bytes)):
        raise _invalid(value)
    items: list[object]
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            scalar = _component(value.item())
            if scalar is None or value.dtype == np.bool_:
                raise _invalid(value)
            return (scalar, scalar, scalar)
        if value.shape != (3,):
            raise _invalid(value)
        if value.dtype == np.bool_:
            raise _invalid(value)
        items = list(value.tolist())
    elif isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        scalar = _component(value)
        if scalar is None:
            raise _invalid(value)
        return (scalar, scalar, scalar)
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise _invalid(value)
    if len(items) != 3:
        raise _invalid(value)
    x, y, z = (_component(item) for item in items)
    if x is None or y is None or z is None:
        raise _invalid(value)
    return (x, y, z)


@attrs.frozen(init=False, repr=False, eq=False)
class Vec3Int:
    """Three plain Python ints; compares equal to a tuple/list of the same ints."""

    x: int
    y: int
    z: int

    # Make numpy defer to our reflected operators, so `np.int64(2) * v` is a Vec3Int.
    __array_ufunc__: ClassVar[None] = None

    axes: ClassVar[tuple[str, str, str]] = ("x", "y", "z")
    """The axis names, as on webknossos' Vec3Int (always x, y, z)."""

    @overload
    def __init__(self, x: int, y: int, z: int) -> None: ...

    @overload
    def __init__(self, x: Vec3IntLike | Iterable[int], /) -> None: ...

    def __init__(self, x: Any, y: Any = _MISSING, z: Any = _MISSING) -> None:
        """Build from three ints, one vector-like of three ints, or one int broadcast to all axes.

        The keyword form `Vec3Int(x=1, y=2, z=3)` also works, so attrs.evolve() and cattrs can
        rebuild instances.
        """
        if y is not _MISSING and z is not _MISSING:
            cx, cy, cz = _component(x), _component(y), _component(z)
            if cx is None or cy is None or cz is None:
                raise _invalid((x, y, z))
        elif y is _MISSING and z is _MISSING:
            cx, cy, cz = _parse_single(x)
        else:
            raise _invalid(tuple(arg for arg in (x, y, z) if arg is not _MISSING))
        object.__setattr__(self, "x", cx)
        object.__setattr__(self, "y", cy)
        object.__setattr__(self, "z", cz)

    @classmethod
    def _of(cls, x: int, y: int, z: int) -> Vec3Int:
        """Build from three values already known to be plain ints, skipping validation."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "x", x)
        object.__setattr__(obj, "y", y)
        object.__setattr__(obj, "z", z)
        return obj

    # --- constructors -------------------------------------------------------------------------

    @classmethod
    def zeros(cls) -> Vec3Int:
        """Return (0, 0, 0), the origin and the size of an empty box."""
        return cls._of(0, 0, 0)

    @classmethod
    def ones(cls) -> Vec3Int:
        """Return (1, 1, 1), the neutral element of multiplication."""
        return cls._of(1, 1, 1)

    @classmethod
    def full(cls, value: int) -> Vec3Int:
        """Return (value, value, value) for a uniform vector."""
        return cls(value)

    @staticmethod
    def from_xyz(x: int, y: int, z: int) -> Vec3Int:
        """Build from three components (validated, unlike webknossos' unchecked fast path)."""
        return Vec3Int(x, y, z)

    @staticmethod
    def from_vec3_float(vec: Iterable[float]) -> Vec3Int:
        """Truncate three floats towards zero (`int()` per component)."""
        x, y, z = vec
        return Vec3Int._of(int(x), int(y), int(z))

    @staticmethod
    def from_vec_or_int(vec_or_int: Vec3IntLike) -> Vec3Int:
        """Build from a vector-like or broadcast an int to all three axes."""
        return _coerce(vec_or_int)

    @staticmethod
    def from_str(string: str) -> Vec3Int:
        """Parse "(1,2,3)", "1,2,3" or a single int "4" (broadcast), as webknossos does."""
        text = string.strip()
        match = re.fullmatch(r"\(?\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*\)?", text)
        if match is not None:
            return Vec3Int._of(*(int(group) for group in match.groups()))
        try:
            return Vec3Int(int(text))
        except ValueError:
            raise GeometryError(f"Cannot parse a Vec3Int from {string!r}") from None

    # --- sequence protocol --------------------------------------------------------------------

    def __iter__(self) -> Iterator[int]:
        """Iterate over x, y, z so that `tuple(v)` and unpacking work."""
        return iter((self.x, self.y, self.z))

    def __len__(self) -> int:
        """Return 3, the number of components."""
        return 3

    @overload
    def __getitem__(self, index: SupportsIndex) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[int, ...]: ...

    def __getitem__(self, index: SupportsIndex | slice) -> int | tuple[int, ...]:
        """Return component `index` (0 = x, 1 = y, 2 = z) like a tuple would."""
        return (self.x, self.y, self.z)[index]

    def __contains__(self, item: object) -> bool:
        """Return whether `item` equals one of the components."""
        return item in (self.x, self.y, self.z)

    def __bool__(self) -> bool:
        """Always true (three components), like a non-empty tuple."""
        return True

    def index(self, value: object) -> int:
        """Return the position of the first component equal to `value` (ValueError if none)."""
        return (self.x, self.y, self.z).index(value)

    def count(self, value: object) -> int:
        """Return how many components equal `value`."""
        return (self.x, self.y, self.z).count(value)

    # --- axis access (webknossos VecInt API) --------------------------------------------------

    def _axis_index(self, axis: str | int) -> int:
        """Map "x"/"y"/"z" or 0/1/2 to a component index."""
        if isinstance(axis, str):
            if axis not in self.axes:
                raise KeyError(f"Axis {axis} not found in {self.axes}")
            return self.axes.index(axis)
        index = int(axis)
        if not -3 <= index < 3:
            raise IndexError(f"Vec3Int index {axis} out of range")
        return index % 3

    @property
    def xyz(self) -> Vec3Int:
        """Return the vector itself (x, y, z), as webknossos' VecInt.xyz."""
        return self

    @property
    def c(self) -> int:
        """Raise KeyError: a Vec3Int has no channel axis (as in webknossos)."""
        raise KeyError("The vector does not have an c component.")

    def get(self, axis: str, default: int | None = None) -> int:
        """Return the component of `axis` ("x", "y" or "z"), else `default` (KeyError if None)."""
        if axis in self.axes:
            return self[self.axes.index(axis)]
        if default is None:
            raise KeyError(f"Axis {axis} not found in {self.axes}")
        return default

    def with_replaced(self, axis: str | int, new_element: int) -> Vec3Int:
        """Return a copy with the component at `axis` (name or index) replaced."""
        values = [self.x, self.y, self.z]
        values[self._axis_index(axis)] = new_element
        return Vec3Int(values)

    def with_x(self, new_x: int) -> Vec3Int:
        """Return a copy with x replaced."""
        return Vec3Int(new_x, self.y, self.z)

    def with_y(self, new_y: int) -> Vec3Int:
        """Return a copy with y replaced."""
        return Vec3Int(self.x, new_y, self.z)

    def with_z(self, new_z: int) -> Vec3Int:
        """Return a copy with z replaced."""
        return Vec3Int(self.x, self.y, new_z)

    def with_xyz(self, new_xyz: Vec3IntLike) -> Vec3Int:
        """Return `new_xyz` as a Vec3Int (every axis of a Vec3Int is replaced)."""
        return _coerce(new_xyz)

    def with_c(self, new_c: int) -> Vec3Int:
        """Raise KeyError: a Vec3Int has no channel axis (as in webknossos)."""
        raise KeyError("The vector does not have an c component.")

    def contains(self, needle: int) -> bool:
        """Return whether some component equals `needle`."""
        return needle in (self.x, self.y, self.z)

    def add_or_none(self, other: Vec3IntLike | None) -> Vec3Int | None:
        """Return self + other, or None if `other` is None."""
        return None if other is None else self + other

    def moveaxis(self, source: int | list[int], target: int | list[int]) -> Vec3Int:
        """Move component `source` to position `target` (not a swap), like np.moveaxis."""
        # An empty array whose shape is (0, 1, 2) reveals the permutation np.moveaxis applies.
        permutation = np.moveaxis(np.empty((0, 1, 2)), source, target).shape
        values = self.to_tuple()
        return Vec3Int._of(*(values[i] for i in permutation))

    # --- comparison ---------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Compare component-wise with another Vec3Int or a tuple/list of three numbers."""
        if isinstance(other, Vec3Int):
            return self.x == other.x and self.y == other.y and self.z == other.z
        if isinstance(other, (tuple, list)):
            return len(other) == 3 and (self.x, self.y, self.z) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        """Hash like the tuple (x, y, z), consistent with equality to tuples."""
        return hash((self.x, self.y, self.z))

    def _comparable(self, other: object) -> tuple[Any, ...] | None:
        """Return `other` as a tuple for ordering, or None if it is not a vector or tuple."""
        if isinstance(other, Vec3Int):
            return (other.x, other.y, other.z)
        if isinstance(other, tuple):
            return other
        return None

    def __lt__(self, other: object) -> bool:
        """Order lexicographically (x, then y, then z), like the plain tuple; as webknossos."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return (self.x, self.y, self.z) < data

    def __le__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return (self.x, self.y, self.z) <= data

    def __gt__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return (self.x, self.y, self.z) > data

    def __ge__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return (self.x, self.y, self.z) >= data

    def __repr__(self) -> str:
        """Return e.g. "Vec3Int(1,2,3)" (no spaces, as webknossos prints it)."""
        return f"Vec3Int({self.x},{self.y},{self.z})"

    # --- arithmetic ---------------------------------------------------------------------------

    def __add__(self, other: Vec3IntLike) -> Vec3Int:
        """Add component-wise (an int is broadcast)."""
        o = _coerce(other)
        return Vec3Int._of(self.x + o.x, self.y + o.y, self.z + o.z)

    def __radd__(self, other: Vec3IntLike) -> Vec3Int:
        """Add component-wise with the vector on the right."""
        return _coerce(other) + self

    def __sub__(self, other: Vec3IntLike) -> Vec3Int:
        """Subtract component-wise (an int is broadcast)."""
        o = _coerce(other)
        return Vec3Int._of(self.x - o.x, self.y - o.y, self.z - o.z)

    def __rsub__(self, other: Vec3IntLike) -> Vec3Int:
        """Subtract this vector from `other` component-wise."""
        return _coerce(other) - self

    def __mul__(self, other: Vec3IntLike) -> Vec3Int:
        """Multiply component-wise (an int is broadcast)."""
        o = _coerce(other)
        return Vec3Int._of(self.x * o.x, self.y * o.y, self.z * o.z)

    def __rmul__(self, other: Vec3IntLike) -> Vec3Int:
        """Multiply component-wise with the vector on the right (`2 * v`)."""
        return _coerce(other) * self

    def __floordiv__(self, other: Vec3IntLike) -> Vec3Int:
        """Floor-divide component-wise; a zero divisor raises ZeroDivisionError."""
        o = _coerce(other)
        return Vec3Int._of(self.x // o.x, self.y // o.y, self.z // o.z)

    def __rfloordiv__(self, other: Vec3IntLike) -> Vec3Int:
        """Floor-divide `other` by this vector component-wise."""
        return _coerce(other) // self

    def __mod__(self, other: Vec3IntLike) -> Vec3Int:
        """Take the Python (floor) modulo component-wise."""
        o = _coerce(other)
        return Vec3Int._of(self.x % o.x, self.y % o.y, self.z % o.z)

    def __rmod__(self, other: Vec3IntLike) -> Vec3Int:
        """Take `other` modulo this vector component-wise."""
        return _coerce(other) % self

    def __neg__(self) -> Vec3Int:
        """Negate every component."""
        return Vec3Int._of(-self.x, -self.y, -self.z)

    def ceildiv(self, other: Vec3IntLike) -> Vec3Int:
        """Divide rounding up (exact integer arithmetic, also for negatives), e.g. to count chunks."""
        o = _coerce(other)
        return Vec3Int._of(-(-self.x // o.x), -(-self.y // o.y), -(-self.z // o.z))

    def pairmax(self, other: Vec3IntLike) -> Vec3Int:
        """Return the component-wise maximum of both vectors."""
        o = _coerce(other)
        return Vec3Int._of(max(self.x, o.x), max(self.y, o.y), max(self.z, o.z))

    def pairmin(self, other: Vec3IntLike) -> Vec3Int:
        """Return the component-wise minimum of both vectors."""
        o = _coerce(other)
        return Vec3Int._of(min(self.x, o.x), min(self.y, o.y), min(self.z, o.z))

    # --- predicates and reductions ------------------------------------------------------------

    def prod(self) -> int:
        """Return x * y * z as an unbounded Python int (e.g. a voxel count)."""
        return self.x * self.y * self.z

    def is_positive(self, strictly_positive: bool = False) -> bool:
        """Return whether all components are >= 0 (or > 0 with `strictly_positive`)."""
        if strictly_positive:
            return self.x > 0 and self.y > 0 and self.z > 0
        return self.x >= 0 and self.y >= 0 and self.z >= 0

    def is_uniform(self) -> bool:
        """Return whether x == y == z."""
        return self.x == self.y == self.z

    # --- conversions --------------------------------------------------------------------------

    def to_tuple(self) -> tuple[int, int, int]:
        """Return (x, y, z) as a tuple of plain ints."""
        return (self.x, self.y, self.z)

    def to_list(self) -> list[int]:
        """Return [x, y, z] as a list of plain ints (e.g. for JSON)."""
        return [self.x, self.y, self.z]

    def to_np(self) -> npt.NDArray[np.int64]:
        """Return the components as a new int64 numpy array of shape (3,)."""
        return np.array([self.x, self.y, self.z], dtype=np.int64)


Vec3IntLike: TypeAlias = Vec3Int | tuple[int, int, int] | Sequence[int] | npt.NDArray[Any] | int


def _coerce(value: Vec3IntLike | Iterable[int]) -> Vec3Int:
    """Return `value` as a Vec3Int, with fast paths for the common operand types."""
    if type(value) is Vec3Int:
        return value
    if type(value) is int:
        return Vec3Int._of(value, value, value)
    return Vec3Int(value)
