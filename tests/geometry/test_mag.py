"""Tests for Mag: parsing, validation, names, arithmetic and its total order."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from webknossos_like.errors import GeometryError, InvalidMagError
from webknossos_like.geometry import Mag, Vec3Int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, (1, 1, 1)),
        (8, (8, 8, 8)),
        (np.int64(4), (4, 4, 4)),
        ("2", (2, 2, 2)),
        ("16", (16, 16, 16)),
        ("2-2-1", (2, 2, 1)),
        ("1-4-8", (1, 4, 8)),
        ([2, 2, 1], (2, 2, 1)),
        ((4, 2, 1), (4, 2, 1)),
        (Vec3Int(2, 2, 1), (2, 2, 1)),
        (np.array([2, 2, 1]), (2, 2, 1)),
        (np.array([2, 2, 1], dtype=np.uint8), (2, 2, 1)),
        (Mag("2-2-1"), (2, 2, 1)),
        (2**40, (2**40, 2**40, 2**40)),
    ],
)
def test_accepted_forms(value: Any, expected: tuple[int, int, int]) -> None:
    mag = Mag(value)
    assert mag.to_tuple() == expected
    assert all(type(c) is int for c in mag)


@pytest.mark.parametrize(
    "value",
    [
        "abc", "1-1", " 2", "2 ", "2\n", "2x2x1", "2-2-1.5", "", "-2", "2-2-1-1", "2--2",
        "\u0662", "3", "2-2-3", "0",
        0, -2, 3, 6, 2.5, True, False, np.bool_(True),
        [2, 2], [2, 2, 3], [0, 1, 1], [2, 2, -2], [1.5, 1, 1], (True, 1, 1), None,
        np.array([2, 3, 1]), Vec3Int(2, 2, 0),
    ],
)  # fmt: skip
def test_rejected_values_raise_invalid_mag_error(value: Any) -> None:
    with pytest.raises(InvalidMagError) as info:
        Mag(value)
    assert isinstance(info.value, GeometryError)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "power-of-two" in message
    assert "'2-2-1'" in message
    assert message.endswith(f"got {value!r}")


def test_error_message_example() -> None:
    with pytest.raises(InvalidMagError) as info:
        Mag("1-1")
    assert str(info.value) == (
        "Mag must be a power-of-two int, a string like '2' or '2-2-1', "
        "or three power-of-two ints; got '1-1'"
    )


def test_components_and_derived_properties() -> None:
    mag = Mag("8-4-2")
    assert (mag.x, mag.y, mag.z) == (8, 4, 2)
    assert mag.max_dim == 8
    assert mag.max_dim_log2 == 3
    assert Mag(1).max_dim_log2 == 0
    assert Mag("1-1-32").max_dim_log2 == 5
    assert isinstance(mag.as_vec3_int, Vec3Int)
    assert mag.as_vec3_int == Vec3Int(8, 4, 2)


def test_names_and_conversions() -> None:
    assert Mag(2).to_layer_name() == "2"
    assert Mag("2-2-2").to_layer_name() == "2"
    assert Mag("2-2-1").to_layer_name() == "2-2-1"
    assert Mag(2).to_long_layer_name() == "2-2-2"
    assert Mag("2-2-1").to_long_layer_name() == "2-2-1"
    mag = Mag("4-2-1")
    assert mag.to_list() == [4, 2, 1]
    assert mag.to_tuple() == (4, 2, 1)
    arr = mag.to_np()
    assert arr.dtype == np.int64
    assert arr.tolist() == [4, 2, 1]
    assert list(mag) == [4, 2, 1]
    x, y, z = mag
    assert (x, y, z) == (4, 2, 1)


def test_layer_names_round_trip() -> None:
    for mag in (Mag(1), Mag(4), Mag("2-2-1"), Mag("1-2-4")):
        assert Mag(mag.to_layer_name()) == mag
        assert Mag(mag.to_long_layer_name()) == mag


def test_repr() -> None:
    assert repr(Mag("2-2-1")) == "Mag(2-2-1)"
    assert repr(Mag(2)) == "Mag(2)"


def test_equality_and_hash() -> None:
    assert Mag(2) == Mag("2-2-2")
    assert Mag(2) == Mag([2, 2, 2])
    assert Mag(2) != Mag("2-2-1")
    # Like webknossos, a Mag equals anything Mag() accepts for the same factors.
    assert Mag(2) == (2, 2, 2)
    assert Mag(2) == 2
    assert Mag("2-2-1") == "2-2-1"
    assert Mag(2) != "not a mag"
    assert Mag(2) != None  # noqa: E711
    assert hash(Mag(2)) == hash((2, 2, 2))
    assert hash(Mag(2)) == hash(Mag("2-2-2"))
    assert {Mag(2): "x"}[Mag("2-2-2")] == "x"
    assert len({Mag(1), Mag("1"), Mag("1-1-1"), Mag(2)}) == 2


def test_multiplication_and_division() -> None:
    assert Mag(2) * 2 == Mag(4)
    assert 2 * Mag("2-2-1") == Mag("4-4-2")
    assert Mag("2-2-1") * (1, 1, 2) == Mag(2)
    assert isinstance(Mag(2) * 2, Mag)
    assert Mag(4) // 2 == Mag(2)
    assert Mag("4-4-2") // (2, 2, 1) == Mag(2)
    assert isinstance(Mag(4) // 4, Mag)


@pytest.mark.parametrize(
    "operation",
    [
        lambda: Mag(2) * 3,
        lambda: Mag(2) * 0,
        lambda: Mag(2) * -1,
        lambda: Mag(2) // 4,
        lambda: Mag(4) // 3,
        lambda: Mag(4) // 0,
        lambda: Mag(4) // -2,
    ],
)
def test_invalid_arithmetic_results_raise(operation: Any) -> None:
    with pytest.raises(InvalidMagError) as info:
        operation()
    assert isinstance(info.value, ValueError)
    assert "Mag" in str(info.value)


def test_pickle_and_copy() -> None:
    mag = Mag("4-2-1")
    for clone in (pickle.loads(pickle.dumps(mag)), copy.deepcopy(mag)):
        assert clone == mag
        assert type(clone) is Mag
        assert repr(clone) == "Mag(4-2-1)"


def test_order_examples() -> None:
    assert Mag(1) < Mag(2) < Mag(4)
    assert Mag("2-2-1") < Mag(2)
    assert Mag("2-2-1") < Mag("1-2-2")  # key (2, 1, 2, 2) < (2, 2, 2, 1)
    assert Mag("1-1-2") > Mag("2-2-1")
    assert Mag(2) <= Mag("2-2-2")
    assert Mag(2) >= Mag("2-2-2")
    assert not Mag(2) < Mag("2-2-2")
    assert sorted([Mag(4), Mag(1), Mag(2), Mag("2-2-1")]) == [Mag(1), Mag("2-2-1"), Mag(2), Mag(4)]
    assert min(Mag(4), Mag("2-2-1")) == Mag("2-2-1")
    assert max([Mag(1), Mag("1-1-8"), Mag(4)]) == Mag("1-1-8")


def test_order_against_mag_likes_and_other_types() -> None:
    # Like webknossos, the other operand may be anything Mag() accepts.
    assert Mag(1) < 2
    assert Mag(1) >= (1, 1, 1)
    with pytest.raises(TypeError):
        _ = Mag(1) < "not a mag"
    with pytest.raises(TypeError):
        _ = Mag(1) >= None  # type: ignore[operator]


def test_str_is_the_layer_name() -> None:
    assert str(Mag("16-16-4")) == "16-16-4"
    assert str(Mag(2)) == "2"
    assert f"{Mag('2-2-1')}" == "2-2-1"
    assert Mag(4).to_vec3_int() == Vec3Int(4, 4, 4)


# --- properties ---------------------------------------------------------------------------------

exponents = st.integers(min_value=0, max_value=4)
mags = st.builds(
    lambda x, y, z: Mag([2**x, 2**y, 2**z]),
    exponents,
    exponents,
    exponents,
)


@given(a=mags, b=mags)
def test_exactly_one_of_lt_eq_gt(a: Mag, b: Mag) -> None:
    assert [a < b, a == b, a > b].count(True) == 1
    assert (a <= b) == (a < b or a == b)
    assert (a >= b) == (a > b or a == b)
    assert (a < b) == (b > a)
    assert (a == b) == (a.to_tuple() == b.to_tuple())
    if a == b:
        assert hash(a) == hash(b)


@given(a=mags, b=mags, c=mags)
def test_order_is_transitive(a: Mag, b: Mag, c: Mag) -> None:
    if a <= b and b <= c:
        assert a <= c
    if a < b and b < c:
        assert a < c


@given(a=mags, b=mags)
def test_order_key_is_max_dim_then_zyx(a: Mag, b: Mag) -> None:
    key_a = (a.max_dim, a.z, a.y, a.x)
    key_b = (b.max_dim, b.z, b.y, b.x)
    assert (a < b) == (key_a < key_b)


@given(data=st.data(), values=st.lists(mags, min_size=0, max_size=12))
def test_sorted_is_independent_of_input_order(data: st.DataObject, values: list[Mag]) -> None:
    shuffled = data.draw(st.permutations(values))
    result = sorted(shuffled)
    assert result == sorted(values)
    assert [m.to_tuple() for m in result] == [m.to_tuple() for m in sorted(values)]
    assert all(result[i] <= result[i + 1] for i in range(len(result) - 1))


@given(mag=mags)
def test_parse_round_trips(mag: Mag) -> None:
    assert Mag(mag.to_long_layer_name()) == mag
    assert Mag(mag.to_list()) == mag
    assert Mag(mag.to_np()) == mag
    assert Mag(mag.as_vec3_int) == mag
    assert 2**mag.max_dim_log2 == mag.max_dim
