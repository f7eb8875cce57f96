"""Tests for Vec3Int: construction, validation, protocols and arithmetic."""

from __future__ import annotations

import copy
import math
import operator
import pickle
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from webknossos_like.errors import GeometryError
from webknossos_like.geometry import Mag, Vec3Int


def _assert_plain_ints(v: Vec3Int) -> None:
    assert all(type(c) is int for c in (v.x, v.y, v.z))


# --- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        (1, 2, 3),
        ((1, 2, 3),),
        ([1, 2, 3],),
        (np.array([1, 2, 3]),),
        (Vec3Int(1, 2, 3),),
        ((1.0, 2.0, 3.0),),
        (1.0, 2, 3.0),
        (np.int64(1), np.int32(2), np.uint8(3)),
        ((np.float32(1.0), 2, 3),),
        (iter([1, 2, 3]),),
    ],
)
def test_constructor_forms(args: tuple[Any, ...]) -> None:
    v = Vec3Int(*args)
    assert (v.x, v.y, v.z) == (1, 2, 3)
    _assert_plain_ints(v)


@pytest.mark.parametrize(
    "dtype",
    [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
     np.float32, np.float64],
)  # fmt: skip
def test_constructor_from_numpy_dtypes(dtype: type) -> None:
    v = Vec3Int(np.array([4, 5, 6], dtype=dtype))
    assert v.to_tuple() == (4, 5, 6)
    _assert_plain_ints(v)


@pytest.mark.parametrize("scalar", [5, np.int64(5), 5.0, np.array(5)])
def test_scalar_is_broadcast(scalar: Any) -> None:
    v = Vec3Int(scalar)
    assert v.to_tuple() == (5, 5, 5)
    _assert_plain_ints(v)


def test_keyword_construction_and_evolve() -> None:
    assert Vec3Int(x=1, y=2, z=3) == (1, 2, 3)
    assert attrs.evolve(Vec3Int(1, 2, 3), y=7) == (1, 7, 3)  # type: ignore[misc]
    with pytest.raises(GeometryError, match=r"1\.5"):
        attrs.evolve(Vec3Int(1, 2, 3), y=1.5)  # type: ignore[misc]


def test_constructor_from_mag() -> None:
    assert Vec3Int(Mag("4-2-1")) == Vec3Int(4, 2, 1)


def test_large_ints_are_kept_exactly() -> None:
    big = 2**80 + 1
    assert Vec3Int(big, -big, 0).x == big


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        ((1.5, 2, 3), "(1.5, 2, 3)"),
        (((1.5, 2, 3),), "(1.5, 2, 3)"),
        ((float("nan"),), "nan"),
        (((1, float("inf"), 3),), "inf"),
        ((True,), "True"),
        (((True, 2, 3),), "(True, 2, 3)"),
        ((1, False, 3), "False"),
        ((np.bool_(True),), "True"),
        ((np.array([True, False, True]),), "True"),
        (("123",), "'123'"),
        (("abc",), "'abc'"),
        ((b"abc",), "b'abc'"),
        (((1, 2),), "(1, 2)"),
        (((1, 2, 3, 4),), "(1, 2, 3, 4)"),
        (([],), "[]"),
        ((np.zeros((3, 3)),), "array"),
        ((np.array([1.5, 2, 3]),), "1.5"),
        ((None,), "None"),
        ((1, 2), "(1, 2)"),
        ((("1", 2, 3),), "'1'"),
    ],
)
def test_invalid_components_raise_geometry_error(args: tuple[Any, ...], shown: str) -> None:
    with pytest.raises(GeometryError) as info:
        Vec3Int(*args)
    assert isinstance(info.value, ValueError)
    assert "Vec3Int components must be three integers" in str(info.value)
    assert shown in str(info.value)


def test_wrong_number_of_arguments() -> None:
    with pytest.raises(TypeError):
        Vec3Int(1, 2, 3, 4)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        Vec3Int()  # type: ignore[call-overload]


def test_invalid_message_names_the_whole_value() -> None:
    with pytest.raises(GeometryError, match=r"got \(1\.5, 2, 3\)$"):
        Vec3Int(1.5, 2, 3)  # type: ignore[call-overload]


# --- protocols ----------------------------------------------------------------------------------


def test_components_iteration_and_indexing() -> None:
    v = Vec3Int(7, 8, 9)
    assert (v.x, v.y, v.z) == (7, 8, 9)
    assert tuple(v) == (7, 8, 9)
    x, y, z = v
    assert (x, y, z) == (7, 8, 9)
    assert len(v) == 3
    assert (v[0], v[1], v[2], v[-1]) == (7, 8, 9, 9)
    assert v[1:] == (8, 9)
    with pytest.raises(IndexError):
        v[3]


def test_equality_with_tuples_lists_and_vectors() -> None:
    v = Vec3Int(1, 2, 3)
    assert v == Vec3Int(1, 2, 3)
    assert v == (1, 2, 3)
    assert (1, 2, 3) == v  # noqa: SIM300  (the reflected comparison is what is tested)
    assert v == [1, 2, 3]
    assert v != (1, 2, 4)
    assert v != (1, 2)
    assert v != (1, 2, 3, 4)
    assert v != "abc"
    assert v != Vec3Int(3, 2, 1)
    assert not (v != (1, 2, 3))  # noqa: SIM202  (__ne__ is what is tested)


def test_hash_matches_tuple_hash() -> None:
    v = Vec3Int(1, 2, 3)
    assert hash(v) == hash((1, 2, 3))
    assert hash(v) == hash(Vec3Int([1, 2, 3]))
    assert {(1, 2, 3): "a"}[v] == "a"  # type: ignore[index]
    assert len({v, Vec3Int(1, 2, 3), Vec3Int(3, 2, 1)}) == 2


def test_repr() -> None:
    assert repr(Vec3Int(1, -2, 3)) == "Vec3Int(1,-2,3)"


def test_is_frozen() -> None:
    v = Vec3Int(1, 2, 3)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        v.x = 5  # type: ignore[misc]
    assert v.x == 1


def test_pickle_and_copy_round_trip() -> None:
    v = Vec3Int(1, 2, 3)
    for clone in (pickle.loads(pickle.dumps(v)), copy.copy(v), copy.deepcopy(v)):
        assert clone == v
        assert type(clone) is Vec3Int
        _assert_plain_ints(clone)


# --- arithmetic ---------------------------------------------------------------------------------


def test_arithmetic_with_vectors_ints_and_sequences() -> None:
    v = Vec3Int(4, 6, 8)
    assert v + 1 == (5, 7, 9)
    assert v + Vec3Int(1, 2, 3) == (5, 8, 11)
    assert v.__add__((1, 2, 3)) == (5, 8, 11)
    assert v - Vec3Int(1, 1, 1) == (3, 5, 7)
    assert v * 2 == (8, 12, 16)
    assert v // 3 == (1, 2, 2)
    assert v % 3 == (1, 0, 2)
    assert -v == (-4, -6, -8)
    assert v + np.array([1, 1, 1]) == (5, 7, 9)


def test_reflected_arithmetic() -> None:
    v = Vec3Int(1, 2, 4)
    assert 2 * v == (2, 4, 8)
    assert 10 + v == (11, 12, 14)
    assert 10 - v == (9, 8, 6)
    assert 8 // v == (8, 4, 2)
    assert 5 % v == (0, 1, 1)
    assert [1, 1, 1] + v == (2, 3, 5)  # noqa: RUF005  (Vec3Int.__radd__, not concatenation)


def test_numpy_scalars_and_arrays_defer_to_vec3int() -> None:
    v = Vec3Int(1, 2, 3)
    for result in (np.int64(2) * v, np.array([2, 2, 2]) * v):
        assert isinstance(result, Vec3Int)
        assert result == (2, 4, 6)
        _assert_plain_ints(result)


def test_arithmetic_results_are_plain_ints() -> None:
    result = Vec3Int(1, 2, 3) * np.array([2, 2, 2], dtype=np.int32)
    _assert_plain_ints(result)


def test_division_by_zero_raises_zero_division_error() -> None:
    with pytest.raises(ZeroDivisionError):
        Vec3Int(1, 2, 3) // (1, 0, 1)
    with pytest.raises(ZeroDivisionError):
        Vec3Int(1, 2, 3).ceildiv(0)


def test_arithmetic_with_invalid_operand_raises() -> None:
    with pytest.raises(GeometryError, match=r"\[1, 2\]"):
        Vec3Int(1, 2, 3) + [1, 2]  # noqa: RUF005  (Vec3Int.__add__, not concatenation)


def test_ceildiv_examples() -> None:
    assert Vec3Int(7, 8, 0).ceildiv(2) == (4, 4, 0)
    assert Vec3Int(-7, -8, 7).ceildiv((2, 2, -2)) == (-3, -4, -3)
    assert Vec3Int(1, 1, 1).ceildiv(1000) == (1, 1, 1)


def test_pairmax_pairmin() -> None:
    a, b = Vec3Int(1, 5, -3), Vec3Int(2, 4, -3)
    assert a.pairmax(b) == (2, 5, -3)
    assert a.pairmin(b) == (1, 4, -3)
    assert a.pairmax(0) == (1, 5, 0)


def test_prod_is_exact_python_int() -> None:
    assert Vec3Int(2, 3, 4).prod() == 24
    huge = Vec3Int(2**40, 2**40, 2**40).prod()
    assert huge == 2**120
    assert type(huge) is int


def test_is_positive_and_is_uniform() -> None:
    assert Vec3Int(0, 1, 2).is_positive()
    assert not Vec3Int(0, 1, 2).is_positive(strictly_positive=True)
    assert Vec3Int(1, 1, 2).is_positive(strictly_positive=True)
    assert not Vec3Int(1, -1, 2).is_positive()
    assert Vec3Int(3, 3, 3).is_uniform()
    assert not Vec3Int(3, 3, 1).is_uniform()


def test_conversions() -> None:
    v = Vec3Int(1, 2, 3)
    assert v.to_tuple() == (1, 2, 3)
    assert isinstance(v.to_tuple(), tuple)
    assert v.to_list() == [1, 2, 3]
    assert isinstance(v.to_list(), list)
    arr = v.to_np()
    assert arr.dtype == np.int64
    assert arr.tolist() == [1, 2, 3]
    arr[0] = 99
    assert v.x == 1


def test_class_constructors() -> None:
    assert Vec3Int.zeros() == (0, 0, 0)
    assert Vec3Int.ones() == (1, 1, 1)
    assert Vec3Int.full(7) == (7, 7, 7)
    with pytest.raises(GeometryError):
        Vec3Int.full(1.5)  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------------

small_ints = st.integers(min_value=-(10**6), max_value=10**6)
triples = st.tuples(small_ints, small_ints, small_ints)
nonzero = small_ints.filter(lambda value: value != 0)
nonzero_triples = st.tuples(nonzero, nonzero, nonzero)

OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "//": operator.floordiv,
    "%": operator.mod,
}


@given(a=triples, b=nonzero_triples, op=st.sampled_from(sorted(OPS)))
def test_arithmetic_matches_numpy(
    a: tuple[int, int, int], b: tuple[int, int, int], op: str
) -> None:
    fn = OPS[op]
    expected = fn(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)).tolist()
    assert fn(Vec3Int(a), Vec3Int(b)).to_list() == expected
    assert fn(Vec3Int(a), b).to_list() == expected
    assert fn(a, Vec3Int(b)).to_list() == expected


@given(a=triples, scalar=nonzero, op=st.sampled_from(sorted(OPS)))
def test_scalar_arithmetic_matches_numpy(a: tuple[int, int, int], scalar: int, op: str) -> None:
    fn = OPS[op]
    assert fn(Vec3Int(a), scalar).to_list() == fn(np.array(a, dtype=np.int64), scalar).tolist()
    assert fn(scalar, Vec3Int(a)).to_list() == fn(scalar, np.array(a, dtype=np.int64)).tolist()


@given(a=triples)
def test_negation_matches_numpy(a: tuple[int, int, int]) -> None:
    assert (-Vec3Int(a)).to_list() == (-np.array(a, dtype=np.int64)).tolist()


big_ints = st.integers(min_value=-(2**100), max_value=2**100)


@given(
    a=st.tuples(big_ints, big_ints, big_ints),
    b=st.tuples(*[big_ints.filter(lambda value: value != 0)] * 3),
)
def test_ceildiv_matches_negated_floordiv(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    result = Vec3Int(a).ceildiv(b)
    assert result.to_tuple() == tuple(-(-ai // bi) for ai, bi in zip(a, b, strict=True))
    # Cross-check against real-valued ceil for moderately sized values.
    for ai, bi, ri in zip(a, b, result, strict=True):
        if abs(ai) < 2**50 and abs(bi) < 2**50:
            assert ri == math.ceil(ai / bi)


@given(a=triples)
def test_equality_and_hash_agree_with_tuple(a: tuple[int, int, int]) -> None:
    v = Vec3Int(a)
    assert v == a
    assert hash(v) == hash(a)
    assert Vec3Int(np.array(a)) == v
