"""Compiled compressed_segmentation decoder (numba, optional): decodes straight into the caller's
array, only the voxels it asks for, with every read bounds-checked.

The `compressed-segmentation` package and the numpy decoder in `_cseg.py` stay the reference
(property tests compare them). Any inconsistency returns a non-zero code instead of raising:
the caller then decodes with the reference path, which names the problem.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

__all__ = ["decode_into"]

_VALID_BITS = (0, 1, 2, 4, 8, 16, 32)


@numba.njit(cache=True, nogil=True)
def _decode_into(  # pragma: no cover - compiled
    words: Any,
    sx: int,
    sy: int,
    sz: int,
    bx: int,
    by: int,
    bz: int,
    wide: bool,
    out: Any,
    x0: int,
    y0: int,
    z0: int,
) -> int:
    """Chunk voxels `[x0, x0 + out.shape[1]) x ...` of every channel into `out`; 0 when the
    chunk is consistent (every header, value word and table entry in bounds), else 1."""
    nwords = words.shape[0]
    channels = out.shape[0]
    gx = (sx + bx - 1) // bx
    gy = (sy + by - 1) // by
    gz = (sz + bz - 1) // bz
    nblocks = gx * gy * gz
    entry = 2 if wide else 1
    x1, y1, z1 = x0 + out.shape[1], y0 + out.shape[2], z0 + out.shape[3]
    if nwords < channels:
        return 1
    for c in range(channels):
        base = np.int64(words[c])
        if base + 2 * nblocks > nwords:
            return 1
        for kz in range(gz):
            for ky in range(gy):
                for kx in range(gx):
                    h = base + 2 * (kx + gx * (ky + gy * kz))
                    w0 = np.int64(words[h])
                    bits = w0 >> 24
                    if not (
                        bits == 0
                        or bits == 1
                        or bits == 2
                        or bits == 4
                        or bits == 8
                        or bits == 16
                        or bits == 32
                    ):
                        return 1
                    table = base + (w0 & 0xFFFFFF)
                    values = base + np.int64(words[h + 1])
                    ex = min(bx, sx - kx * bx)
                    ey = min(by, sy - ky * by)
                    ez = min(bz, sz - kz * bz)
                    if table + entry > nwords:
                        return 1
                    if bits > 0:
                        last = (ex - 1) + bx * ((ey - 1) + by * (ez - 1))
                        if values + ((bits * last) >> 5) >= nwords:
                            return 1
                    mask = (np.int64(1) << bits) - 1
                    bx0, by0, bz0 = kx * bx, ky * by, kz * bz
                    # Every voxel of the chunk must index inside the buffer, read or not
                    # (checked only for blocks whose largest possible index could leave it).
                    if bits > 0 and table + (mask + 1) * entry > nwords:
                        top = np.int64(0)
                        for z in range(ez):
                            for y in range(ey):
                                row = bx * (y + by * z)
                                for x in range(ex):
                                    bit = (row + x) * bits
                                    index = (np.int64(words[values + (bit >> 5)]) >> (bit & 31)) & mask
                                    top = max(top, index)
                        if table + (top + 1) * entry > nwords:
                            return 1
                    # The part of this block the caller wants.
                    lx0, lx1 = max(x0, bx0), min(x1, bx0 + ex)
                    ly0, ly1 = max(y0, by0), min(y1, by0 + ey)
                    lz0, lz1 = max(z0, bz0), min(z1, bz0 + ez)
                    if lx0 >= lx1 or ly0 >= ly1 or lz0 >= lz1:
                        continue
                    target = out[c]
                    if bits == 0:
                        value = np.uint64(words[table])
                        if wide:
                            value |= np.uint64(words[table + 1]) << np.uint64(32)
                        for z in range(lz0, lz1):
                            for y in range(ly0, ly1):
                                for x in range(lx0, lx1):
                                    target[x - x0, y - y0, z - z0] = value
                        continue
                    for z in range(lz0, lz1):
                        for y in range(ly0, ly1):
                            row = bx * ((y - by0) + by * (z - bz0)) - bx0
                            for x in range(lx0, lx1):
                                bit = (row + x) * bits
                                index = (np.int64(words[values + (bit >> 5)]) >> (bit & 31)) & mask
                                at = table + index * entry
                                if wide:
                                    target[x - x0, y - y0, z - z0] = np.uint64(words[at]) | (
                                        np.uint64(words[at + 1]) << np.uint64(32)
                                    )
                                else:
                                    target[x - x0, y - y0, z - z0] = words[at]
    return 0


def decode_into(
    words: np.ndarray,
    shape3: tuple[int, int, int],
    block: tuple[int, int, int],
    out: np.ndarray,
    start: tuple[int, int, int],
) -> bool:
    """Decode the chunk voxels `start + [0, out.shape[1:])` of all channels into `out`
    (native uint32/uint64, any strides); False when the chunk is inconsistent."""
    code = _decode_into(
        words,
        shape3[0],
        shape3[1],
        shape3[2],
        block[0],
        block[1],
        block[2],
        out.dtype.itemsize == 8,
        out,
        start[0],
        start[1],
        start[2],
    )
    return int(code) == 0
