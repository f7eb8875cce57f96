"""Own behaviour of Vec3Float, VecInt, NDBoundingBox and the newer BoundingBox methods.

Behaviour shared with webknossos is compared against it in tests/compat/.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from webknossos_like import BoundingBox, Mag, NDBoundingBox, Vec3Float, Vec3Int, VecInt
from webknossos_like.errors import AlignmentError, GeometryError

# --- Vec3Float ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["abc", (1, 2), (1, 2, 3, 4), (True, 1.0, 2.0), ("1", 2, 3), None, np.zeros((2, 2))]
)
def test_vec3_float_rejects_bad_input(bad: Any) -> None:
    with pytest.raises(GeometryError):
        Vec3Float(bad)


def test_vec3_float_is_immutable_and_picklable() -> None:
    vec = Vec3Float(1, 2.5, -3)
    assert vec.to_tuple() == (1.0, 2.5, -3.0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        vec.x = 2.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(vec)) == vec
    assert copy.deepcopy(vec) == vec
    assert Vec3Float(Vec3Int(1, 2, 3)) == (1.0, 2.0, 3.0)
    assert 2 * vec == vec * 2 == (2.0, 5.0, -6.0)
    assert np.asarray(vec, dtype=np.float32).dtype == np.float32
    with pytest.raises(GeometryError):
        Vec3Float.from_str("1,x,3")


# --- VecInt -------------------------------------------------------------------------------------


def test_vec_int_validation() -> None:
    with pytest.raises(GeometryError):
        VecInt(1, 2, 3)  # no axes
    with pytest.raises(GeometryError):
        VecInt((1, 2), axes=("x", "y", "z"))
    with pytest.raises(GeometryError):
        VecInt((1, 2), axes=("x", "x"))
    with pytest.raises(GeometryError):
        VecInt((1.5, 2), axes=("x", "y"))
    with pytest.raises(GeometryError):
        VecInt((1, 2), axes=("x", "y")).__add__((1, 2, 3))
    with pytest.raises(AttributeError):
        VecInt((1, 2), axes=("x", "y")).axes = ("a", "b")  # type: ignore[misc]


def test_vec_int_and_vec3_int_interoperate() -> None:
    nd = VecInt(Vec3Int(1, 2, 3))
    assert nd.axes == ("x", "y", "z") and nd == Vec3Int(1, 2, 3)
    assert Vec3Int(1, 2, 3) == nd
    assert nd.xyz == Vec3Int(1, 2, 3)
    assert hash(nd) == hash(Vec3Int(1, 2, 3))
    with pytest.raises(KeyError):
        _ = nd.c


# --- BoundingBox additions ----------------------------------------------------------------------


def test_iter_chunk_toplefts_examples() -> None:
    box = BoundingBox((1, 0, 0), (5, 2, 1))
    assert list(box.iter_chunk_toplefts((2, 2, 1))) == [(1, 0, 0), (3, 0, 0), (5, 0, 0)]
    # aligned: the first start lies before the box, cells are not clipped
    assert list(box.iter_chunk_toplefts((2, 2, 1), (2, 2, 1))) == [(0, 0, 0), (2, 0, 0), (4, 0, 0)]
    assert list(box.iter_chunk_toplefts(2, 2, clip_to=BoundingBox((3, 0, 0), (1, 1, 1)))) == [
        (2, 0, 0)
    ]
    assert list(box.iter_chunk_toplefts(2, clip_to=BoundingBox((6, 0, 0), (1, 1, 1)))) == []
    assert list(BoundingBox.empty().iter_chunk_toplefts(4)) == []
    with pytest.raises(AlignmentError):
        box.iter_chunk_toplefts((3, 3, 3), (2, 2, 2))
    with pytest.raises(GeometryError):
        box.iter_chunk_toplefts((0, 1, 1))


@given(
    topleft=st.tuples(*[st.integers(-20, 20)] * 3),
    size=st.tuples(*[st.integers(0, 20)] * 3),
    shape=st.tuples(*[st.integers(1, 6)] * 3),
)
def test_chunk_topleft_equals_iter_chunk_toplefts(topleft: Any, size: Any, shape: Any) -> None:
    box = BoundingBox(topleft, size)
    chunks = list(box.chunk(shape))
    assert [c.topleft.to_tuple() for c in chunks] == list(box.iter_chunk_toplefts(shape))
    assert sum(c.volume() for c in chunks) == box.volume()


def test_contains_points() -> None:
    box = BoundingBox((0, 0, 0), (10, 10, 10))
    assert box.contains(np.array([9.5, 0.0, 0.0]))
    assert not box.contains(np.array([-0.5, 0.0, 0.0]))
    assert box.contains((-0.5, 0, 0))  # truncated towards zero, as webknossos
    assert box.contains(5)
    with pytest.raises(GeometryError):
        box.contains(np.zeros(2))
    with pytest.raises(GeometryError):
        box.contains((1, 2))


def test_with_bounds_and_axis_accessors() -> None:
    box = BoundingBox((1, 2, 3), (4, 5, 6))
    assert box.with_bounds_x(10) == BoundingBox((10, 2, 3), (4, 5, 6))
    assert box.with_bounds_y(new_size_y=1) == BoundingBox((1, 2, 3), (4, 1, 6))
    assert box.with_bounds("z", 0, 0) == BoundingBox((1, 2, 0), (4, 5, 0))
    with pytest.raises(KeyError):
        box.with_bounds("t", 1)
    with pytest.raises(GeometryError):
        box.with_bounds_x(new_size_x=-1)
    assert box.get_bounds("y") == (2, 7)
    assert box.axes == ("x", "y", "z") and box.ndim == 3 and len(box) == 3


@pytest.mark.parametrize(
    "obj,expected",
    [
        ("1,2,3,4,5,6", BoundingBox((1, 2, 3), (4, 5, 6))),
        ('{"topleft": [1, 2, 3], "size": [4, 5, 6]}', BoundingBox((1, 2, 3), (4, 5, 6))),
        (
            {"topLeft": [1, 2, 3], "width": 4, "height": 5, "depth": 6},
            BoundingBox((1, 2, 3), (4, 5, 6)),
        ),
        (((1, 2, 3), (4, 5, 6)), BoundingBox((1, 2, 3), (4, 5, 6))),
    ],
)
def test_from_auto(obj: Any, expected: BoundingBox) -> None:
    assert BoundingBox.from_auto(obj) == expected


@pytest.mark.parametrize("bad", ["1,2,3", "a,b,c,d,e,f", (1, 2, 3), 7, "no_box_here"])
def test_parsers_raise_geometry_error(bad: Any) -> None:
    with pytest.raises(GeometryError):
        BoundingBox.from_auto(bad)
    if isinstance(bad, str):
        with pytest.raises(GeometryError):
            BoundingBox.from_checkpoint_name(bad)


# --- NDBoundingBox ------------------------------------------------------------------------------


def test_nd_bounding_box_basics() -> None:
    box = NDBoundingBox((0, 1, 2, 3), (2, 4, 4, 4), ("t", "x", "y", "z"))
    assert box.topleft_xyz == Vec3Int(1, 2, 3)
    assert box.to_bbox() == BoundingBox((1, 2, 3), (4, 4, 4))
    assert box.with_name("a").name == "a" and box.with_name("a") == box
    assert box.align_with_mag(Mag(2), ceil=True).topleft_xyz == Vec3Int(0, 2, 2)
    assert box.in_mag(1) == box
    assert len(list(box.chunk((2, 2, 2)))) == 2 * 2 * 2 * 2
    assert pickle.loads(pickle.dumps(box)) == box
    assert hash(box.with_color((1.0, 0.0, 0.0, 1.0))) == hash(box)
    with pytest.raises(GeometryError):
        NDBoundingBox((0, 0), (-1, 1), ("x", "y"))
    with pytest.raises(GeometryError):
        _ = box == NDBoundingBox((0, 0, 0, 0), (1, 1, 1, 1), ("x", "y", "z", "t"))
    with pytest.raises(AttributeError):
        box.name = "b"  # type: ignore[misc]
    assert NDBoundingBox.from_bbox(BoundingBox((1, 2, 3), (4, 5, 6))) == BoundingBox(
        (1, 2, 3), (4, 5, 6)
    )
