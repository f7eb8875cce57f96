"""compresso chunks through the optional `compresso` package, with the stream checked first.

The package's decoder trusts its input: a corrupt run-length window stream makes it write
past the end of a heap buffer (seen as "double free or corruption" aborts while fuzzing),
and corrupt section sizes make it allocate or loop for a very long time. So the header,
the section sizes and the run-length stream are validated here before the package sees
the bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import CorruptChunkError

__all__ = ["decode", "encode"]

_HEADER_SIZE = (
    36  # magic 4, version 1, width 1, sx/sy/sz 2+2+2, steps 3, sizes 8+4+8, connectivity 1
)
_MAX_WINDOW_BITS = 64


def encode(compresso: Any, volume: npt.NDArray[Any]) -> bytes:
    """Encode one `(x, y, z)` label volume (4x4x1 grid; 8x8x1 when 16-bit windows overflow)."""
    data = np.asfortranarray(volume)
    try:
        return bytes(compresso.compress(data))
    except compresso.EncodeError:
        # "Unable to RLE encode. Too many windows": noisy data needs 64-bit windows.
        return bytes(compresso.compress(data, steps=(8, 8, 1)))


def _window_dtype(steps: int) -> np.dtype[Any]:
    name = "<u1" if steps <= 8 else "<u2" if steps <= 16 else "<u4" if steps <= 32 else "<u8"
    return np.dtype(name)


def _validate(
    compresso: Any, raw: bytes, shape3: tuple[int, int, int], dtype: np.dtype[Any]
) -> None:
    """Raise `CorruptChunkError` unless `raw` is a structurally sound compresso stream.

    Checks the header, the section sizes, the run-length window stream, the z index, and that
    the location stream holds an entry, of a legal kind, for every voxel that needs one.
    """
    if len(raw) < _HEADER_SIZE or raw[:4] != b"cpso":
        raise CorruptChunkError("compresso chunk does not start with a compresso header")
    version, width = raw[4], raw[5]
    sx, sy, sz = (int.from_bytes(raw[i : i + 2], "little") for i in (6, 8, 10))
    xstep, ystep, zstep = raw[12], raw[13], raw[14]
    id_size = int.from_bytes(raw[15:23], "little")
    value_size = int.from_bytes(raw[23:27], "little")
    location_size = int.from_bytes(raw[27:35], "little")
    connectivity = raw[35]
    if version not in (0, 1) or width not in (1, 2, 4, 8) or connectivity not in (4, 6):
        raise CorruptChunkError(
            f"compresso chunk has an invalid header (version {version}, label width {width}, "
            f"connectivity {connectivity})"
        )
    if (sx, sy, sz) != shape3:
        raise CorruptChunkError(f"compresso chunk holds a {(sx, sy, sz)} volume, expected {shape3}")
    if width > dtype.itemsize:
        raise CorruptChunkError(
            f"compresso chunk holds {8 * width}-bit labels, too wide for {dtype}"
        )
    steps = xstep * ystep * zstep
    if steps == 0 or steps > _MAX_WINDOW_BITS:
        raise CorruptChunkError(f"compresso chunk has invalid grid steps {(xstep, ystep, zstep)}")
    if sx * sy * sz == 0:
        return
    window = _window_dtype(steps)
    index_width = int(compresso.zindex_byte_width(sx, sy)) if version == 1 else 0
    values_start = _HEADER_SIZE + id_size * width
    locations_start = values_start + value_size * window.itemsize
    windows_start = locations_start + location_size * width
    window_bytes = len(raw) - windows_start - 2 * sz * index_width
    if window_bytes < 0 or window_bytes % window.itemsize:
        raise CorruptChunkError(
            f"compresso chunk is {len(raw)} bytes, which does not match the section sizes in its "
            "header"
        )

    # Replay the run-length window stream: every write must land inside the block grid and
    # every window must index an existing window value.
    gx, gy, gz = -(-sx // xstep), -(-sy // ystep), -(-sz // zstep)
    nblocks = gx * gy * gz
    rle = np.frombuffer(
        raw, dtype=window, count=window_bytes // window.itemsize, offset=windows_start
    ).astype(np.uint64)
    is_run = (rle & np.uint64(1)).astype(bool)
    step = np.where(is_run, rle >> np.uint64(1), np.uint64(1))
    step = np.minimum(step, np.uint64(nblocks + 1))  # keeps the sums below from wrapping
    position = np.cumsum(step) - step  # block index before each entry
    writes = position[~is_run].astype(np.int64)
    written = (rle[~is_run] >> np.uint64(1)).astype(np.int64)
    if writes.size and int(writes.max()) >= nblocks:
        raise CorruptChunkError("compresso chunk: its window stream writes past the block grid")
    if value_size and written.size and int(written.max()) >= value_size:
        raise CorruptChunkError("compresso chunk: a window refers to a missing window value")

    if version == 1:
        # Random-access z index: per-slice component counts, then location offsets (both
        # difference coded). Decoding starts at the first location offset.
        index_dtype = np.dtype(f"<u{index_width}")
        index_start = windows_start + window_bytes
        z_index = np.frombuffer(
            raw, dtype=index_dtype, count=sz, offset=index_start + sz * index_width
        )
        if int(z_index[0]) != 0:
            raise CorruptChunkError("compresso chunk: its z index does not start at 0")

    # Rebuild the boundary voxels and find those that need a location entry.
    if value_size == 0:
        return
    window_values = np.frombuffer(raw, dtype=window, count=value_size, offset=values_start)
    windows = np.zeros(nblocks, dtype=np.int64)
    windows[writes] = written
    block_bits = window_values.astype(np.uint64)[windows]
    z, y, x = np.ogrid[:sz, :sy, :sx]
    block = (x // xstep) + gx * ((y // ystep) + gy * (z // zstep))
    offset = (x % xstep) + xstep * ((y % ystep) + ystep * (z % zstep))
    boundary = ((block_bits[block] >> offset.astype(np.uint64)) & np.uint64(1)).astype(bool)
    needs = boundary.copy()
    needs[:, :, 1:] &= boundary[:, :, :-1]  # a non-boundary left neighbour supplies the label
    needs[:, 1:, :] &= boundary[:, :-1, :]
    if connectivity == 6:
        needs[1:] &= boundary[:-1]
    count = int(np.count_nonzero(needs))
    if count == 0:
        return
    if count > location_size:
        raise CorruptChunkError(
            f"compresso chunk: {count} voxels need a location entry, but it has {location_size}"
        )
    # Walk the location stream: an entry 6 is followed by a literal label it consumes too.
    entries = np.frombuffer(
        raw, dtype=np.dtype(f"<u{width}"), count=location_size, offset=locations_start
    )
    is_six = entries == 6
    skipped = np.zeros(location_size, dtype=bool)
    if is_six.any():
        # In a run of 6s starting at p, entries p, p+2, ... are codes and p+1, p+3, ... literals.
        previous_six = np.concatenate([[False], is_six[:-1]])
        run_start = np.nonzero(is_six & ~previous_six)[0]
        run_id = np.cumsum(is_six & ~previous_six) - 1
        parity = (np.arange(location_size) - run_start[np.maximum(run_id, 0)]) % 2
        literal_after = is_six & (parity == 0)  # a 6 used as a code
        skipped[1:] = literal_after[:-1]
    codes = np.nonzero(~skipped)[0]
    if codes.size < count or (is_six[codes[count - 1]] and codes[count - 1] + 1 >= location_size):
        raise CorruptChunkError("compresso chunk: its location stream is too short")
    kinds = entries[codes[:count]].astype(np.int64)
    zz, yy, xx = np.nonzero(needs)
    legal = np.select(
        [kinds == 0, kinds == 1, kinds == 2, kinds == 3, kinds == 4, kinds == 5],
        [xx > 0, xx < sx - 1, yy > 0, yy < sy - 1, zz > 0, zz < sz - 1],
        default=True,
    )
    if not legal.all():
        raise CorruptChunkError("compresso chunk: a location entry points outside the volume")


def decode(
    compresso: Any,
    buf: bytes | bytearray | memoryview,
    shape3: tuple[int, int, int],
    dtype: np.dtype[Any],
) -> npt.NDArray[Any]:
    """Decode to an `(x, y, z)` Fortran-ordered array of `dtype`."""
    raw = bytes(buf)
    _validate(compresso, raw, shape3, dtype)
    try:
        volume = compresso.decompress(raw)
    except MemoryError:
        raise
    except Exception as exc:
        raise CorruptChunkError(f"compresso chunk cannot be decoded: {exc}") from exc
    if tuple(volume.shape) != shape3:
        raise CorruptChunkError(
            f"compresso chunk decoded to shape {volume.shape}, expected {shape3}"
        )
    out: npt.NDArray[Any] = np.asfortranarray(volume.astype(dtype, copy=False))
    return out
