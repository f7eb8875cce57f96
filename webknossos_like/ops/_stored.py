"""Which regions of a view hold stored data, so operations can skip empty shards."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..geometry import BoundingBox, Vec3Int

if TYPE_CHECKING:
    from ..dataset.view import View


def _cells(box: BoundingBox, grid: Vec3Int) -> list[tuple[int, int, int]]:
    low = box.topleft // grid
    high = box.bottomright.ceildiv(grid)
    return [
        (x, y, z)
        for x in range(low.x, high.x)
        for y in range(low.y, high.y)
        for z in range(low.z, high.z)
    ]


class StoredShards:
    """Stored boxes bucketed on a grid, for quick overlap queries (`StoredShards(view)`)."""

    def __init__(
        self,
        view: View | None = None,
        *,
        boxes: Iterable[BoundingBox] = (),
        grid: Vec3Int | None = None,
    ) -> None:
        if view is not None:
            boxes, grid = view.get_bounding_boxes_on_disk(), view.shard_shape_mag1
        self._grid = grid if grid is not None else Vec3Int(64)
        self._buckets: dict[tuple[int, int, int], list[BoundingBox]] = {}
        for box in boxes:
            for cell in _cells(box, self._grid):
                self._buckets.setdefault(cell, []).append(box)

    def touches(self, box: BoundingBox) -> bool:
        """Whether any stored box overlaps `box`."""
        return any(
            not box.intersected_with(stored).is_empty()
            for cell in _cells(box, self._grid)
            for stored in self._buckets.get(cell, ())
        )
