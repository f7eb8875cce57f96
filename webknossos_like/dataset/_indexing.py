"""NumPy-style indexing on views: turn `view[x0:x1, y, ...]` into a box in mag coordinates."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError
from ..geometry import BoundingBox, Vec3Int


def parse_index(key: Any, extent: BoundingBox) -> tuple[BoundingBox, tuple[int, ...]]:
    """Resolve an index into a box (mag coordinates) and the spatial axes that integers dropped.

    Coordinates are absolute in the mag's own voxel grid; an open slice end falls back to the
    view's extent (`extent`, also in mag coordinates). Steps other than 1 are refused.
    """
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        if sum(k is Ellipsis for k in key) > 1:
            raise InvalidArgumentError("An index can only have a single ellipsis ('...').")
        position = next(i for i, k in enumerate(key) if k is Ellipsis)
        fill = (slice(None),) * (3 - (len(key) - 1))
        key = key[:position] + fill + key[position + 1 :]
    if len(key) > 3:
        raise InvalidArgumentError(
            f"Views are indexed by (x, y, z) in mag coordinates; got {len(key)} indices."
        )
    key = key + (slice(None),) * (3 - len(key))
    starts: list[int] = []
    stops: list[int] = []
    dropped: list[int] = []
    for axis, (item, low, high) in enumerate(
        zip(key, extent.topleft, extent.bottomright, strict=True)
    ):
        if isinstance(item, slice):
            if item.step not in (None, 1):
                raise InvalidArgumentError(
                    f"Only step 1 is supported, got {item.step} on axis {'xyz'[axis]}."
                )
            start = low if item.start is None else _as_int(item.start, axis)
            stop = high if item.stop is None else _as_int(item.stop, axis)
            if stop < start:
                raise InvalidArgumentError(
                    f"Empty or reversed slice {start}:{stop} on axis {'xyz'[axis]}."
                )
        else:
            start = _as_int(item, axis)
            stop = start + 1
            dropped.append(axis)
        starts.append(start)
        stops.append(stop)
    topleft = Vec3Int(starts)
    return BoundingBox(topleft, Vec3Int(stops) - topleft), tuple(dropped)


def _as_int(value: Any, axis: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidArgumentError(
            f"Index on axis {'xyz'[axis]} must be an int or a slice of ints, got {value!r}."
        )
    return int(value.__index__())
