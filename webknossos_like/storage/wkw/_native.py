"""Reads and writes through the native WKW library, split into z slabs for the call's threads.

`wkw.Dataset.read` builds its box with `np.hstack` and asserts each coordinate; for a 64^3 read
that is a tenth of the call, so single reads go to the native call directly with a cffi box. A
Fortran-ordered `(c, x, y, z)` array is contiguous in every z slab, so a large box is read (or
written) slab by slab on the `io_pool` threads straight into (from) the caller's memory; the
native calls release the GIL. Slabs are cut at block (chunk) borders, so no block is decoded
twice; writes that rebuild whole shard files cut at shard borders, so no file has two writers.
If the package ever stops exposing its cffi handles, calls go through its public API.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import wkw

from ...io_pool import map_io

try:  # the cffi objects behind the `wkw` package (present in every 1.x release)
    from wkw.wkw import _check_wkw, ffi, libwkw
except ImportError:  # pragma: no cover - depends on the installed wkw
    libwkw = None

#: Calls moving fewer bytes stay on the calling thread (as for precomputed).
PARALLEL_MIN_BYTES = 4 << 20
# Slabs per thread: enough to even out slabs of unequal cost.
_SLABS_PER_THREAD = 2


def z_slabs(z0: int, z1: int, edge: int, threads: int) -> list[tuple[int, int]]:
    """Split `[z0, z1)` into at most `threads * 2` consecutive ranges cut at multiples of `edge`."""
    cuts = list(range((z0 // edge + 1) * edge, z1, edge))
    if threads <= 1 or not cuts:
        return [(z0, z1)]
    groups = min(len(cuts) + 1, threads * _SLABS_PER_THREAD)
    # pick groups - 1 of the cuts, evenly spaced
    chosen = [cuts[round(i * (len(cuts) + 1) / groups) - 1] for i in range(1, groups)]
    bounds = [z0, *sorted(set(chosen)), z1]
    return list(itertools.pairwise(bounds))


def _read_into(handle: wkw.Dataset, box: tuple[int, ...], target: np.ndarray) -> None:
    """Native read of `box` (x0, y0, z0, x1, y1, z1) into the C-contiguous `(z, y, x, c)` `target`."""
    if libwkw is None:  # pragma: no cover - depends on the installed wkw
        x0, y0, z0, x1, y1, z1 = box
        target.T[...] = handle.read((x0, y0, z0), (x1 - x0, y1 - y0, z1 - z0))
        return
    _check_wkw(
        libwkw.dataset_read(handle.handle, ffi.new("uint32_t[6]", box), ffi.from_buffer(target))
    )


def read(
    handle: wkw.Dataset,
    topleft: tuple[int, int, int],
    size: tuple[int, int, int],
    num_channels: int,
    dtype: np.dtype[Any],
    slabs: list[tuple[int, int]] | None = None,
    threads: int = 1,
) -> np.ndarray:
    """`handle.read(topleft, size)`: a zero-filled `(c, x, y, z)` Fortran array of the box
    (coordinates non-negative and below 2^32, checked by the caller), read per z slab of
    `slabs` (absolute z ranges covering the box) on the io threads."""
    x, y, z = topleft
    sx, sy, sz = size
    # (z, y, x, c) in C order is the same memory as (c, x, y, z) in Fortran order
    buffer = np.zeros((sz, sy, sx, num_channels), dtype=dtype)
    if slabs is None or len(slabs) == 1:
        _read_into(handle, (x, y, z, x + sx, y + sy, z + sz), buffer)
    else:
        map_io(
            lambda slab: _read_into(
                handle, (x, y, slab[0], x + sx, y + sy, slab[1]), buffer[slab[0] - z : slab[1] - z]
            ),
            slabs,
            threads=threads,
        )
    result: np.ndarray = buffer.T
    return result


def write(
    handle: wkw.Dataset,
    topleft: tuple[int, int, int],
    data: np.ndarray,
    slabs: list[tuple[int, int]],
    threads: int,
) -> None:
    """`handle.write(topleft, data)` of a `(c, x, y, z)` array, per z slab on `threads` threads."""
    z = topleft[2]
    if len(slabs) == 1:
        handle.write(topleft, data)
        return
    map_io(
        lambda slab: handle.write(
            (topleft[0], topleft[1], slab[0]), data[:, :, :, slab[0] - z : slab[1] - z]
        ),
        slabs,
        threads=threads,
    )
