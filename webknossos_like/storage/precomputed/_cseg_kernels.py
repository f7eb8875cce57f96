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

__all__ = ["decode_into", "encode_channel"]

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
                                    index = (
                                        np.int64(words[values + (bit >> 5)]) >> (bit & 31)
                                    ) & mask
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


@numba.njit(cache=True, nogil=True)
def _table_hash(values: Any, n: int) -> Any:  # pragma: no cover - compiled
    """FNV-1a over the table length and its entries (dedup key; contents compared on a hit)."""
    h = np.uint64(14695981039346656037) ^ np.uint64(n)
    for i in range(n):
        h = (h ^ np.uint64(values[i])) * np.uint64(1099511628211)
    return np.int64(h & np.uint64(0x7FFFFFFFFFFFFFFF))


@numba.njit(cache=True, nogil=True)
def _encode_channel(vol: Any, bx: int, by: int, bz: int, wide: bool) -> Any:  # pragma: no cover
    """One `(x, y, z)` channel in neuroglancer's layout (sorted tables, identical tables
    shared); an empty array when a table offset would not fit in 24 bits."""
    sx, sy, sz = vol.shape
    gx = (sx + bx - 1) // bx
    gy = (sy + by - 1) // by
    gz = (sz + bz - 1) // bz
    nblocks = gx * gy * gz
    volume = bx * by * bz
    entry = 2 if wide else 1
    out = np.empty(2 * nblocks + nblocks * volume * (1 + entry), dtype=np.uint32)
    values = np.empty(volume, dtype=vol.dtype)  # the block's voxels, padding = smallest
    table = np.empty(volume, dtype=vol.dtype)  # its distinct values, sorted
    inside = np.empty(volume, dtype=np.bool_)
    seen = numba.typed.Dict.empty(key_type=numba.types.int64, value_type=numba.types.int64)
    # Where each first-of-its-kind table starts (words) and its length, by block.
    table_at = np.zeros(nblocks, dtype=np.int64)
    table_len = np.zeros(nblocks, dtype=np.int64)
    table_block = np.zeros(nblocks, dtype=np.int64)
    ntables = 0
    pos = 2 * nblocks
    block = 0
    for kz in range(gz):
        for ky in range(gy):
            for kx in range(gx):
                # Gather the block; distinct values by linear scan while there are few.
                n = 0
                smallest = vol[kx * bx, ky * by, kz * bz]
                last = smallest
                table[0] = smallest
                n = 1
                for lz in range(bz):
                    for ly in range(by):
                        for lx in range(bx):
                            j = lx + bx * (ly + by * lz)
                            x, y, z = kx * bx + lx, ky * by + ly, kz * bz + lz
                            if x < sx and y < sy and z < sz:
                                v = vol[x, y, z]
                                values[j] = v
                                inside[j] = True
                                if v == last:
                                    continue
                                last = v
                                if v < smallest:
                                    smallest = v
                                if n <= 64:
                                    found = False
                                    for t in range(n):
                                        if table[t] == v:
                                            found = True
                                            break
                                    if not found:
                                        if n < 64:
                                            table[n] = v
                                        n += 1
                            else:
                                inside[j] = False
                if n > 64:  # many labels: sort them all
                    m = 0
                    for j in range(volume):
                        if inside[j]:
                            table[m] = values[j]
                            m += 1
                    ordered = np.unique(table[:m])
                    n = ordered.shape[0]
                    table[:n] = ordered
                else:
                    table[:n] = np.sort(table[:n])
                for j in range(volume):
                    if not inside[j]:
                        values[j] = smallest
                bits = 0
                if n > 1:
                    bits = 1
                    while (1 << bits) < n:
                        bits *= 2
                nwords = (bits * volume + 31) // 32
                # Shared table?
                key = _table_hash(table, n)
                canonical = -1
                if key in seen:
                    first = seen[key]
                    if table_len[first] == n:
                        same = True
                        at = table_at[first]
                        for t in range(n):
                            stored = np.uint64(out[at + t * entry])
                            if wide:
                                stored |= np.uint64(out[at + t * entry + 1]) << np.uint64(32)
                            if stored != np.uint64(table[t]):
                                same = False
                                break
                        if same:
                            canonical = first
                values_at = pos
                if canonical >= 0:
                    offset = table_at[canonical]
                    pos += nwords
                else:
                    offset = values_at + nwords
                    table_at[ntables] = offset
                    table_len[ntables] = n
                    table_block[ntables] = block
                    if key not in seen:
                        seen[key] = ntables
                    ntables += 1
                    for t in range(n):
                        v64 = np.uint64(table[t])
                        out[offset + t * entry] = np.uint32(v64 & np.uint64(0xFFFFFFFF))
                        if wide:
                            out[offset + t * entry + 1] = np.uint32(v64 >> np.uint64(32))
                    pos += nwords + n * entry
                if offset >= (1 << 24):
                    return np.zeros(0, dtype=np.uint32)
                out[2 * block] = np.uint32(offset | (bits << 24))
                out[2 * block + 1] = np.uint32(values_at)
                if bits > 0:
                    out[values_at : values_at + nwords] = 0
                    last = table[0]
                    lo = 0
                    for j in range(volume):
                        v = values[j]
                        if v != last:
                            last = v
                            lo, hi = 0, n - 1
                            while lo < hi:  # binary search in the sorted table
                                mid = (lo + hi) // 2
                                if table[mid] < v:
                                    lo = mid + 1
                                else:
                                    hi = mid
                        bit = j * bits
                        out[values_at + (bit >> 5)] |= np.uint32(lo) << np.uint32(bit & 31)
                block += 1
    return out[:pos].copy()


def encode_channel(vol: np.ndarray, block: tuple[int, int, int]) -> np.ndarray | None:
    """Words of one `(x, y, z)` uint32/uint64 channel (any strides), or None when a table
    offset would exceed 24 bits (the caller raises)."""
    words = _encode_channel(vol, block[0], block[1], block[2], vol.dtype.itemsize == 8)
    return None if words.size == 0 else words
