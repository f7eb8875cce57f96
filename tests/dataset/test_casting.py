"""Writes with another dtype: cast when every value fits the layer, refused (with the range) when not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from webknossos_like import Dataset
from webknossos_like.dataset._casting import cast_to_layer_dtype
from webknossos_like.errors import DTypeError


@pytest.fixture
def layers(tmp_path: Path) -> Dataset:
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("u8", "color", dtype="uint8").add_mag(1)
    ds.add_layer("seg", "segmentation", dtype="uint32").add_mag(1)
    ds.add_layer("f32", "color", dtype="float32").add_mag(1)
    return ds


def test_values_that_fit_are_cast(layers: Dataset) -> None:
    seg = layers.get_layer("seg")
    seg.get_mag(1).write(np.full((8, 8, 8), 5, np.int64))
    assert seg.get_mag(1).read().dtype == np.uint32
    assert (seg.get_mag(1).read() == 5).all()
    assert seg.largest_segment_id == 5
    color = layers.get_layer("u8").get_mag(1)
    color.write(np.full((8, 8, 8), 200.0))
    assert (color.read() == 200).all()
    color[0:2, 0:2, 0:2] = np.int64(7)
    assert (color[0:2, 0:2, 0:2] == 7).all()
    layers.get_layer("f32").get_mag(1).write(np.full((4, 4, 4), 0.25))  # float64 -> float32
    assert (layers.get_layer("f32").get_mag(1).read() == 0.25).all()


@pytest.mark.parametrize(
    ("layer", "data", "shown"),
    [
        ("u8", np.full((4, 4, 4), 256, np.int64), "256"),
        ("u8", np.full((4, 4, 4), -3, np.int16), "-3"),
        ("u8", np.full((4, 4, 4), 2.5), "2.5"),
        ("u8", np.full((4, 4, 4), np.nan), "NaN"),
        ("seg", np.full((4, 4, 4), 2**40, np.int64), str(2**40)),
        ("f32", np.full((4, 4, 4), 2**30 + 1, np.int64), str(2**30 + 1)),
    ],
)
def test_values_that_do_not_fit_are_refused_showing_them(
    layers: Dataset, layer: str, data: np.ndarray, shown: str
) -> None:
    mag = layers.get_layer(layer).get_mag(1)
    with pytest.raises(DTypeError, match=shown):
        mag.write(data)
    assert mag.layer.bounding_box.is_empty()  # nothing was written


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True)),
        min_size=1,
        max_size=6,
    ),
    source=st.sampled_from(["int64", "float64", "int16", "float32"]),
    target=st.sampled_from(["uint8", "uint16", "uint32", "int8", "int32", "uint64", "float32"]),
)
@example(values=[4_294_967_168], source="float32", target="uint32")  # rounds to 2**32 in float32
@example(values=[2**63], source="float64", target="int32")
@example(values=[-(2**31) - 129], source="float32", target="int32")
@example(values=[1.2774067972759975e-142], source="float64", target="float32")  # underflows to 0
def test_cast_never_changes_a_value(values: list[Any], source: str, target: str) -> None:
    """Either every value survives the cast unchanged (floats to float32: rounded to the
    nearest float32), or the write is refused."""
    with np.errstate(all="ignore"):
        try:
            array = np.array(values).astype(source)
        except (OverflowError, ValueError):
            return
    try:
        cast = cast_to_layer_dtype(array, np.dtype(target))
    except DTypeError:
        return
    assert cast.dtype == np.dtype(target)
    if cast.dtype.kind == "f" and array.dtype.kind == "f":  # float to float32: nearest value
        # tiny values may round to the nearest subnormal or zero: that is float32's nearest value
        tiny = float(np.finfo(np.float32).smallest_subnormal)
        np.testing.assert_allclose(cast, array, rtol=2**-23, atol=tiny)
        return
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(cast.astype(np.float64), array.astype(np.float64))
        assert (cast.astype(np.int64 if cast.dtype.kind in "iu" else np.float64) == array).all()
