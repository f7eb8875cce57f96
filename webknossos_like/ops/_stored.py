"""Which regions of a view hold stored data, so operations can skip empty shards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..geometry import BoundingBox

if TYPE_CHECKING:
    from ..dataset.view import View


class StoredShards:
    """The set of a view's stored shard positions, queried by mag-1 boxes."""

    def __init__(self, view: View) -> None:
        self._grid = view.shard_shape_mag1
        self._indices = {
            (box.topleft // self._grid).to_tuple() for box in view.get_bounding_boxes_on_disk()
        }

    def touches(self, box: BoundingBox) -> bool:
        """Whether any stored shard overlaps `box`."""
        low = box.topleft // self._grid
        high = box.bottomright.ceildiv(self._grid)
        return any(
            (x, y, z) in self._indices
            for x in range(low.x, high.x)
            for y in range(low.y, high.y)
            for z in range(low.z, high.z)
        )
