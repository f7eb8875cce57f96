"""NumPy-style indexing on views: turn `view[x0:x1, y, ...]` into a box in mag coordinates."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError, OutOfBoundsError
from ..geometry import BoundingBox, Vec3Int


def parse_index(
    key: Any, extent: BoundingBox, *, inside: bool = True
) -> tuple[BoundingBox, tuple[int, ...]]:
    """Resolve an index into a box (mag coordinates) and the spatial axes that integers dropped.

    As in tensorstore, the view's box in mag coordinates (`extent`) is the index domain:
    coordinates are absolute in the mag's own voxel grid, open slice ends are the domain's,
    and (with `inside`) an index outside the domain, negative ones included (they never count
    from the end), raises `OutOfBoundsError` naming the domain. Steps other than 1 are refused.
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
        if inside and not (low <= start < high and stop <= high):
            raise OutOfBoundsError(_outside_message(axis, item, extent))
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


def _outside_message(axis: int, item: Any, extent: BoundingBox) -> str:
    """Why an index is outside the domain, and what the user probably meant."""
    domain = ", ".join(
        f"{name}: {low}..{high - 1}" if high > low else f"{name}: empty"
        for name, low, high in zip("xyz", extent.topleft, extent.bottomright, strict=True)
    )
    shown = (
        f"{'' if item.start is None else item.start}:{'' if item.stop is None else item.stop}"
        if isinstance(item, slice)
        else repr(item)
    )
    return (
        f"Index {shown} on axis {'xyz'[axis]} is outside this view's domain ({domain}, in the "
        "mag's own voxel grid). Indices are absolute coordinates of the mag, not offsets from "
        "the view's corner, and negative indices do not count from the end. To read beyond "
        "the data (zeros), use view.read(absolute_bounding_box=...)."
    )
