"""Layer coordinate transformations: values, JSON round trips, and write-through to the layer."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import webknossos_like as wkl
from webknossos_like import (
    AffineCoordinateTransformation,
    ThinPlateSplineCoordinateTransformation,
)
from webknossos_like.errors import InvalidArgumentError, InvalidPropertiesError
from webknossos_like.properties.coordinate_transformations import (
    coordinate_transformation_from_json,
)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
points = st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(matrix=st.lists(st.lists(finite, min_size=4, max_size=4), min_size=4, max_size=4))
def test_affine_round_trips_through_json(matrix: list[list[float]]) -> None:
    affine = AffineCoordinateTransformation(matrix)
    text = json.dumps(affine.to_json())
    assert coordinate_transformation_from_json(json.loads(text), "t") == affine


@settings(max_examples=60, deadline=None)
@given(data=st.data(), source=points)
def test_thin_plate_spline_round_trips_through_json(
    data: st.DataObject, source: list[tuple[float, float, float]]
) -> None:
    target = data.draw(
        st.lists(st.tuples(finite, finite, finite), min_size=len(source), max_size=len(source))
    )
    tps = ThinPlateSplineCoordinateTransformation.from_pairs(zip(source, target, strict=True))
    back = coordinate_transformation_from_json(json.loads(json.dumps(tps.to_json())), "t")
    assert back == tps
    assert back.pairs == tuple(zip(source, target, strict=True))


def test_chained_affines_apply_in_order() -> None:
    moved = AffineCoordinateTransformation.identity().rotate("z", 90).translate((5, 0, 0))
    np.testing.assert_allclose(moved.apply((1, 0, 0)), (5, 1, 0), atol=1e-12)
    scaled = AffineCoordinateTransformation.from_scale((2, 3, 4)).flip("y")
    np.testing.assert_allclose(scaled.apply([[1, 1, 1]]), [[2, -3, 4]])
    np.testing.assert_allclose(
        AffineCoordinateTransformation.from_rotation("x", 90).apply((0, 1, 0)),
        (0, 0, 1),
        atol=1e-12,
    )


def test_transformations_are_immutable_values() -> None:
    affine = AffineCoordinateTransformation.from_translation((1, 2, 3))
    with pytest.raises(ValueError):
        affine.matrix[0, 0] = 5  # read-only array
    with pytest.raises(AttributeError):
        affine.matrix = np.eye(4)  # type: ignore[misc]
    assert copy.deepcopy(affine) is affine
    assert affine == AffineCoordinateTransformation.from_translation((1, 2, 3))
    assert hash(affine) == hash(AffineCoordinateTransformation.from_translation((1, 2, 3)))


@pytest.mark.parametrize(
    "build",
    [
        lambda: AffineCoordinateTransformation(np.eye(3)),
        lambda: AffineCoordinateTransformation([["a"] * 4] * 4),
        lambda: AffineCoordinateTransformation(np.full((4, 4), np.nan)),
        lambda: AffineCoordinateTransformation.from_rotation("w", 10),
        lambda: ThinPlateSplineCoordinateTransformation([], []),
        lambda: ThinPlateSplineCoordinateTransformation([[0, 0, 0]], [[0, 0, 0], [1, 1, 1]]),
        lambda: ThinPlateSplineCoordinateTransformation.from_pairs([((0, 0, 0),)]),
    ],
)
def test_bad_values_raise_our_error(build: object) -> None:
    with pytest.raises(InvalidArgumentError):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "shear"},
        {"type": "affine"},
        {"type": "affine", "matrix": [[1]]},
        [1, 2],
        None,
        {"type": "thin_plate_spline", "correspondences": {"source": [[0, 0, 0]]}},
    ],
)
def test_bad_json_names_the_entry(entry: object) -> None:
    with pytest.raises(InvalidPropertiesError, match="layer 'c'"):
        coordinate_transformation_from_json(entry, "layer 'c'")


def test_layer_saves_them_at_once_and_copies_keep_them(tmp_path: Path) -> None:
    ds = wkl.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("c", "color", data_format="wkw")
    layer.add_mag(1).write(np.ones((8, 8, 8), np.uint8))
    chain = (
        AffineCoordinateTransformation.from_translation((1, 2, 3)),
        ThinPlateSplineCoordinateTransformation([[0, 0, 0], [1, 1, 1]], [[1, 0, 0], [2, 1, 1]]),
    )
    layer.coordinate_transformations = chain
    reopened = wkl.Dataset.open(tmp_path / "ds").get_layer("c")
    assert reopened.coordinate_transformations == chain
    raw = json.loads((tmp_path / "ds" / "datasource-properties.json").read_text())
    assert raw["dataLayers"][0]["coordinateTransformations"][0]["type"] == "affine"
    copied = ds.copy_dataset(tmp_path / "copy")
    assert copied.get_layer("c").coordinate_transformations == chain
    layer.coordinate_transformations = None
    assert wkl.Dataset.open(tmp_path / "ds").get_layer("c").coordinate_transformations == ()
    with pytest.raises(InvalidArgumentError):
        layer.coordinate_transformations = [np.eye(4)]  # type: ignore[list-item]
