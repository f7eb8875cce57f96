"""`coordinateTransformations` of a layer: how it is placed into the dataset's shared space.

Pure metadata (webknossos applies them when rendering; voxels on disk never change). Two kinds
exist, in the JSON form webknossos reads and writes:
`{"type": "affine", "matrix": 4x4 rows}` and
`{"type": "thin_plate_spline", "correspondences": {"source": [[x, y, z]...], "target": [...]}}`.
A layer holds a list of them, applied in order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from ..errors import InvalidArgumentError, InvalidPropertiesError

__all__ = [
    "AffineCoordinateTransformation",
    "CoordinateTransformation",
    "ThinPlateSplineCoordinateTransformation",
    "coordinate_transformation_from_json",
]

_AXIS_INDEX = {"x": 0, "y": 1, "z": 2}


def _frozen_array(value: Any, shape: tuple[int | None, ...], what: str) -> np.ndarray:
    """A read-only float64 copy of `value` with `shape` (None: any length), or our error."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{what} must be numbers, got {value!r}.") from exc
    if array.ndim != len(shape) or any(
        want is not None and have != want for have, want in zip(array.shape, shape, strict=True)
    ):
        wanted = "x".join("N" if n is None else str(n) for n in shape)
        raise InvalidArgumentError(f"{what} must have shape {wanted}, got {array.shape}.")
    if not np.isfinite(array).all():
        raise InvalidArgumentError(f"{what} must be finite numbers.")
    array.setflags(write=False)
    return array


def _matrix(value: Any) -> np.ndarray:
    return _frozen_array(value, (4, 4), "An affine matrix")


def _points(value: Any) -> np.ndarray:
    points = _frozen_array(value, (None, 3), "Thin plate spline landmarks")
    if len(points) == 0:
        raise InvalidArgumentError("A thin plate spline needs at least one pair of landmarks.")
    return points


def _axis(axis: str) -> int:
    if axis not in _AXIS_INDEX:
        raise InvalidArgumentError(f"axis must be 'x', 'y' or 'z', got {axis!r}.")
    return _AXIS_INDEX[axis]


def _vector3(value: Iterable[float], what: str) -> np.ndarray:
    return _frozen_array(list(value), (3,), what)


class CoordinateTransformation:
    """Base of the transformation types: immutable values with a JSON form."""

    def to_json(self) -> dict[str, Any]:
        """The `coordinateTransformations` entry of this transformation."""
        raise NotImplementedError

    def __copy__(self) -> CoordinateTransformation:
        return self  # immutable: a copy is the same value

    def __deepcopy__(self, memo: dict[int, Any]) -> CoordinateTransformation:
        return self


@attrs.frozen(eq=False)
class AffineCoordinateTransformation(CoordinateTransformation):
    """A 4x4 homogeneous matrix (rows; translation in the last column): p -> M[:3,:3] p + M[:3,3].

    Build it with `identity()`, `from_translation/from_scale/from_rotation` and the chaining
    methods `translate/scale/rotate/flip/chain`, each applied after the transformation it is
    called on.
    """

    matrix: np.ndarray = attrs.field(converter=_matrix)

    @classmethod
    def identity(cls) -> AffineCoordinateTransformation:
        """The transformation that leaves the layer where it is."""
        return cls(np.eye(4))

    @classmethod
    def from_translation(cls, translation: Iterable[float]) -> AffineCoordinateTransformation:
        """Move the layer by `translation` (x, y, z)."""
        matrix = np.eye(4)
        matrix[:3, 3] = _vector3(translation, "translation")
        return cls(matrix)

    @classmethod
    def from_scale(cls, scale: Iterable[float]) -> AffineCoordinateTransformation:
        """Scale the layer by `scale` (x, y, z) around the origin."""
        matrix = np.eye(4)
        matrix[:3, :3] = np.diag(_vector3(scale, "scale"))
        return cls(matrix)

    @classmethod
    def from_rotation(cls, axis: str, angle: float) -> AffineCoordinateTransformation:
        """Rotate by `angle` degrees around `axis`, counter-clockwise seen from its positive end."""
        index = _axis(axis)
        radians = math.radians(angle)
        cos, sin = math.cos(radians), math.sin(radians)
        first, second = (index + 1) % 3, (index + 2) % 3
        matrix = np.eye(4)
        matrix[first, first], matrix[first, second] = cos, -sin
        matrix[second, first], matrix[second, second] = sin, cos
        return cls(matrix)

    def chain(self, other: AffineCoordinateTransformation) -> AffineCoordinateTransformation:
        """This transformation followed by `other`."""
        return AffineCoordinateTransformation(other.matrix @ self.matrix)

    def translate(self, translation: Iterable[float]) -> AffineCoordinateTransformation:
        """This transformation, then a translation."""
        return self.chain(self.from_translation(translation))

    def scale(self, scale: Iterable[float]) -> AffineCoordinateTransformation:
        """This transformation, then a scaling around the origin."""
        return self.chain(self.from_scale(scale))

    def rotate(self, axis: str, angle: float) -> AffineCoordinateTransformation:
        """This transformation, then a rotation (see `from_rotation`)."""
        return self.chain(self.from_rotation(axis, angle))

    def flip(self, axis: str) -> AffineCoordinateTransformation:
        """This transformation, then a mirroring at the origin along `axis`."""
        factors = [1.0, 1.0, 1.0]
        factors[_axis(axis)] = -1.0
        return self.chain(self.from_scale(factors))

    def apply(self, points: Any) -> np.ndarray:
        """Transform one (3,) point or an (N, 3) array of points."""
        array = np.asarray(points, dtype=np.float64)
        moved = array @ self.matrix[:3, :3].T + self.matrix[:3, 3]
        return np.asarray(moved)

    def to_json(self) -> dict[str, Any]:
        return {"type": "affine", "matrix": self.matrix.tolist()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AffineCoordinateTransformation):
            return NotImplemented
        return bool(np.array_equal(self.matrix, other.matrix))

    def __hash__(self) -> int:
        return hash(self.matrix.tobytes())


@attrs.frozen(eq=False)
class ThinPlateSplineCoordinateTransformation(CoordinateTransformation):
    """A smooth warp taking landmark `source[i]` onto `target[i]` (two (N, 3) arrays)."""

    source: np.ndarray = attrs.field(converter=_points)
    target: np.ndarray = attrs.field(converter=_points)

    def __attrs_post_init__(self) -> None:
        if len(self.source) != len(self.target):
            raise InvalidArgumentError(
                f"source and target need as many landmarks, got {len(self.source)} and "
                f"{len(self.target)}."
            )

    @classmethod
    def from_pairs(
        cls, pairs: Iterable[Sequence[Iterable[float]]]
    ) -> ThinPlateSplineCoordinateTransformation:
        """From `(source_point, target_point)` pairs."""
        sources, targets = [], []
        for pair in pairs:
            items = list(pair)
            if len(items) != 2:
                raise InvalidArgumentError(
                    f"Each landmark pair must be (source, target), got {len(items)} points."
                )
            sources.append(list(items[0]))
            targets.append(list(items[1]))
        return cls(sources, targets)

    @property
    def pairs(self) -> tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]:
        """The landmarks as `(source, target)` pairs of (x, y, z) tuples."""
        return tuple(
            (tuple(float(v) for v in s), tuple(float(v) for v in t))
            for s, t in zip(self.source, self.target, strict=True)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "thin_plate_spline",
            "correspondences": {"source": self.source.tolist(), "target": self.target.tolist()},
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ThinPlateSplineCoordinateTransformation):
            return NotImplemented
        return bool(
            np.array_equal(self.source, other.source) and np.array_equal(self.target, other.target)
        )

    def __hash__(self) -> int:
        return hash((self.source.tobytes(), self.target.tobytes()))


def coordinate_transformation_from_json(data: Any, where: str) -> CoordinateTransformation:
    """The transformation of one `coordinateTransformations` entry; `where` names it in errors."""
    try:
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "affine":
            return AffineCoordinateTransformation(data["matrix"])
        if kind == "thin_plate_spline":
            pairs = data["correspondences"]
            return ThinPlateSplineCoordinateTransformation(pairs["source"], pairs["target"])
    except (KeyError, TypeError, InvalidArgumentError) as exc:
        raise InvalidPropertiesError(f"{where}: {exc}") from exc
    raise InvalidPropertiesError(
        f"{where}: a coordinate transformation needs type 'affine' or 'thin_plate_spline', "
        f"got {data!r}."
    )
