"""Geometry value types: 3D integer vectors, magnifications and bounding boxes."""

from __future__ import annotations

from webknossos_like.geometry.bounding_box import BoundingBox
from webknossos_like.geometry.mag import Mag, MagLike
from webknossos_like.geometry.vec3_int import Vec3Int, Vec3IntLike

__all__ = ["BoundingBox", "Mag", "MagLike", "Vec3Int", "Vec3IntLike"]
