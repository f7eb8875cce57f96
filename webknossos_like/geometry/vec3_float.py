"""An immutable 3D float vector (x, y, z), e.g. a voxel size or a sub-voxel position."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, SupportsIndex, TypeAlias, overload

import attrs
import numpy as np
import numpy.typing as npt

from webknossos_like.errors import GeometryError
from webknossos_like.geometry.vec3_int import Vec3Int

__all__ = ["Vec3Float", "Vec3FloatLike"]


def _invalid(shown: object) -> GeometryError:
    """Build the error raised for anything that is not three real numbers."""
    return GeometryError(f"Vec3Float components must be three numbers, got {shown!r}")


def _number(value: object, shown: object) -> float:
    """Return `value` as a float if it is a real number (not a bool or a string)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise _invalid(shown)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    raise _invalid(shown)


@attrs.frozen(init=False, repr=False, eq=False)
class Vec3Float:
    """Three Python floats; compares, orders and hashes like the plain tuple (x, y, z)."""

    x: float
    y: float
    z: float

    # Make numpy defer to our reflected operators.
    __array_ufunc__: ClassVar[None] = None

    @overload
    def __init__(self, x: float, y: float, z: float, /) -> None: ...

    @overload
    def __init__(self, x: Vec3FloatLike, /) -> None: ...

    def __init__(self, *args: Any) -> None:
        """Build from three numbers or from one vector, sequence or array of three numbers."""
        if len(args) == 3:
            values = tuple(_number(value, args) for value in args)
        elif len(args) == 1:
            value = args[0]
            if isinstance(value, (Vec3Float, Vec3Int)):
                values = (float(value.x), float(value.y), float(value.z))
            elif isinstance(value, np.ndarray):
                if value.shape != (3,) or value.dtype == np.bool_:
                    raise _invalid(value)
                values = tuple(_number(item, value) for item in value.tolist())
            elif isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
                items = list(value)
                if len(items) != 3:
                    raise _invalid(value)
                values = tuple(_number(item, value) for item in items)
            else:
                raise _invalid(value)
        else:
            raise _invalid(args)
        object.__setattr__(self, "x", values[0])
        object.__setattr__(self, "y", values[1])
        object.__setattr__(self, "z", values[2])

    @classmethod
    def from_xyz(cls, x: float, y: float, z: float) -> Vec3Float:
        """Build from three numbers."""
        return cls(x, y, z)

    @classmethod
    def from_str(cls, string: str) -> Vec3Float:
        """Parse "1.0,2.0,3.0", "(1, 2, 3)" or space-separated numbers."""
        parts = [part for part in re.split(r"[,\s]+", string.strip().strip("()")) if part]
        try:
            return cls([float(part) for part in parts])
        except ValueError:
            raise GeometryError(f"Cannot parse a Vec3Float from {string!r}") from None

    @classmethod
    def zeros(cls) -> Vec3Float:
        """Return (0.0, 0.0, 0.0)."""
        return cls(0.0, 0.0, 0.0)

    @classmethod
    def ones(cls) -> Vec3Float:
        """Return (1.0, 1.0, 1.0)."""
        return cls(1.0, 1.0, 1.0)

    @classmethod
    def full(cls, value: float) -> Vec3Float:
        """Return (value, value, value)."""
        return cls(value, value, value)

    def with_x(self, new_x: float) -> Vec3Float:
        """Return a copy with x replaced."""
        return Vec3Float(new_x, self.y, self.z)

    def with_y(self, new_y: float) -> Vec3Float:
        """Return a copy with y replaced."""
        return Vec3Float(self.x, new_y, self.z)

    def with_z(self, new_z: float) -> Vec3Float:
        """Return a copy with z replaced."""
        return Vec3Float(self.x, self.y, new_z)

    # --- sequence protocol --------------------------------------------------------------------

    def to_tuple(self) -> tuple[float, float, float]:
        """Return (x, y, z)."""
        return (self.x, self.y, self.z)

    def to_list(self) -> list[float]:
        """Return [x, y, z]."""
        return [self.x, self.y, self.z]

    def to_np(self) -> npt.NDArray[np.float64]:
        """Return a new float64 array of shape (3,)."""
        return np.array(self.to_tuple(), dtype=np.float64)

    def to_vec3_int(self) -> Vec3Int:
        """Truncate every component towards zero (int()), as webknossos does."""
        return Vec3Int(int(self.x), int(self.y), int(self.z))

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        """Let np.asarray(v) give a float64 array (or `dtype`)."""
        return np.array(self.to_tuple(), dtype=dtype or np.float64)

    def __iter__(self) -> Iterator[float]:
        """Iterate over x, y, z."""
        return iter(self.to_tuple())

    def __len__(self) -> int:
        """Return 3."""
        return 3

    @overload
    def __getitem__(self, index: SupportsIndex) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[float, ...]: ...

    def __getitem__(self, index: SupportsIndex | slice) -> float | tuple[float, ...]:
        """Return component `index` like a tuple would."""
        return self.to_tuple()[index]

    def __contains__(self, item: object) -> bool:
        """Return whether `item` equals one of the components."""
        return item in self.to_tuple()

    def index(self, value: object) -> int:
        """Return the position of the first component equal to `value` (ValueError if none)."""
        return self.to_tuple().index(value)

    def count(self, value: object) -> int:
        """Return how many components equal `value`."""
        return self.to_tuple().count(value)

    # --- comparison ---------------------------------------------------------------------------

    def _comparable(self, other: object) -> tuple[Any, ...] | None:
        """Return `other` as a tuple for comparison, or None if it is not a Vec3Float or tuple."""
        if isinstance(other, Vec3Float):
            return other.to_tuple()
        if isinstance(other, tuple):
            return other
        return None

    def __eq__(self, other: object) -> bool:
        """Compare with another Vec3Float or a tuple, like tuples compare."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return self.to_tuple() == data

    def __hash__(self) -> int:
        """Hash like the tuple (x, y, z)."""
        return hash(self.to_tuple())

    def __lt__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return self.to_tuple() < data

    def __le__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return self.to_tuple() <= data

    def __gt__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return self.to_tuple() > data

    def __ge__(self, other: object) -> bool:
        """Order lexicographically, like the plain tuple."""
        data = self._comparable(other)
        if data is None:
            return NotImplemented
        return self.to_tuple() >= data

    def __repr__(self) -> str:
        """Return e.g. "Vec3Float(1.0,2.5,3.0)" (no spaces, as webknossos prints it)."""
        return f"Vec3Float({self.x},{self.y},{self.z})"

    # --- arithmetic ---------------------------------------------------------------------------

    def _apply(
        self, other: float | Vec3FloatLike, fn: Callable[[float, float], float]
    ) -> Vec3Float:
        """Combine component-wise with a vector or a broadcast scalar."""
        if isinstance(other, (int, float, np.integer, np.floating)):
            value = _number(other, other)
            o = (value, value, value)
        else:
            o = Vec3Float(other).to_tuple()
        return Vec3Float(fn(self.x, o[0]), fn(self.y, o[1]), fn(self.z, o[2]))

    def __add__(self, other: float | Vec3FloatLike) -> Vec3Float:
        """Add component-wise (a number is broadcast)."""
        return self._apply(other, lambda a, b: a + b)

    def __radd__(self, other: float | Vec3FloatLike) -> Vec3Float:
        """Add with the vector on the right."""
        return self._apply(other, lambda a, b: b + a)

    def __sub__(self, other: float | Vec3FloatLike) -> Vec3Float:
        """Subtract component-wise."""
        return self._apply(other, lambda a, b: a - b)

    def __rsub__(self, other: float | Vec3FloatLike) -> Vec3Float:
        """Subtract this vector from `other`."""
        return self._apply(other, lambda a, b: b - a)

    def __mul__(self, other: float | Vec3FloatLike) -> Vec3Float:
        """Multiply component-wise."""
        return self._apply(other, lambda a, b: a * b)

    def __rmul__(self, other: float | Vec3FloatLike) -> Vec3Float:
        """Multiply with the vector on the right."""
        return self._apply(other, lambda a, b: b * a)

    def __truediv__(self, other: float | Vec3FloatLike) -> Vec3Float:
        """Divide component-wise (ZeroDivisionError for a zero divisor)."""
        return self._apply(other, lambda a, b: a / b)

    def __neg__(self) -> Vec3Float:
        """Negate every component."""
        return Vec3Float(-self.x, -self.y, -self.z)

    def pairmax(self, other: float | Vec3FloatLike) -> Vec3Float:
        """Return the component-wise maximum."""
        return self._apply(other, max)

    def pairmin(self, other: float | Vec3FloatLike) -> Vec3Float:
        """Return the component-wise minimum."""
        return self._apply(other, min)

    def prod(self) -> float:
        """Return x * y * z."""
        return self.x * self.y * self.z


Vec3FloatLike: TypeAlias = (
    Vec3Float | Vec3Int | tuple[float, float, float] | npt.NDArray[Any] | Iterable[float]
)
