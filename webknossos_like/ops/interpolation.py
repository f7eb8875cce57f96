"""Downsampling kernels: reduce each block of `factor` voxels to one, vectorised with NumPy.

Every kernel works on the k = fx*fy*fz strided views of the block elements (no copies), so the
cost is a few passes over the data. Integer results are exact: no float round trips, so uint64
labels above 2**53 survive `mode`, `nearest`, `max` and `min` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from typing import Any

import numpy as np

from ..errors import UnknownModeError
from ..geometry import Vec3Int

_SLAB_PLANES = 4  # output z planes per slab
INTERPOLATION_MODES = ("average", "median", "mode", "nearest", "max", "min")


def _block_elements(data: np.ndarray, factor: Vec3Int) -> list[np.ndarray]:
    """The k views `data[:, i::fx, j::fy, l::fz]`, one per position inside a block."""
    fx, fy, fz = factor
    return [data[:, i::fx, j::fy, k::fz] for k, j, i in product(range(fz), range(fy), range(fx))]


def _accumulator(dtype: np.dtype) -> np.dtype:
    if dtype.kind == "f":
        return np.dtype(np.float64)
    if dtype.kind == "u":
        return np.dtype(np.uint64) if dtype.itemsize >= 4 else np.dtype(np.uint32)
    return np.dtype(np.int64)


def _average(values: list[np.ndarray]) -> np.ndarray:
    """Mean of the block; integers are rounded half up ((sum + k//2) // k), exactly."""
    dtype = values[0].dtype
    k = len(values)
    if dtype.kind in "iu" and dtype.itemsize == 8:
        # Sums of 64-bit values can overflow: average quotients and remainders separately,
        # using sum(v) = k * sum(v // k) + sum(v % k), which stays exact.
        quotient = values[0] // k
        remainder = values[0] % k
        for value in values[1:]:
            quotient += value // k
            remainder += value % k
        exact: np.ndarray = (quotient + (remainder + k // 2) // k).astype(dtype)
        return exact
    total = values[0].astype(_accumulator(dtype))
    for value in values[1:]:
        total += value
    if dtype.kind == "f":
        return (total / k).astype(dtype)
    return ((total + k // 2) // k).astype(dtype)


def _mode(values: list[np.ndarray]) -> np.ndarray:
    """Most frequent value of each block; ties go to the smallest value (deterministic).

    Blocks whose voxels are all equal (most of a segmentation) are settled by k-1 comparisons;
    only the rest are counted pairwise, on compact copies.
    """
    k = len(values)
    result: np.ndarray = values[0].copy()
    if k == 1:
        return result
    mixed = np.zeros(result.shape, dtype=bool)
    for value in values[1:]:
        mixed |= value != result
    if not mixed.any():
        return result
    where = np.nonzero(mixed)  # computed once, reused to gather from all k views
    candidates = [value[where] for value in values]
    counts = [np.ones(candidates[0].shape, dtype=np.uint8) for _ in range(k)]
    for i in range(k):
        for j in range(i + 1, k):
            equal = candidates[i] == candidates[j]
            counts[i] += equal
            counts[j] += equal
    best = candidates[0].copy()
    best_count = counts[0]
    for i in range(1, k):
        better = (counts[i] > best_count) | ((counts[i] == best_count) & (candidates[i] < best))
        np.copyto(best, candidates[i], where=better)
        best_count = np.where(better, counts[i], best_count)
    result[where] = best
    return result


def _compare_swap(values: list[np.ndarray], i: int, j: int) -> None:
    low = np.minimum(values[i], values[j])
    values[j] = np.maximum(values[i], values[j])
    values[i] = low


# Optimal sorting networks (Knuth) for the block sizes a factor-2 pyramid produces.
_NETWORKS: dict[int, list[tuple[int, int]]] = {
    2: [(0, 1)],
    4: [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)],
    8: [
        (0, 2),
        (1, 3),
        (4, 6),
        (5, 7),
        (0, 4),
        (1, 5),
        (2, 6),
        (3, 7),
        (0, 1),
        (2, 3),
        (4, 5),
        (6, 7),
        (2, 4),
        (3, 5),
        (1, 4),
        (3, 6),
        (1, 2),
        (3, 4),
        (5, 6),
    ],
}


def _median(values: list[np.ndarray]) -> np.ndarray:
    """Median of each block; for an even count the mean of the two middle values, rounded down
    (as webknossos does)."""
    k = len(values)
    dtype = values[0].dtype
    if k in _NETWORKS:
        ordered = list(values)
        for i, j in _NETWORKS[k]:
            _compare_swap(ordered, i, j)
    else:
        stacked = np.sort(np.stack(values), axis=0)
        ordered = list(stacked)
    result: np.ndarray
    if k % 2:
        result = ordered[k // 2].copy()
        return result
    low, high = ordered[k // 2 - 1], ordered[k // 2]
    if dtype.kind == "f":
        result = ((low.astype(np.float64) + high) / 2).astype(dtype)
        return result
    if dtype.itemsize == 8:
        # (low + high) // 2 without the 64-bit overflow of low + high.
        result = (low // 2 + high // 2 + (low % 2 + high % 2) // 2).astype(dtype)
        return result
    acc = _accumulator(dtype)
    result = ((low.astype(acc) + high.astype(acc)) // 2).astype(dtype)
    return result


def _nearest(values: list[np.ndarray]) -> np.ndarray:
    result: np.ndarray = values[0].copy()
    return result


def _max(values: list[np.ndarray]) -> np.ndarray:
    result: np.ndarray = np.maximum.reduce(values)
    return result


def _min(values: list[np.ndarray]) -> np.ndarray:
    result: np.ndarray = np.minimum.reduce(values)
    return result


_KERNELS: dict[str, Callable[[list[np.ndarray]], np.ndarray]] = {
    "average": _average,
    "median": _median,
    "mode": _mode,
    "nearest": _nearest,
    "max": _max,
    "min": _min,
}


def parse_interpolation_mode(mode: str, category: str) -> str:
    """Resolve `default` (mode for segmentation, median for color, as webknossos) and validate
    the name."""
    name = mode.lower() if isinstance(mode, str) else mode
    if name == "default":
        return "mode" if category == "segmentation" else "median"
    if name not in _KERNELS:
        raise UnknownModeError(
            f"Unknown interpolation mode {mode!r}; valid: default, {', '.join(INTERPOLATION_MODES)}."
        )
    return str(name)


# Below this size the NumPy kernels win (no compile or dispatch cost).
_COMPILED_MIN_VOXELS = 2**12
_compiled: Any = None


def compiled_kernels() -> Any:
    """The numba kernels module, or None when numba is not installed (imported once, lazily)."""
    global _compiled
    if _compiled is None:
        try:
            from . import _numba_kernels
        except ImportError:
            _compiled = False
        else:
            _compiled = _numba_kernels
    return _compiled or None


def downsample_data(data: np.ndarray, factor: Vec3Int, mode: str) -> np.ndarray:
    """Reduce `(c, x, y, z)` data by `factor` per axis; sizes that are not multiples are edge-padded.

    Edge padding repeats the last voxel inside the data, so partial blocks at the border are
    computed from real voxels only (nothing outside is read, no zeros are invented).
    """
    if mode not in _KERNELS:
        raise UnknownModeError(f"Unknown interpolation mode {mode!r}.")
    shape = Vec3Int(data.shape[1:])
    padded = shape.ceildiv(factor) * factor
    if padded != shape:
        pad = [(0, 0)] + [(0, p - s) for p, s in zip(padded, shape, strict=True)]
        data = np.pad(data, pad, mode="edge")
    if data.size >= _COMPILED_MIN_VOXELS:
        compiled = compiled_kernels()
        if compiled is not None and compiled.supports(mode, data.dtype, factor.to_tuple()):
            result_compiled: np.ndarray = compiled.downsample(data, factor.to_tuple(), mode)
            return result_compiled
    kernel = _KERNELS[mode]
    out_shape = (data.shape[0], *(padded // factor))
    result = np.empty(out_shape, dtype=data.dtype, order="F")
    # Work on slabs of a few z planes so the k strided passes stay in the CPU cache
    # (2-3x faster than whole-volume passes for 256^3 inputs).
    step = _SLAB_PLANES
    for z in range(0, out_shape[3], step):
        source = data[..., z * factor.z : (z + step) * factor.z]
        result[..., z : z + step] = kernel(_block_elements(source, factor))
    return result


def upsample_data(data: np.ndarray, factor: Vec3Int) -> np.ndarray:
    """Repeat each voxel `factor` times per axis (nearest-neighbour upsampling)."""
    result = data
    for axis, f in enumerate(factor, start=1):
        if f > 1:
            result = np.repeat(result, f, axis=axis)
    return np.asfortranarray(result)
