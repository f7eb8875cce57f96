"""Downsampling kernels against a brute-force reference, for every mode and dtype."""

from __future__ import annotations

import collections
from itertools import product
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from webknossos_like.errors import InvalidArgumentError
from webknossos_like.geometry import Vec3Int
from webknossos_like.ops.interpolation import (
    downsample_data,
    parse_interpolation_mode,
    upsample_data,
)


def reference(data: np.ndarray, factor: tuple[int, int, int], mode: str) -> np.ndarray:
    """Block by block in plain Python (exact integers), with edge padding."""
    c, *shape = data.shape
    out_shape = [-(-s // f) for s, f in zip(shape, factor, strict=True)]
    out = np.zeros((c, *out_shape), dtype=data.dtype)
    for ch in range(c):
        for index in product(*(range(n) for n in out_shape)):
            values = []
            for offset in product(*(range(f) for f in factor)):
                pos = [
                    min(i * f + o, s - 1)
                    for i, f, o, s in zip(index, factor, offset, shape, strict=True)
                ]
                values.append(data[ch][tuple(pos)].item())
            # element order of the kernels: x fastest, then y, then z
            values_xfast = []
            for oz, oy, ox in product(range(factor[2]), range(factor[1]), range(factor[0])):
                pos = [
                    min(i * f + o, s - 1)
                    for i, f, o, s in zip(index, factor, (ox, oy, oz), shape, strict=True)
                ]
                values_xfast.append(data[ch][tuple(pos)].item())
            k = len(values)
            if mode == "mode":
                counts = collections.Counter(values)
                top = max(counts.values())
                result = min(v for v in counts if counts[v] == top)
            elif mode == "max":
                result = max(values)
            elif mode == "min":
                result = min(values)
            elif mode == "nearest":
                result = values_xfast[0]
            elif mode == "average":
                total = sum(values)
                result = total / k if data.dtype.kind == "f" else (total + k // 2) // k
            else:  # median
                ordered = sorted(values)
                if k % 2:
                    result = ordered[k // 2]
                elif data.dtype.kind == "f":
                    result = (ordered[k // 2 - 1] + ordered[k // 2]) / 2
                else:
                    result = (
                        ordered[k // 2 - 1] + ordered[k // 2]
                    ) // 2  # rounded down, as webknossos
            out[ch][index] = result
    return out


dtypes = st.sampled_from([np.uint8, np.uint16, np.uint32, np.uint64, np.int16, np.float32])
factors = st.sampled_from([(2, 2, 2), (2, 2, 1), (1, 1, 2), (2, 1, 1), (4, 4, 4), (1, 1, 1)])
modes = st.sampled_from(["average", "median", "mode", "nearest", "max", "min"])


def _has_numba() -> bool:
    from webknossos_like.ops import interpolation

    return interpolation.compiled_kernels() is not None


# "compiled" runs the numba kernels even on tiny arrays; "numpy" never uses them.
BACKENDS = {"numpy": 2**62, "compiled": 0}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    dtype=dtypes,
    factor=factors,
    mode=modes,
)
def test_kernels_match_reference(
    backend: str, data: st.DataObject, dtype: type, factor: tuple[int, int, int], mode: str
) -> None:
    shape = data.draw(
        st.tuples(st.integers(1, 2), st.integers(1, 7), st.integers(1, 7), st.integers(1, 7))
    )
    elements = (
        st.floats(-1000, 1000, width=32)
        if np.dtype(dtype).kind == "f"
        else st.integers(int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    )
    # few distinct values make mode ties and runs likely
    palette = data.draw(st.lists(elements, min_size=1, max_size=4))
    array = data.draw(hnp.arrays(dtype, shape, elements=st.sampled_from(palette)))
    from webknossos_like.ops import interpolation

    with mock.patch.object(interpolation, "_COMPILED_MIN_VOXELS", BACKENDS[backend]):
        result = downsample_data(array, Vec3Int(factor), mode)
    expected = reference(array, factor, mode)
    if np.dtype(dtype).kind == "f" and mode in ("average", "median"):
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-3)
    else:
        np.testing.assert_array_equal(result, expected)
    assert result.dtype == array.dtype


def test_mode_keeps_uint64_labels_above_2_53() -> None:
    big = 2**60 + 1
    data = np.full((1, 2, 2, 2), big, np.uint64)
    data[0, 0, 0, 0] = big + 1
    assert downsample_data(data, Vec3Int(2), "mode")[0, 0, 0, 0] == big
    assert downsample_data(data, Vec3Int(2), "max")[0, 0, 0, 0] == big + 1


def test_mode_ties_go_to_smallest_label() -> None:
    data = np.array([5, 5, 5, 5, 3, 3, 3, 3], np.uint32).reshape(1, 2, 2, 2, order="F")
    assert downsample_data(data, Vec3Int(2), "mode")[0, 0, 0, 0] == 3


@pytest.mark.parametrize("dtype", [np.uint64, np.int64])
@pytest.mark.parametrize("mode", ["average", "median"])
def test_64_bit_means_do_not_overflow(dtype: type, mode: str) -> None:
    top = int(np.iinfo(dtype).max)
    data = np.full((1, 2, 2, 2), top, dtype)
    data[0, 0, 0, 0] = top - 3
    result = int(downsample_data(data, Vec3Int(2), mode)[0, 0, 0, 0])
    expected = (7 * top + top - 3 + 4) // 8 if mode == "average" else top
    assert result == expected


def test_average_rounds_half_up_exactly() -> None:
    data = np.array([0, 0, 0, 0, 255, 255, 255, 255], np.uint8).reshape(1, 2, 2, 2)
    assert downsample_data(data, Vec3Int(2), "average")[0, 0, 0, 0] == 128  # 127.5 -> 128


def test_upsample_repeats() -> None:
    data = np.arange(8, dtype=np.uint16).reshape(1, 2, 2, 2)
    up = upsample_data(data, Vec3Int(2, 2, 1))
    assert up.shape == (1, 4, 4, 2)
    np.testing.assert_array_equal(downsample_data(up, Vec3Int(2, 2, 1), "nearest"), data)


def test_mode_names() -> None:
    assert parse_interpolation_mode("default", "segmentation") == "mode"
    assert parse_interpolation_mode("default", "color") == "median"  # as webknossos
    assert parse_interpolation_mode("MEDIAN", "color") == "median"
    with pytest.raises(
        InvalidArgumentError, match="average, median, mode, nearest, max, min"
    ) as info:
        parse_interpolation_mode("bicubic-ish", "color")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("mode", ["mode", "median", "average"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64, np.int16, np.int64])
@pytest.mark.parametrize("factor", [(2, 2, 2), (2, 2, 1), (4, 4, 4)])
def test_compiled_kernels_match_numpy(
    monkeypatch: pytest.MonkeyPatch, dtype: type, factor: tuple[int, int, int], mode: str
) -> None:
    from webknossos_like.ops import interpolation

    if interpolation.compiled_kernels() is None:
        pytest.skip("numba is not installed: the NumPy kernel is the only one")
    rng = np.random.default_rng(7)
    base = 2**60 if np.dtype(dtype) == np.uint64 else 0
    spread = 4 if mode == "mode" else int(min(np.iinfo(dtype).max, 2**40))
    low = int(np.iinfo(dtype).min) // 2 if mode != "mode" else 0
    data = (rng.integers(low, spread, size=(2, 16, 12, 9)) + base).astype(dtype)
    monkeypatch.setattr(interpolation, "_COMPILED_MIN_VOXELS", 0)
    compiled = downsample_data(data, Vec3Int(factor), mode)
    monkeypatch.setattr(interpolation, "_COMPILED_MIN_VOXELS", 2**62)
    reference = downsample_data(data, Vec3Int(factor), mode)
    np.testing.assert_array_equal(compiled, reference)
    assert compiled.dtype == reference.dtype and compiled.flags.f_contiguous
