"""An immutable 3D integer vector (x, y, z) used for positions, sizes and shapes."""

from __future__ import annotations

import math
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

    def __repr__(self) -> str:
        """Return e.g. "Vec3Int(1, 2, 3)"."""
        return f"Vec3Int({self.x}, {self.y}, {self.z})"

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
