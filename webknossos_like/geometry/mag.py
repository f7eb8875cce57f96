"""A magnification level: a power-of-two downsampling factor per axis, with a total order."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from webknossos_like.errors import GeometryError, InvalidMagError
from webknossos_like.geometry.vec3_int import Vec3Int, Vec3IntLike

__all__ = ["Mag", "MagLike"]

_UNIFORM = re.compile(r"[0-9]+")
_ANISOTROPIC = re.compile(r"[0-9]+-[0-9]+-[0-9]+")


def _invalid(value: object) -> InvalidMagError:
    """Build the error raised for anything that does not describe a mag."""
    return InvalidMagError(
        "Mag must be a power-of-two int, a string like '2' or '2-2-1', "
        f"or three power-of-two ints; got {value!r}"
    )


def _is_power_of_two(value: int) -> bool:
    """Return whether `value` is 1, 2, 4, 8, ..."""
    return value > 0 and value & (value - 1) == 0


def _parse(value: MagLike) -> Vec3Int:
    """Turn anything Mag() accepts into a validated Vec3Int of powers of two."""
    if isinstance(value, Mag):
        return value.as_vec3_int
    if isinstance(value, str):
        if _UNIFORM.fullmatch(value):
            vec = Vec3Int(int(value))
        elif _ANISOTROPIC.fullmatch(value):
            vec = Vec3Int([int(part) for part in value.split("-")])
        else:
            raise _invalid(value)
    else:
        try:
            vec = Vec3Int(value)
        except GeometryError as error:
            raise _invalid(value) from error
    if not all(_is_power_of_two(component) for component in vec):
        raise _invalid(value)
    return vec


@attrs.frozen(init=False, repr=False, eq=False, order=False)
class Mag:
    """Downsampling factors per axis, each a positive power of two; Mag(2) == Mag("2-2-2")."""

    _vec: Vec3Int

    def __init__(self, mag: MagLike) -> None:
        """Parse an int, a "2" / "2-2-1" string, three ints, a Vec3Int, an array or a Mag."""
        object.__setattr__(self, "_vec", _parse(mag))

    # --- components ---------------------------------------------------------------------------

    @property
    def x(self) -> int:
        """Return the factor along x."""
        return self._vec.x

    @property
    def y(self) -> int:
        """Return the factor along y."""
        return self._vec.y

    @property
    def z(self) -> int:
        """Return the factor along z."""
        return self._vec.z

    @property
    def max_dim(self) -> int:
        """Return the largest factor, the primary key of the mag order."""
        return max(self._vec.x, self._vec.y, self._vec.z)

    @property
    def max_dim_log2(self) -> int:
        """Return log2 of the largest factor (0 for mag 1), e.g. the downsampling level."""
        return self.max_dim.bit_length() - 1

    @property
    def as_vec3_int(self) -> Vec3Int:
        """Return the factors as a Vec3Int for coordinate arithmetic."""
        return self._vec

    def to_vec3_int(self) -> Vec3Int:
        """Return the factors as a Vec3Int (the webknossos spelling of `as_vec3_int`)."""
        return self._vec

    # --- names and conversions ----------------------------------------------------------------

    def to_layer_name(self) -> str:
        """Return the folder name: "2" for a uniform mag, else "2-2-1"."""
        if self._vec.is_uniform():
            return str(self._vec.x)
        return self.to_long_layer_name()

    def to_long_layer_name(self) -> str:
        """Return the always three-part name, e.g. "2-2-2"."""
        return f"{self._vec.x}-{self._vec.y}-{self._vec.z}"

    def to_list(self) -> list[int]:
        """Return [x, y, z] as plain ints (e.g. for JSON)."""
        return self._vec.to_list()

    def to_tuple(self) -> tuple[int, int, int]:
        """Return (x, y, z) as plain ints."""
        return self._vec.to_tuple()

    def to_np(self) -> npt.NDArray[np.int64]:
        """Return the factors as a new int64 numpy array of shape (3,)."""
        return self._vec.to_np()

    def __iter__(self) -> Iterator[int]:
        """Iterate over x, y, z so that `tuple(mag)` and unpacking work."""
        return iter(self._vec)

    def _repr_html_(self) -> str:
        """A table for Jupyter (`webknossos_like.notebook.mag_html`)."""
        from webknossos_like.notebook.html import mag_html

        return mag_html(self)

    def __repr__(self) -> str:
        """Return e.g. "Mag(2-2-1)" (or "Mag(2)" for a uniform mag)."""
        return f"Mag({self.to_layer_name()})"

    def __str__(self) -> str:
        """Return the layer name, e.g. "2-2-1" or "2", as webknossos does."""
        return self.to_layer_name()

    # --- equality and total order -------------------------------------------------------------

    def _key(self) -> tuple[int, int, int, int]:
        """Return the sort key (max_dim, z, y, x); equal keys exactly when the mags are equal."""
        return (self.max_dim, self._vec.z, self._vec.y, self._vec.x)

    @staticmethod
    def _other(other: object) -> Mag | None:
        """Return `other` as a Mag if it describes one (Mag, int, "2-2-1", three ints), else None."""
        if isinstance(other, Mag):
            return other
        if other is None or isinstance(other, bool):
            return None
        try:
            return Mag(other)  # type: ignore[arg-type]
        except GeometryError:
            return None

    def __eq__(self, other: object) -> bool:
        """Compare the factor vectors; like webknossos, `Mag(2) == 2` and `== "2-2-2"` hold."""
        mag = Mag._other(other)
        if mag is None:
            return NotImplemented
        return self._vec == mag._vec

    def __hash__(self) -> int:
        """Hash like the factor tuple (as webknossos), consistent with equality."""
        return hash(self._vec.to_tuple())

    def __lt__(self, other: object) -> bool:
        """Order by (max_dim, z, y, x) so that sorted(), min() and max() work."""
        mag = Mag._other(other)
        if mag is None:
            return NotImplemented
        return self._key() < mag._key()

    def __le__(self, other: object) -> bool:
        """Order by (max_dim, z, y, x); consistent with ==."""
        mag = Mag._other(other)
        if mag is None:
            return NotImplemented
        return self._key() <= mag._key()

    def __gt__(self, other: object) -> bool:
        """Order by (max_dim, z, y, x); consistent with ==."""
        mag = Mag._other(other)
        if mag is None:
            return NotImplemented
        return self._key() > mag._key()

    def __ge__(self, other: object) -> bool:
        """Order by (max_dim, z, y, x); consistent with ==."""
        mag = Mag._other(other)
        if mag is None:
            return NotImplemented
        return self._key() >= mag._key()

    # --- arithmetic ---------------------------------------------------------------------------

    def __mul__(self, other: int | Vec3IntLike) -> Mag:
        """Multiply the factors (e.g. the next coarser mag); raises InvalidMagError if invalid."""
        return Mag(self._vec * other)

    def __rmul__(self, other: int | Vec3IntLike) -> Mag:
        """Multiply the factors with the mag on the right (`2 * mag`)."""
        return self.__mul__(other)

    def __floordiv__(self, other: int | Vec3IntLike) -> Mag:
        """Divide the factors exactly (e.g. the next finer mag); inexact or invalid results raise InvalidMagError."""
        divisor = Vec3Int(other)
        if not divisor.is_positive(strictly_positive=True) or (self._vec % divisor) != (0, 0, 0):
            raise InvalidMagError(
                f"{self!r} // {other!r} is not a mag: the division must be exact and "
                "leave a power of two on every axis"
            )
        return Mag(self._vec // divisor)


MagLike: TypeAlias = Mag | int | str | Sequence[int] | npt.NDArray[Any] | Vec3Int
