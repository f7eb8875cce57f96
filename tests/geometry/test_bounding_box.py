"""Tests for BoundingBox: construction, serialisation, set operations, mags and chunking."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from webknossos_like.errors import AlignmentError, GeometryError, InvalidMagError
from webknossos_like.geometry import BoundingBox, Mag, Vec3Int

BOX = BoundingBox((0, 0, 0), (10, 10, 10))


# --- construction -------------------------------------------------------------------------------


def test_fields_are_converted_to_vec3int() -> None:
    box = BoundingBox([1, 2, 3], np.array([4, 5, 6]))
    assert isinstance(box.topleft, Vec3Int)
    assert isinstance(box.size, Vec3Int)
    assert box.topleft == (1, 2, 3)
    assert box.size == (4, 5, 6)
    assert box.bottomright == (5, 7, 9)
    assert BoundingBox(0, 7).size == (7, 7, 7)


def test_evolve_runs_converters_and_validation() -> None:
    assert attrs.evolve(BOX, size=(1, 2, 3)) == BoundingBox((0, 0, 0), (1, 2, 3))
    with pytest.raises(GeometryError):
        attrs.evolve(BOX, size=(1, -2, 3))


def test_negative_size_raises_and_is_not_flipped() -> None:
    with pytest.raises(GeometryError) as info:
        BoundingBox((0, 0, 0), (1, -2, 3))
    assert isinstance(info.value, ValueError)
    assert "(1, -2, 3)" in str(info.value)


def test_invalid_vector_raises_geometry_error() -> None:
    with pytest.raises(GeometryError, match=r"1\.5"):
        BoundingBox((0, 0, 1.5), (1, 1, 1))  # type: ignore[arg-type]


def test_zero_size_is_allowed() -> None:
    box = BoundingBox((3, 3, 3), (0, 5, 5))
    assert box.is_empty()
    assert box.volume() == 0
    assert box.bottomright == (3, 8, 8)


def test_repr() -> None:
    assert repr(BOX) == "BoundingBox(topleft=(0, 0, 0), size=(10, 10, 10))"
    assert repr(BoundingBox((-1, 2, 3), (4, 5, 6))) == (
        "BoundingBox(topleft=(-1, 2, 3), size=(4, 5, 6))"
    )


def test_equality_hash_frozen_and_pickle() -> None:
    assert BoundingBox((0, 0, 0), (10, 10, 10)) == BOX
    assert BoundingBox((0, 0, 1), (10, 10, 10)) != BOX
    assert BoundingBox((0, 0, 0), (10, 10, 9)) != BOX
    assert hash(BoundingBox([0, 0, 0], [10, 10, 10])) == hash(BOX)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        BOX.size = Vec3Int(1, 1, 1)  # type: ignore[misc]
    for clone in (pickle.loads(pickle.dumps(BOX)), copy.deepcopy(BOX)):
        assert clone == BOX
        assert clone.bottomright == (10, 10, 10)


# --- alternative constructors and serialisation -------------------------------------------------


def test_tuple6_round_trip() -> None:
    box = BoundingBox.from_tuple6((1, 2, 3, 4, 5, 6))
    assert box.topleft == (1, 2, 3)
    assert box.size == (4, 5, 6)
    assert box.to_tuple6() == (1, 2, 3, 4, 5, 6)
    assert BoundingBox.from_tuple6([1, 2, 3, 4, 5, 6]) == box


@pytest.mark.parametrize("values", [(1, 2, 3, 4, 5), (1, 2, 3, 4, 5, 6, 7), ()])
def test_tuple6_wrong_length(values: tuple[int, ...]) -> None:
    with pytest.raises(GeometryError) as info:
        BoundingBox.from_tuple6(values)
    assert isinstance(info.value, ValueError)
    assert repr(values) in str(info.value)


def test_tuple6_negative_size() -> None:
    with pytest.raises(GeometryError, match="-5"):
        BoundingBox.from_tuple6((0, 0, 0, 1, -5, 1))


def test_from_points() -> None:
    box = BoundingBox.from_points([(1, 5, 3), Vec3Int(4, 2, 3), np.array([2, 2, -1])])
    assert box.topleft == (1, 2, -1)
    assert box.size == (4, 4, 5)
    assert box.bottomright == (5, 6, 4)
    single = BoundingBox.from_points(iter([(7, 8, 9)]))
    assert single == BoundingBox((7, 8, 9), (1, 1, 1))


def test_from_points_empty_and_invalid() -> None:
    with pytest.raises(GeometryError, match="at least one point"):
        BoundingBox.from_points([])
    with pytest.raises(GeometryError, match=r"\(1, 2\)"):
        BoundingBox.from_points([(0, 0, 0), (1, 2)])


def test_empty() -> None:
    empty = BoundingBox.empty()
    assert empty.topleft == (0, 0, 0)
    assert empty.size == (0, 0, 0)
    assert empty.is_empty()
    assert empty.volume() == 0


def test_properties_dict_round_trip_and_json_form() -> None:
    box = BoundingBox((1, 2, 3), (4, 5, 6))
    data = box.to_properties_dict()
    assert data == {"topLeft": [1, 2, 3], "width": 4, "height": 5, "depth": 6}
    assert type(data["topLeft"]) is list
    assert all(type(v) is int for v in [*data["topLeft"], data["width"]])
    assert json.loads(json.dumps(data)) == data
    assert BoundingBox.from_properties_dict(data) == box


def test_from_properties_dict_ignores_other_keys() -> None:
    data = {"topLeft": [0, 0, 0], "width": 1, "height": 2, "depth": 3, "extra": "x"}
    assert BoundingBox.from_properties_dict(data) == BoundingBox((0, 0, 0), (1, 2, 3))


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"width": 1, "height": 1, "depth": 1}, "topLeft"),
        ({"topLeft": [0, 0, 0], "height": 1, "depth": 1}, "width"),
        ({"topLeft": [0, 0, 0], "width": 1, "height": 1}, "depth"),
        ({"topLeft": "0,0,0", "width": 1, "height": 1, "depth": 1}, "'0,0,0'"),
        ({"topLeft": [0, 0], "width": 1, "height": 1, "depth": 1}, "[0, 0]"),
        ({"topLeft": [0, 0, 0.5], "width": 1, "height": 1, "depth": 1}, "0.5"),
        ({"topLeft": [0, True, 0], "width": 1, "height": 1, "depth": 1}, "True"),
        ({"topLeft": [0, 0, 0], "width": "1", "height": 1, "depth": 1}, "'width'"),
        ({"topLeft": [0, 0, 0], "width": 1, "height": 1.0, "depth": 1}, "'height'"),
        ({"topLeft": [0, 0, 0], "width": 1, "height": 1, "depth": None}, "'depth'"),
        ({"topLeft": [0, 0, 0], "width": 1, "height": 1, "depth": False}, "'depth'"),
        ({"topLeft": [0, 0, 0], "width": 1, "height": -1, "depth": 1}, "-1"),
        ([0, 0, 0, 1, 1, 1], "[0, 0, 0, 1, 1, 1]"),
    ],
)
def test_from_properties_dict_errors(data: Any, named: str) -> None:
    with pytest.raises(GeometryError) as info:
        BoundingBox.from_properties_dict(data)
    assert isinstance(info.value, ValueError)
    assert named in str(info.value)


# --- measures and predicates --------------------------------------------------------------------


def test_is_empty_and_volume() -> None:
    assert not BOX.is_empty()
    assert BOX.volume() == 1000
    for size in [(0, 1, 1), (1, 0, 1), (1, 1, 0)]:
        assert BoundingBox((0, 0, 0), size).is_empty()
    huge = BoundingBox((0, 0, 0), (2**40, 2**40, 2**40)).volume()
    assert huge == 2**120
    assert type(huge) is int


def test_contains_point() -> None:
    box = BoundingBox((1, 2, 3), (2, 2, 2))
    assert box.contains((1, 2, 3))
    assert box.contains(Vec3Int(2, 3, 4))
    assert box.contains(np.array([2, 2, 3]))
    assert not box.contains((3, 3, 4))
    assert not box.contains((2, 4, 4))
    assert not box.contains((0, 2, 3))
    assert not BoundingBox((1, 2, 3), (0, 2, 2)).contains((1, 2, 3))


def test_contains_bbox() -> None:
    assert BOX.contains_bbox(BOX)
    assert BOX.contains_bbox(BoundingBox((2, 2, 2), (8, 8, 8)))
    assert not BOX.contains_bbox(BoundingBox((2, 2, 2), (9, 8, 8)))
    assert not BOX.contains_bbox(BoundingBox((-1, 0, 0), (2, 2, 2)))
    # Empty boxes: contained iff other.intersected_with(self) == other.
    assert BOX.contains_bbox(BoundingBox((5, 5, 5), (0, 0, 0)))
    assert BOX.contains_bbox(BoundingBox((10, 10, 10), (0, 0, 0)))
    assert not BOX.contains_bbox(BoundingBox((-1, 5, 5), (0, 0, 0)))
    assert not BOX.contains_bbox(BoundingBox((5, 5, 5), (0, 20, 1)))


def test_is_aligned() -> None:
    box = BoundingBox((4, 8, 0), (4, 8, 16))
    assert box.is_aligned(4)
    assert box.is_aligned(Mag("4-4-2"))
    assert box.is_aligned((2, 8, 16))
    assert not box.is_aligned(8)
    assert not BoundingBox((4, 8, 0), (4, 8, 3)).is_aligned((1, 1, 2))
    with pytest.raises(GeometryError, match=r"\(0, 1, 1\)"):
        box.is_aligned((0, 1, 1))


# --- combining boxes ----------------------------------------------------------------------------


def test_intersected_with_overlap() -> None:
    a = BoundingBox((0, 0, 0), (10, 10, 10))
    b = BoundingBox((5, -5, 2), (10, 10, 3))
    assert a.intersected_with(b) == BoundingBox((5, 0, 2), (5, 5, 3))
    assert b.intersected_with(a) == a.intersected_with(b)


def test_intersected_with_disjoint_is_empty() -> None:
    a = BoundingBox((0, 0, 0), (10, 10, 10))
    far = BoundingBox((20, 0, 0), (5, 5, 5))
    result = a.intersected_with(far)
    assert result.is_empty()
    assert result.size == (0, 5, 5)
    assert result.topleft == (20, 0, 0)
    touching = a.intersected_with(BoundingBox((10, 0, 0), (5, 5, 5)))
    assert touching.is_empty()
    assert touching.volume() == 0


def test_extended_by() -> None:
    a = BoundingBox((0, 0, 0), (2, 2, 2))
    b = BoundingBox((5, -1, 1), (1, 1, 1))
    assert a.extended_by(b) == BoundingBox((0, -1, 0), (6, 3, 2))
    empty = BoundingBox.empty()
    assert empty.extended_by(b) == b
    assert b.extended_by(empty) == b
    assert BoundingBox((100, 100, 100), (0, 3, 3)).extended_by(a) == a


# --- derived boxes ------------------------------------------------------------------------------


def test_padded_with_margins() -> None:
    box = BoundingBox((10, 10, 10), (5, 5, 5))
    assert box.padded_with_margins(2) == BoundingBox((8, 8, 8), (9, 9, 9))
    assert box.padded_with_margins((1, 2, 3), (0, 0, 1)) == BoundingBox((9, 8, 7), (6, 7, 9))
    assert box.padded_with_margins(-1) == BoundingBox((11, 11, 11), (3, 3, 3))
    with pytest.raises(GeometryError):
        box.padded_with_margins(-3)


def test_offset_and_with_methods() -> None:
    box = BoundingBox((1, 2, 3), (4, 5, 6))
    assert box.offset((1, -2, 0)) == BoundingBox((2, 0, 3), (4, 5, 6))
    assert box.with_topleft((0, 0, 0)) == BoundingBox((0, 0, 0), (4, 5, 6))
    assert box.with_size(1) == BoundingBox((1, 2, 3), (1, 1, 1))
    assert box.with_bottomright((10, 10, 10)) == BoundingBox((1, 2, 3), (9, 8, 7))
    assert box.with_bottomright((1, 2, 3)).is_empty()
    with pytest.raises(GeometryError, match="-1"):
        box.with_bottomright((0, 10, 10))
    assert box == BoundingBox((1, 2, 3), (4, 5, 6))


def test_to_slices() -> None:
    box = BoundingBox((1, 2, 3), (2, 3, 4))
    slices = box.to_slices()
    assert slices == (slice(1, 3), slice(2, 5), slice(3, 7))
    assert np.zeros((10, 10, 10))[slices].shape == (2, 3, 4)


# --- mags and alignment -------------------------------------------------------------------------


def test_align_with_mag() -> None:
    box = BoundingBox((3, 4, 5), (10, 10, 10))  # bottomright (13, 14, 15)
    # Without ceil: the largest aligned box inside (topleft up, bottomright down), as webknossos.
    assert box.align_with_mag(Mag(4)) == BoundingBox((4, 4, 8), (8, 8, 4))
    assert box.align_with_mag(Mag(4), ceil=True) == BoundingBox((0, 4, 4), (16, 12, 12))
    assert box.align_with_mag("2-2-1") == BoundingBox((4, 4, 5), (8, 10, 10))
    assert box.align_with_mag(3) == BoundingBox((3, 6, 6), (9, 6, 9))
    # No aligned cell inside: the crossed corners are flipped (webknossos), giving the cell around.
    assert BoundingBox((1, 1, 1), (2, 2, 2)).align_with_mag(4) == BoundingBox((0, 0, 0), (4, 4, 4))
    aligned = BoundingBox((8, 8, 8), (8, 8, 8))
    assert aligned.align_with_mag(8) == aligned
    assert aligned.align_with_mag(8, ceil=True) == aligned
    with pytest.raises(GeometryError, match=r"\(0, 1, 1\)"):
        box.align_with_mag((0, 1, 1))
    with pytest.raises(InvalidMagError):
        box.align_with_mag("3")


def test_in_mag_and_back() -> None:
    box = BoundingBox((4, 8, 2), (8, 8, 4))
    in_mag = box.in_mag(Mag("4-4-2"))
    assert in_mag == BoundingBox((1, 2, 1), (2, 2, 2))
    assert in_mag.from_mag_to_mag1("4-4-2") == box
    assert box.in_mag(1) == box
    assert BoundingBox((1, 1, 1), (2, 2, 2)).from_mag_to_mag1(2) == BoundingBox(
        (2, 2, 2), (4, 4, 4)
    )


@pytest.mark.parametrize(
    "box",
    [BoundingBox((1, 0, 0), (4, 4, 4)), BoundingBox((0, 0, 0), (4, 5, 4))],
)
def test_in_mag_misaligned_raises_alignment_error(box: BoundingBox) -> None:
    with pytest.raises(AlignmentError) as info:
        box.in_mag(Mag(2))
    assert isinstance(info.value, ValueError)
    assert repr(box) in str(info.value)
    assert "Mag(2)" in str(info.value)


def test_in_mag_rejects_invalid_mag() -> None:
    with pytest.raises(InvalidMagError):
        BOX.in_mag(3)
    with pytest.raises(InvalidMagError):
        BOX.from_mag_to_mag1("1-1")


# --- chunking -----------------------------------------------------------------------------------


def test_chunk_order_and_clipping() -> None:
    box = BoundingBox((0, 0, 0), (3, 2, 2))
    chunks = list(box.chunk((2, 2, 1)))
    assert chunks == [
        BoundingBox((0, 0, 0), (2, 2, 1)),
        BoundingBox((0, 0, 1), (2, 2, 1)),
        BoundingBox((2, 0, 0), (1, 2, 1)),
        BoundingBox((2, 0, 1), (1, 2, 1)),
    ]


def test_chunk_z_is_innermost_as_in_webknossos() -> None:
    chunks = list(BoundingBox((0, 0, 0), (2, 2, 2)).chunk(1))
    assert [c.topleft.to_tuple() for c in chunks[:3]] == [(0, 0, 0), (0, 0, 1), (0, 1, 0)]
    assert chunks[4].topleft == (1, 0, 0)


def test_chunk_with_alignment() -> None:
    box = BoundingBox((5, 0, 0), (20, 4, 4))
    chunks = list(box.chunk((8, 4, 4), chunk_border_alignments=(8, 4, 4)))
    assert [(c.topleft.x, c.bottomright.x) for c in chunks] == [(5, 8), (8, 16), (16, 24), (24, 25)]
    # A Mag(4) grid starts at floor(5 / 4) * 4 = 4, so borders lie on 12, 20.
    chunks_mag = list(box.chunk(8, chunk_border_alignments=Mag(4)))
    assert [(c.topleft.x, c.bottomright.x) for c in chunks_mag] == [(5, 12), (12, 20), (20, 25)]
    # Without alignment the grid starts at topleft.
    plain = list(box.chunk((8, 4, 4)))
    assert [(c.topleft.x, c.bottomright.x) for c in plain] == [(5, 13), (13, 21), (21, 25)]


def test_chunk_empty_box_yields_nothing() -> None:
    assert list(BoundingBox.empty().chunk(4)) == []
    assert list(BoundingBox((5, 0, 0), (0, 4, 4)).chunk(4, chunk_border_alignments=4)) == []
    assert list(BoundingBox((0, 0, 0), (8, 8, 0)).chunk(4)) == []


@pytest.mark.parametrize("shape", [0, (1, 0, 1), (4, -4, 4)])
def test_chunk_rejects_non_positive_shape_eagerly(shape: Any) -> None:
    with pytest.raises(GeometryError) as info:
        BOX.chunk(shape)  # no iteration needed
    assert isinstance(info.value, ValueError)
    assert repr(shape) in str(info.value)


def test_chunk_shape_must_be_multiple_of_alignment() -> None:
    with pytest.raises(AlignmentError) as info:
        BOX.chunk((6, 4, 4), chunk_border_alignments=4)
    assert isinstance(info.value, ValueError)
    assert "(6, 4, 4)" in str(info.value)
    assert "(4, 4, 4)" in str(info.value)
    with pytest.raises(GeometryError):
        BOX.chunk(4, chunk_border_alignments=0)


# --- properties ---------------------------------------------------------------------------------

coords = st.integers(min_value=-50, max_value=50)
sizes = st.integers(min_value=0, max_value=40)
vectors = st.tuples(coords, coords, coords)
boxes = st.builds(BoundingBox, vectors, st.tuples(sizes, sizes, sizes))


def _covered_exactly(box: BoundingBox, chunks: list[BoundingBox]) -> None:
    """Assert that the chunks tile `box`: inside, non-empty, disjoint, covering every voxel once."""
    assert sum(c.volume() for c in chunks) == box.volume()
    counts = np.zeros(box.size.to_tuple(), dtype=np.int32)
    for c in chunks:
        assert not c.is_empty()
        assert box.contains_bbox(c)
        counts[c.offset(-box.topleft).to_slices()] += 1
    assert np.all(counts == 1)
    if len(chunks) <= 80:
        for i, a in enumerate(chunks):
            for b in chunks[i + 1 :]:
                assert a.intersected_with(b).is_empty()


@st.composite
def box_and_chunk_shape(draw: st.DrawFn) -> tuple[BoundingBox, Vec3Int]:
    shape = Vec3Int(draw(st.tuples(*[st.integers(1, 16)] * 3)))
    # At most ~8 chunks per axis keeps every example fast.
    size = [draw(st.integers(0, min(40, 8 * s))) for s in shape]
    return BoundingBox(draw(vectors), size), shape


@given(case=box_and_chunk_shape())
def test_chunk_tiles_box_exactly(case: tuple[BoundingBox, Vec3Int]) -> None:
    box, shape = case
    chunks = list(box.chunk(shape))
    _covered_exactly(box, chunks)
    for c in chunks:
        assert c.size.pairmax(shape) == shape  # no chunk is larger than the chunk shape
        assert (c.topleft - box.topleft) % shape == (0, 0, 0)


@st.composite
def box_shape_and_alignment(draw: st.DrawFn) -> tuple[BoundingBox, Vec3Int, Vec3Int]:
    alignment = Vec3Int(draw(st.tuples(*[st.integers(1, 8)] * 3)))
    factor = Vec3Int(draw(st.tuples(*[st.integers(1, 4)] * 3)))
    shape = (alignment * factor).pairmin(16)
    shape = shape - shape % alignment  # stay a multiple of the alignment, at most 16
    size = [draw(st.integers(0, min(40, 8 * s))) for s in shape]
    return BoundingBox(draw(vectors), size), shape, alignment


@given(case=box_shape_and_alignment())
def test_chunk_with_alignment_tiles_box_exactly(
    case: tuple[BoundingBox, Vec3Int, Vec3Int],
) -> None:
    box, shape, alignment = case
    chunks = list(box.chunk(shape, chunk_border_alignments=alignment))
    _covered_exactly(box, chunks)
    for c in chunks:
        for axis in range(3):
            for border in (c.topleft[axis], c.bottomright[axis]):
                on_box_border = border in (box.topleft[axis], box.bottomright[axis])
                assert on_box_border or border % alignment[axis] == 0


@given(a=boxes, b=boxes, point=vectors)
def test_intersection_commutative_and_contained(
    a: BoundingBox, b: BoundingBox, point: tuple[int, int, int]
) -> None:
    inter = a.intersected_with(b)
    assert inter == b.intersected_with(a)
    assert a.contains_bbox(inter)
    assert b.contains_bbox(inter)
    assert inter.contains(point) == (a.contains(point) and b.contains(point))


@given(a=boxes, b=boxes, point=vectors)
def test_extended_by_contains_both(
    a: BoundingBox, b: BoundingBox, point: tuple[int, int, int]
) -> None:
    ext = a.extended_by(b)
    for box in (a, b):
        if not box.is_empty():
            assert ext.contains_bbox(box)
        if box.contains(point):
            assert ext.contains(point)
    if a.is_empty():
        assert ext == b
    elif b.is_empty():
        assert ext == a
    else:
        assert ext == BoundingBox.from_points(
            [a.topleft, b.topleft, a.bottomright - 1, b.bottomright - 1]
        )


exponent = st.integers(min_value=0, max_value=4)
mags = st.builds(lambda x, y, z: Mag([2**x, 2**y, 2**z]), exponent, exponent, exponent)


@given(mag=mags, topleft=vectors, size=st.tuples(*[st.integers(0, 10)] * 3))
def test_in_mag_round_trip_for_aligned_boxes(
    mag: Mag, topleft: tuple[int, int, int], size: tuple[int, int, int]
) -> None:
    box = BoundingBox(Vec3Int(topleft) * mag.as_vec3_int, Vec3Int(size) * mag.as_vec3_int)
    assert box.is_aligned(mag)
    in_mag = box.in_mag(mag)
    assert in_mag == BoundingBox(topleft, size)
    assert in_mag.from_mag_to_mag1(mag) == box


@given(box=boxes, mag=mags)
def test_align_with_mag_properties(box: BoundingBox, mag: Mag) -> None:
    floored = box.align_with_mag(mag)
    ceiled = box.align_with_mag(mag, ceil=True)
    for aligned in (floored, ceiled):
        assert aligned.is_aligned(mag)
        assert aligned.in_mag(mag).from_mag_to_mag1(mag) == aligned
    assert ceiled.contains_bbox(box) or box.is_empty()
    assert ceiled.contains_bbox(floored) or floored.is_empty()
    m = mag.as_vec3_int
    inner_start, inner_end = box.topleft.ceildiv(m) * m, (box.bottomright // m) * m
    if inner_start.pairmin(inner_end) == inner_start:  # an aligned box fits inside
        assert box.contains_bbox(floored)


@given(box=boxes)
def test_properties_dict_round_trip(box: BoundingBox) -> None:
    data = json.loads(json.dumps(box.to_properties_dict()))
    assert BoundingBox.from_properties_dict(data) == box
    assert BoundingBox.from_tuple6(box.to_tuple6()) == box
