"""Compiled downsampling kernels, used when the optional `numba` package is installed.

Same results as the NumPy kernels in `interpolation.py` (which stay the reference and the
fallback): `mode` ties go to the smallest label, even-count integer medians are the mean of the
two middle values rounded half up. The 2x2x2 kernels are unrolled and work on one channel's 3-D
array at a time, which lets LLVM vectorise them (a 256^3 uint8 median takes ~1 ms).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np


@numba.njit(inline="always", cache=True, nogil=True)
def _mean_down(low: Any, high: Any) -> Any:  # pragma: no cover - compiled
    """floor((low + high) / 2) without widening, exact for every integer type (also 64-bit);
    webknossos rounds the median of an even count down the same way."""
    return (low & high) + ((low ^ high) >> 1)


@numba.njit(inline="always", cache=True, nogil=True)
def _middle_pair(a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any) -> Any:
    """The 4th and 5th smallest of eight values (in either order): a pruned merge network."""
    b0, b1 = min(a0, a1), max(a0, a1)
    b2, b3 = min(a2, a3), max(a2, a3)
    b4, b5 = min(a4, a5), max(a4, a5)
    b6, b7 = min(a6, a7), max(a6, a7)
    c0, c1, c2, c3 = min(b0, b2), min(b1, b3), max(b0, b2), max(b1, b3)
    c4, c5, c6, c7 = min(b4, b6), min(b5, b7), max(b4, b6), max(b5, b7)
    d1, d2 = min(c1, c2), max(c1, c2)
    d5, d6 = min(c5, c6), max(c5, c6)
    e2, e3, e4, e5 = min(d2, d6), min(c3, c7), max(c0, c4), max(d1, d5)
    return min(e3, e5), max(e2, e4)


@numba.njit(cache=True, nogil=True)
def _median_222(s: Any, t: Any) -> None:  # pragma: no cover - compiled
    for z in range(t.shape[2]):
        for y in range(t.shape[1]):
            for x in range(t.shape[0]):
                low, high = _middle_pair(
                    s[2 * x, 2 * y, 2 * z],
                    s[2 * x + 1, 2 * y, 2 * z],
                    s[2 * x, 2 * y + 1, 2 * z],
                    s[2 * x + 1, 2 * y + 1, 2 * z],
                    s[2 * x, 2 * y, 2 * z + 1],
                    s[2 * x + 1, 2 * y, 2 * z + 1],
                    s[2 * x, 2 * y + 1, 2 * z + 1],
                    s[2 * x + 1, 2 * y + 1, 2 * z + 1],
                )
                t[x, y, z] = _mean_down(low, high)


@numba.njit(cache=True, nogil=True)
def _average_222(s: Any, t: Any) -> None:  # pragma: no cover - compiled
    # Integers of at most 32 bits: the sum of eight fits in int64; `>> 3` floors like `// 8`.
    for z in range(t.shape[2]):
        for y in range(t.shape[1]):
            for x in range(t.shape[0]):
                total = (
                    np.int64(s[2 * x, 2 * y, 2 * z])
                    + np.int64(s[2 * x + 1, 2 * y, 2 * z])
                    + np.int64(s[2 * x, 2 * y + 1, 2 * z])
                    + np.int64(s[2 * x + 1, 2 * y + 1, 2 * z])
                    + np.int64(s[2 * x, 2 * y, 2 * z + 1])
                    + np.int64(s[2 * x + 1, 2 * y, 2 * z + 1])
                    + np.int64(s[2 * x, 2 * y + 1, 2 * z + 1])
                    + np.int64(s[2 * x + 1, 2 * y + 1, 2 * z + 1])
                )
                t[x, y, z] = (total + 4) >> 3


@numba.njit(inline="always", cache=True, nogil=True)
def _mode8(a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any) -> Any:
    """Most frequent of eight values, ties to the smallest.

    Each value counts only its later matches: a value's first occurrence carries its full count
    and later ones carry less, so "more, or as many and smaller" picks the right one.
    """
    c0 = (a0 == a1) + (a0 == a2) + (a0 == a3) + (a0 == a4) + (a0 == a5) + (a0 == a6) + (a0 == a7)
    c1 = (a1 == a2) + (a1 == a3) + (a1 == a4) + (a1 == a5) + (a1 == a6) + (a1 == a7)
    c2 = (a2 == a3) + (a2 == a4) + (a2 == a5) + (a2 == a6) + (a2 == a7)
    c3 = (a3 == a4) + (a3 == a5) + (a3 == a6) + (a3 == a7)
    c4 = (a4 == a5) + (a4 == a6) + (a4 == a7)
    c5 = (a5 == a6) + (a5 == a7)
    c6 = 0 + (a6 == a7)
    best, count = a0, c0
    if c1 > count or (c1 == count and a1 < best):
        best, count = a1, c1
    if c2 > count or (c2 == count and a2 < best):
        best, count = a2, c2
    if c3 > count or (c3 == count and a3 < best):
        best, count = a3, c3
    if c4 > count or (c4 == count and a4 < best):
        best, count = a4, c4
    if c5 > count or (c5 == count and a5 < best):
        best, count = a5, c5
    if c6 > count or (c6 == count and a6 < best):
        best, count = a6, c6
    if count == 0 and a7 < best:
        best = a7
    return best


@numba.njit(cache=True, nogil=True)
def _mode_222(s: Any, t: Any) -> None:  # pragma: no cover - compiled
    # Almost every block of a segmentation holds one or two labels: then the block's minimum and
    # maximum are its labels and their counts decide (ties to the minimum). That test is
    # branch-free, so LLVM vectorises the row; the rare blocks with three or more labels (their
    # two counts do not add up to 8) are redone one by one after the row.
    rare = np.empty(t.shape[0], dtype=np.int32)
    for z in range(t.shape[2]):
        for y in range(t.shape[1]):
            rare_in_row = np.int32(0)
            for x in range(t.shape[0]):
                a0 = s[2 * x, 2 * y, 2 * z]
                a1 = s[2 * x + 1, 2 * y, 2 * z]
                a2 = s[2 * x, 2 * y + 1, 2 * z]
                a3 = s[2 * x + 1, 2 * y + 1, 2 * z]
                a4 = s[2 * x, 2 * y, 2 * z + 1]
                a5 = s[2 * x + 1, 2 * y, 2 * z + 1]
                a6 = s[2 * x, 2 * y + 1, 2 * z + 1]
                a7 = s[2 * x + 1, 2 * y + 1, 2 * z + 1]
                low = min(min(min(a0, a1), min(a2, a3)), min(min(a4, a5), min(a6, a7)))
                high = max(max(max(a0, a1), max(a2, a3)), max(max(a4, a5), max(a6, a7)))
                n_low = (
                    np.int32(a0 == low)
                    + np.int32(a1 == low)
                    + np.int32(a2 == low)
                    + np.int32(a3 == low)
                    + np.int32(a4 == low)
                    + np.int32(a5 == low)
                    + np.int32(a6 == low)
                    + np.int32(a7 == low)
                )
                n_high = (
                    np.int32(a0 == high)
                    + np.int32(a1 == high)
                    + np.int32(a2 == high)
                    + np.int32(a3 == high)
                    + np.int32(a4 == high)
                    + np.int32(a5 == high)
                    + np.int32(a6 == high)
                    + np.int32(a7 == high)
                )
                t[x, y, z] = low if n_low >= n_high else high
                flag = np.int32(n_low + n_high < 8)  # also NaN, which equals neither
                rare[x] = flag
                rare_in_row += flag
            if rare_in_row:
                for x in range(t.shape[0]):
                    if rare[x]:
                        t[x, y, z] = _mode8(
                            s[2 * x, 2 * y, 2 * z],
                            s[2 * x + 1, 2 * y, 2 * z],
                            s[2 * x, 2 * y + 1, 2 * z],
                            s[2 * x + 1, 2 * y + 1, 2 * z],
                            s[2 * x, 2 * y, 2 * z + 1],
                            s[2 * x + 1, 2 * y, 2 * z + 1],
                            s[2 * x, 2 * y + 1, 2 * z + 1],
                            s[2 * x + 1, 2 * y + 1, 2 * z + 1],
                        )


@numba.njit(inline="always", cache=True, nogil=True)
def _gather(
    s: Any, x: int, y: int, z: int, fx: int, fy: int, fz: int, values: Any
) -> None:  # pragma: no cover - compiled
    """Copy block (x, y, z) of `s` into `values`, x fastest (the NumPy kernels' order)."""
    n = 0
    for dz in range(fz):
        for dy in range(fy):
            for dx in range(fx):
                values[n] = s[x * fx + dx, y * fy + dy, z * fz + dz]
                n += 1


@numba.njit(cache=True, nogil=True)
def _mode_any(s: Any, t: Any, fx: int, fy: int, fz: int) -> None:  # pragma: no cover - compiled
    k = fx * fy * fz
    values = np.empty(k, dtype=s.dtype)
    for z in range(t.shape[2]):
        for y in range(t.shape[1]):
            for x in range(t.shape[0]):
                _gather(s, x, y, z, fx, fy, fz, values)
                best = values[0]
                best_count = 0
                for i in range(k):
                    count = 0
                    for j in range(i, k):
                        if values[j] == values[i]:
                            count += 1
                    if count > best_count or (count == best_count and values[i] < best):
                        best = values[i]
                        best_count = count
                t[x, y, z] = best


@numba.njit(cache=True, nogil=True)
def _median_any(s: Any, t: Any, fx: int, fy: int, fz: int) -> None:  # pragma: no cover - compiled
    k = fx * fy * fz
    values = np.empty(k, dtype=s.dtype)
    for z in range(t.shape[2]):
        for y in range(t.shape[1]):
            for x in range(t.shape[0]):
                _gather(s, x, y, z, fx, fy, fz, values)
                for i in range(1, k):  # insertion sort: k is small
                    value = values[i]
                    j = i - 1
                    while j >= 0 and values[j] > value:
                        values[j + 1] = values[j]
                        j -= 1
                    values[j + 1] = value
                if k % 2:
                    t[x, y, z] = values[k // 2]
                else:
                    t[x, y, z] = _mean_down(values[k // 2 - 1], values[k // 2])


@numba.njit(cache=True, nogil=True)
def _target(s: Any, t: Any, fx: int, fy: int, fz: int, ox: int, oy: int, oz: int) -> Any:
    """The part of `t` that block `s` reduces into; a sliced target keeps the kernels' inner
    loop vectorisable (offset indexing inside them does not)."""
    return t[ox : ox + s.shape[0] // fx, oy : oy + s.shape[1] // fy, oz : oz + s.shape[2] // fz]


# One driver per mode (not one with a mode switch): numba types every branch of a function, and
# the median's bit tricks do not type for the floats `mode` accepts. `mode` needs no such
# driver: `_mode_chunks` reduces into a contiguous block instead.
@numba.njit(cache=True, nogil=True)
def _median_into(s: Any, t: Any, fx: int, fy: int, fz: int, ox: int, oy: int, oz: int) -> None:
    target = _target(s, t, fx, fy, fz, ox, oy, oz)
    if fx == 2 and fy == 2 and fz == 2:
        _median_222(s, target)
    else:
        _median_any(s, target, fx, fy, fz)


@numba.njit(cache=True, nogil=True)
def _average_into(s: Any, t: Any, fx: int, fy: int, fz: int, ox: int, oy: int, oz: int) -> None:
    _average_222(s, _target(s, t, fx, fy, fz, ox, oy, oz))  # supports() allows only 2x2x2


@numba.njit(cache=True, nogil=True)
def _place(block: Any, t: Any, ox: int, oy: int, oz: int) -> None:  # pragma: no cover - compiled
    """`t[ox:, oy:, oz:][:block.shape] = block` as plain loops (numba's slice assignment is ~5x
    slower)."""
    for z in range(block.shape[2]):
        for y in range(block.shape[1]):
            for x in range(block.shape[0]):
                t[ox + x, oy + y, oz + z] = block[x, y, z]


@numba.njit(cache=True, nogil=True)
def _mode_chunks(chunks: Any, corners: Any, t: Any, fx: int, fy: int, fz: int) -> None:
    # Reduce into a contiguous scratch block, then copy: with a strided target LLVM does not
    # vectorise the mode kernel (2x slower).
    _, cz, cy, cx = chunks.shape
    block = np.empty((cz // fz, cy // fy, cx // fx), dtype=t.dtype).T
    for i in range(chunks.shape[0]):
        c = corners[i]
        if fx == 2 and fy == 2 and fz == 2:  # the kernels directly: slicing loses the layout
            _mode_222(chunks[i].T, block)
        else:
            _mode_any(chunks[i].T, block, fx, fy, fz)
        _place(block, t, c[0] // fx, c[1] // fy, c[2] // fz)


@numba.njit(cache=True, nogil=True)
def _median_chunks(chunks: Any, corners: Any, t: Any, fx: int, fy: int, fz: int) -> None:
    for i in range(chunks.shape[0]):
        c = corners[i]
        _median_into(chunks[i].T, t, fx, fy, fz, c[0] // fx, c[1] // fy, c[2] // fz)


@numba.njit(cache=True, nogil=True)
def _average_chunks(chunks: Any, corners: Any, t: Any, fx: int, fy: int, fz: int) -> None:
    for i in range(chunks.shape[0]):
        c = corners[i]
        _average_into(chunks[i].T, t, fx, fy, fz, c[0] // fx, c[1] // fy, c[2] // fz)


_UNROLLED = {"mode": _mode_222, "median": _median_222, "average": _average_222}
_GENERIC = {"mode": _mode_any, "median": _median_any}
_CHUNKS = {"mode": _mode_chunks, "median": _median_chunks, "average": _average_chunks}


def supports(mode: str, dtype: np.dtype[Any], factor: tuple[int, int, int]) -> bool:
    """Whether a compiled kernel computes `mode` exactly like the NumPy reference.

    Float medians and averages stay with NumPy (same summation order, same NaN handling), as do
    averages of 64-bit integers (their exact sum needs more than 64 bits).
    """
    if mode == "mode":
        return dtype.kind in "iuf"
    if mode == "median":
        return dtype.kind in "iu"
    if mode == "average":
        return dtype.kind in "iu" and dtype.itemsize <= 4 and factor == (2, 2, 2)
    return False


def downsample(data: np.ndarray, factor: tuple[int, int, int], mode: str) -> np.ndarray:
    """Reduce padded `(c, x, y, z)` data by `factor`, one channel (a 3-D array) at a time."""
    fx, fy, fz = factor
    out = np.empty(
        (data.shape[0], data.shape[1] // fx, data.shape[2] // fy, data.shape[3] // fz),
        dtype=data.dtype,
        order="F",
    )
    for channel in range(data.shape[0]):
        # the kernels directly (not the `_*_into` drivers): whole targets keep their layout
        if factor == (2, 2, 2):
            _UNROLLED[mode](data[channel], out[channel])
        else:
            _GENERIC[mode](data[channel], out[channel], fx, fy, fz)
    return out


def downsample_chunks(
    chunks: np.ndarray,
    corners: np.ndarray,
    out: np.ndarray,
    factor: tuple[int, int, int],
    mode: str,
) -> None:
    """Reduce stored chunks `(n, z, y, x, c)` into `out` `(c, X, Y, Z)`; chunk i starts at
    voxel `corners[i]` of the source region `out` was reduced from."""
    kernel = _CHUNKS[mode]
    for channel in range(chunks.shape[4]):
        kernel(chunks[..., channel], corners, out[channel], *factor)
