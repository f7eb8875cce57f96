"""Stored Zarr dimensions mapped to this library's `(c, x, y, z)` view.

OME-Zarr orders axes `t, c, z, y, x` (any subset ending in the space axes); webknossos stores
`c, x, y, z`. The mapping is a tensorstore index transform, so no data is copied.

Rules (documented in `docs`-facing errors):
- names are case-insensitive and must be distinct, from `t`, `c`, `x`, `y`, `z`; `x` and `y`
  are required;
- a missing `c` is one channel, a missing `z` is one slice (2D images);
- a `t` axis of length 1 is dropped; a longer one is refused (`UnsupportedFormatError`):
  a 3D view cannot choose a time point for the caller, who can pick one with another tool;
- unnamed arrays of 4 dimensions are taken as webknossos' `c, x, y, z`; others need names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from ...errors import UnsupportedFormatError

CXYZ = ("c", "x", "y", "z")
_ALLOWED = frozenset({"t", *CXYZ})


@attrs.frozen
class AxisMapping:
    """Where each of `c, x, y, z` lies among the stored dimensions (`None`: absent, size 1)."""

    names: tuple[str, ...]

    @property
    def is_identity(self) -> bool:
        """Stored exactly as `c, x, y, z` (the only layout this library writes)."""
        return self.names == CXYZ

    def position(self, axis: str) -> int | None:
        """The stored dimension of `axis`, or None if the array lacks it."""
        return self.names.index(axis) if axis in self.names else None


def axis_mapping(
    names: Sequence[str | None] | None, shape: Sequence[int], where: object
) -> AxisMapping:
    """Check stored axis names against the rules above; `where` names the array in errors."""
    if names is None or all(n is None for n in names):
        if len(shape) != 4:
            raise UnsupportedFormatError(
                f"{where}: {len(shape)} unnamed dimensions; pass `axes` (e.g. ['z', 'y', 'x']) "
                "or add OME-NGFF `multiscales` axes."
            )
        return AxisMapping(CXYZ)
    if any(n is None for n in names):
        raise UnsupportedFormatError(f"{where}: some dimensions are unnamed: {list(names)}.")
    lowered = tuple(str(n).lower() for n in names)
    if len(lowered) != len(shape):
        raise UnsupportedFormatError(
            f"{where}: {len(lowered)} axis names {list(lowered)} for {len(shape)} dimensions."
        )
    unknown = [n for n in lowered if n not in _ALLOWED]
    if unknown or len(set(lowered)) != len(lowered) or not {"x", "y"} <= set(lowered):
        raise UnsupportedFormatError(
            f"{where}: axes {list(lowered)} cannot be mapped to (c, x, y, z): names must be "
            "distinct, from t, c, x, y, z, and include x and y."
        )
    if "t" in lowered and shape[lowered.index("t")] != 1:
        raise UnsupportedFormatError(
            f"{where}: a time axis of length {shape[lowered.index('t')]}; only single time "
            "points are supported (extract one first)."
        )
    return AxisMapping(lowered)


def to_cxyz(store: Any, mapping: AxisMapping) -> Any:
    """A tensorstore view of `store` with exactly the dimensions `c, x, y, z`, in that order."""
    import tensorstore as ts

    view = store
    names = list(mapping.names)
    if "t" in names:
        view = view[ts.d[names.index("t")][0]]
        names.remove("t")
    if "c" not in names:
        view = view[ts.newaxis, ...]
        names.insert(0, "c")
    if "z" not in names:
        view = view[..., ts.newaxis]
        names.append("z")
    order = [names.index(a) for a in CXYZ]
    if order != [0, 1, 2, 3]:
        view = view[ts.d[order].transpose[:]]
    return view
