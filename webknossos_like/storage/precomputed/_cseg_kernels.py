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

__all__ = ["decode_into", "encode_chunk"]

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


# Distinct values per block found by a linear scan of a small table; a block with more is
# sorted whole instead (np.unique) and its voxels found by binary search.
_SMALL = 64


@numba.njit(cache=True, nogil=True)
def _gather_small(  # pragma: no cover - compiled
    vol: Any,
    x0: int,
    y0: int,
    z0: int,
    ex: int,
    ey: int,
    ez: int,
    bx: int,
    by: int,
    idx: Any,
    table: Any,
) -> int:
    """Distinct values of block `[x0, x0 + ex) x ...` into `table` (unsorted) and each voxel's
    index into it into `idx`; returns their count, or `_SMALL + 1` once there are more."""
    n = 1
    last = vol[x0, y0, z0]
    last_i = 0
    table[0] = last
    for lz in range(ez):
        for ly in range(ey):
            row = bx * (ly + by * lz)
            line = vol[x0 : x0 + ex, y0 + ly, z0 + lz]
            for lx in range(ex):
                v = line[lx]
                if v != last:  # runs of one label are the common case
                    t = 0
                    while t < n and table[t] != v:
                        t += 1
                    if t == n:
                        if n == _SMALL:
                            return _SMALL + 1
                        table[n] = v
                        n += 1
                    last = v
                    last_i = t
                idx[row + lx] = last_i
    return n


@numba.njit(cache=True, nogil=True)
def _rank_small(
    table: Any, n: int, order: Any, rank: Any, ordered: Any
) -> None:  # pragma: no cover
    """Sort the `n` values of `table` into `ordered`; `rank[i]` = sorted position of `table[i]`
    (insertion sort: `n` is at most `_SMALL`, usually 1-4)."""
    for i in range(n):
        order[i] = i
    for i in range(1, n):
        o = order[i]
        v = table[o]
        k = i - 1
        while k >= 0 and table[order[k]] > v:
            order[k + 1] = order[k]
            k -= 1
        order[k + 1] = o
    for k in range(n):
        rank[order[k]] = k
        ordered[k] = table[order[k]]


@numba.njit(cache=True, nogil=True)
def _rank_many(  # pragma: no cover - compiled
    vol: Any,
    x0: int,
    y0: int,
    z0: int,
    ex: int,
    ey: int,
    ez: int,
    bx: int,
    by: int,
    idx: Any,
    rank: Any,
    ordered: Any,
) -> Any:
    """A block with many labels: its sorted distinct values into `ordered`, each voxel's
    sorted position into `idx` (binary search), `rank` the identity; returns their count."""
    m = 0
    for lz in range(ez):
        for ly in range(ey):
            for lx in range(ex):
                ordered[m] = vol[x0 + lx, y0 + ly, z0 + lz]
                m += 1
    unique = np.unique(ordered[:m])
    n = unique.shape[0]
    ordered[:n] = unique
    last = ordered[0]
    lo = 0
    for lz in range(ez):
        for ly in range(ey):
            row = bx * (ly + by * lz)
            for lx in range(ex):
                v = vol[x0 + lx, y0 + ly, z0 + lz]
                if v != last:
                    last = v
                    lo, hi = 0, n - 1
                    while lo < hi:
                        mid = (lo + hi) // 2
                        if ordered[mid] < v:
                            lo = mid + 1
                        else:
                            hi = mid
                idx[row + lx] = lo
    for t in range(n):
        rank[t] = t
    return n


@numba.njit(cache=True, nogil=True)
def _pack(
    idx: Any, rank: Any, volume: int, bits: int, out: Any, at: int
) -> None:  # pragma: no cover
    """`rank[idx[j]]` of the block's `volume` voxels as `bits`-bit fields into `out[at:]`,
    whole words at a time (bits is 1, 2, 4, 8, 16 or 32)."""
    per = 32 // bits
    full = volume // per
    j = 0
    for w in range(full):
        acc = np.uint32(0)
        for k in range(per):
            acc |= np.uint32(rank[idx[j + k]]) << np.uint32(k * bits)
        out[at + w] = acc
        j += per
    if j < volume:
        acc = np.uint32(0)
        k = 0
        while j < volume:
            acc |= np.uint32(rank[idx[j]]) << np.uint32(k * bits)
            j += 1
            k += 1
        out[at + full] = acc


@numba.njit(cache=True, nogil=True)
def _slot(keys: Any, key: int) -> Any:  # pragma: no cover - compiled
    """Slot of `key` in the open-addressing table `keys` (power-of-two size, -1 = empty):
    where it is, or the empty slot where it would go."""
    mask = keys.shape[0] - 1
    at = key & mask
    while keys[at] != -1 and keys[at] != key:
        at = (at + 1) & mask
    return at


@numba.njit(cache=True, nogil=True)
def _encode_channel_into(  # pragma: no cover - compiled
    vol: Any, bx: int, by: int, bz: int, wide: bool, out: Any
) -> Any:
    """One `(x, y, z)` channel in neuroglancer's layout (sorted tables, identical tables shared)
    into `out` (large enough for any input); returns the words written, or -1 when a table
    offset would not fit in 24 bits."""
    sx, sy, sz = vol.shape
    gx = (sx + bx - 1) // bx
    gy = (sy + by - 1) // by
    gz = (sz + bz - 1) // bz
    nblocks = gx * gy * gz
    volume = bx * by * bz
    entry = 2 if wide else 1
    idx = np.empty(volume, dtype=np.int64)
    table = np.empty(_SMALL, dtype=vol.dtype)
    ordered = np.empty(volume, dtype=vol.dtype)
    order = np.empty(_SMALL, dtype=np.int64)
    rank = np.empty(max(volume, _SMALL + 1), dtype=np.int64)
    # First table with each hash (open addressing): key -1 = empty slot.
    size = 1
    while size < 2 * nblocks:
        size *= 2
    seen_keys = np.full(size, -1, dtype=np.int64)
    seen_first = np.zeros(size, dtype=np.int64)
    # Where each first-of-its-kind table starts (words) and its length.
    table_at = np.zeros(nblocks, dtype=np.int64)
    table_len = np.zeros(nblocks, dtype=np.int64)
    ntables = 0
    pos = 2 * nblocks
    block = 0
    for kz in range(gz):
        for ky in range(gy):
            for kx in range(gx):
                x0, y0, z0 = kx * bx, ky * by, kz * bz
                ex, ey, ez = min(bx, sx - x0), min(by, sy - y0), min(bz, sz - z0)
                n = _gather_small(vol, x0, y0, z0, ex, ey, ez, bx, by, idx, table)
                if n <= _SMALL:
                    _rank_small(table, n, order, rank, ordered)
                    rank[_SMALL] = 0
                    padding = _SMALL  # its rank: 0, the smallest value
                else:
                    n = _rank_many(vol, x0, y0, z0, ex, ey, ez, bx, by, idx, rank, ordered)
                    padding = 0
                if ex < bx or ey < by or ez < bz:  # an edge block: pad with the smallest
                    for lz in range(bz):
                        for ly in range(by):
                            row = bx * (ly + by * lz)
                            for lx in range(bx):
                                if lx >= ex or ly >= ey or lz >= ez:
                                    idx[row + lx] = padding
                bits = 0
                if n > 1:
                    bits = 1
                    while (1 << bits) < n:
                        bits *= 2
                nwords = (bits * volume + 31) // 32
                # Shared table?
                key = _table_hash(ordered, n)
                slot = _slot(seen_keys, key)
                canonical = -1
                if seen_keys[slot] == key:
                    first = seen_first[slot]
                    if table_len[first] == n:
                        same = True
                        at = table_at[first]
                        for t in range(n):
                            stored = np.uint64(out[at + t * entry])
                            if wide:
                                stored |= np.uint64(out[at + t * entry + 1]) << np.uint64(32)
                            if stored != np.uint64(ordered[t]):
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
                    if seen_keys[slot] != key:
                        seen_keys[slot] = key
                        seen_first[slot] = ntables
                    ntables += 1
                    for t in range(n):
                        v64 = np.uint64(ordered[t])
                        out[offset + t * entry] = np.uint32(v64 & np.uint64(0xFFFFFFFF))
                        if wide:
                            out[offset + t * entry + 1] = np.uint32(v64 >> np.uint64(32))
                    pos += nwords + n * entry
                if offset >= (1 << 24):
                    return -1
                out[2 * block] = np.uint32(offset | (bits << 24))
                out[2 * block + 1] = np.uint32(values_at)
                if bits > 0:
                    _pack(idx, rank, volume, bits, out, values_at)
                block += 1
    return pos


def encode_chunk(data: np.ndarray, block: tuple[int, int, int]) -> np.ndarray | None:
    """The words of a whole `(c, x, y, z)` uint32/uint64 chunk (any strides): channel offsets,
    then each channel; None when a table offset would exceed 24 bits (the caller raises)."""
    channels, sx, sy, sz = (int(n) for n in data.shape)
    bx, by, bz = block
    nblocks = -(-sx // bx) * -(-sy // by) * -(-sz // bz)
    wide = data.dtype.itemsize == 8
    # At most: two header words, a 32-bit index and a table entry per voxel, for every block.
    bound = nblocks * (2 + bx * by * bz * (3 if wide else 2))
    out = np.empty(channels + channels * bound, dtype=np.uint32)
    pos = channels
    for channel in range(channels):
        out[channel] = pos
        written = _encode_channel_into(data[channel], bx, by, bz, wide, out[pos:])
        if written < 0:
            return None
        pos += written
    return out[:pos]
