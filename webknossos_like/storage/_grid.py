"""Grid helpers shared by the storage backends."""

from __future__ import annotations

from ..geometry import BoundingBox, Vec3Int


def align_outward(bbox: BoundingBox, grid: Vec3Int) -> BoundingBox:
    """The smallest box containing `bbox` whose corners lie on multiples of `grid`."""
    topleft = (bbox.topleft // grid) * grid
    bottomright = bbox.bottomright.ceildiv(grid) * grid
    return BoundingBox(topleft, bottomright - topleft)
