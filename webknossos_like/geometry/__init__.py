"""Geometry value types: integer and float vectors, magnifications and bounding boxes."""

from __future__ import annotations

from webknossos_like.geometry.bounding_box import BoundingBox
from webknossos_like.geometry.mag import Mag, MagLike
from webknossos_like.geometry.nd_bounding_box import NDBoundingBox
from webknossos_like.geometry.normalized_bounding_box import NormalizedBoundingBox
from webknossos_like.geometry.vec3_float import Vec3Float, Vec3FloatLike
from webknossos_like.geometry.vec3_int import Vec3Int, Vec3IntLike
from webknossos_like.geometry.vec_int import VecInt, VecIntLike

__all__ = [
    "BoundingBox",
    "Mag",
    "MagLike",
    "NDBoundingBox",
    "NormalizedBoundingBox",
    "Vec3Float",
    "Vec3FloatLike",
    "Vec3Int",
    "Vec3IntLike",
    "VecInt",
    "VecIntLike",
]
