"""The `compressed_segmentation` chunk codec: vectorised numpy, plus the C package where it is safe."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ...errors import CorruptChunkError, UnsupportedFormatError

try:  # The C++ codec; it is used only where it is known to be correct (see `decode`/`encode`).
    import compressed_segmentation as _cseg_pkg  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - it is a declared dependency
    _cseg_pkg = None

__all__ = ["DEFAULT_BLOCK_SIZE", "decode", "encode", "package_available"]

DEFAULT_BLOCK_SIZE: tuple[int, int, int] = (8, 8, 8)
_VALID_BITS = (0, 1, 2, 4, 8, 16, 32)
# `lookupTableOffset` is a 24-bit field.
_MAX_TABLE_OFFSET = 1 << 24
# The package's encoder loops forever on blocks with more than 65,536 distinct labels
# (`while ((1 << encoded_bits) < n)` with an `int` shift); a block this small cannot have them.
_PACKAGE_MAX_BLOCK_VOLUME = 1 << 16
# Work on at most this many voxels at once in the numpy code, to bound temporaries.
_BATCH_VOXELS = 1 << 20

Words = npt.NDArray[np.uint32]
Labels = npt.NDArray[np.unsignedinteger[Any]]


def package_available() -> bool:
    """Whether the `compressed_segmentation` C package could be imported."""
    return _cseg_pkg is not None


def _grid(shape3: tuple[int, int, int], block: tuple[int, int, int]) -> tuple[int, int, int]:
    return (
        -(-shape3[0] // block[0]),
        -(-shape3[1] // block[1]),
        -(-shape3[2] // block[2]),
    )


def _entry_words(dtype: np.dtype[Any]) -> int:
    return 1 if dtype.itemsize == 4 else 2


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


class _Headers(NamedTuple):
    """Parsed and bounds-checked block headers, all offsets absolute (in words from file start).

    Arrays have shape `(c, gz, gy, gx)` (block x varies fastest, like the headers on disk).
    """

    table: npt.NDArray[np.int64]
    bits: npt.NDArray[np.int64]
    values: npt.NDArray[np.int64]
    # Local linear index (x + bx*(y + by*z)) of the last voxel of each block inside the chunk.
    last_local: npt.NDArray[np.int64]


def _parse_headers(
    words: Words,
    num_channels: int,
    shape3: tuple[int, int, int],
    block: tuple[int, int, int],
    entry: int,
) -> _Headers:
    """Read every block header and check each offset the decoder will use against the buffer."""
    nwords = int(words.size)
    gx, gy, gz = _grid(shape3, block)
    nblocks = gx * gy * gz
    if nwords < num_channels:
        raise CorruptChunkError(
            f"compressed_segmentation chunk is {nwords * 4} bytes, too short for the "
            f"{num_channels} channel offsets"
        )
    bases = words[:num_channels].astype(np.int64)
    for channel, base in enumerate(bases.tolist()):
        if base + 2 * nblocks > nwords:
            raise CorruptChunkError(
                f"compressed_segmentation channel {channel} starts at word {base}, but its "
                f"{nblocks} block headers do not fit in the {nwords}-word chunk"
            )
    header_index = bases[:, None] + 2 * np.arange(nblocks, dtype=np.int64)[None, :]
    word0 = words[header_index].astype(np.int64)
    word1 = words[header_index + 1].astype(np.int64)
    bits = word0 >> 24
    bad_bits = ~np.isin(bits, _VALID_BITS)
    if bad_bits.any():
        channel, index = (int(v[0]) for v in np.nonzero(bad_bits))
        raise CorruptChunkError(
            f"compressed_segmentation block {index} of channel {channel} has "
            f"encodedBits={int(bits[channel, index])}; expected one of {_VALID_BITS}"
        )
    table = (word0 & 0xFFFFFF) + bases[:, None]
    values = word1 + bases[:, None]
    shape4 = (num_channels, gz, gy, gx)
    table = table.reshape(shape4)
    bits = bits.reshape(shape4)
    values = values.reshape(shape4)

    # Extent of each (possibly clipped) block and the last voxel's local index inside it.
    bx, by, bz = block
    ext_x = np.minimum(bx, shape3[0] - bx * np.arange(gx, dtype=np.int64))
    ext_y = np.minimum(by, shape3[1] - by * np.arange(gy, dtype=np.int64))
    ext_z = np.minimum(bz, shape3[2] - bz * np.arange(gz, dtype=np.int64))
    last_local = (ext_x[None, None, :] - 1) + bx * (
        (ext_y[None, :, None] - 1) + by * (ext_z[:, None, None] - 1)
    )
    last_local = np.broadcast_to(last_local[None], shape4)

    # Encoded values: the words holding the voxels inside the chunk must exist.
    last_word = values + ((bits * last_local) >> 5)
    values_bad = (bits > 0) & (last_word >= nwords)
    if values_bad.any():
        where = tuple(int(v[0]) for v in np.nonzero(values_bad))
        raise CorruptChunkError(
            f"compressed_segmentation block {where[1:]} (z, y, x) of channel {where[0]}: encoded "
            f"values at word {int(values[where])} run past the end of the {nwords}-word chunk"
        )
    # Lookup table: at least entry 0 must exist (the only one read when encodedBits is 0).
    table_bad = table + entry > nwords
    if table_bad.any():
        where = tuple(int(v[0]) for v in np.nonzero(table_bad))
        raise CorruptChunkError(
            f"compressed_segmentation block {where[1:]} (z, y, x) of channel {where[0]}: lookup "
            f"table at word {int(table[where])} lies past the end of the {nwords}-word chunk"
        )
    return _Headers(table, bits, values, np.ascontiguousarray(last_local))


def _block_indices(
    words: Words, bits: npt.NDArray[np.int64], values: npt.NDArray[np.int64], volume: int
) -> npt.NDArray[np.uint32]:
    """Lookup-table indices of every voxel of the given (flat) blocks, shape `(n, volume)`.

    Words past the end of the buffer (only ever needed for padding voxels outside the chunk,
    which `_parse_headers` has checked) read as the last word; the caller discards them.
    """
    n = int(bits.size)
    out = np.zeros((n, volume), dtype=np.uint32)
    last = int(words.size) - 1
    local = np.arange(volume, dtype=np.int64)
    batch = max(1, _BATCH_VOXELS // max(volume, 1))
    for nbits in np.unique(bits).tolist():
        if nbits == 0:
            continue
        selected = np.nonzero(bits == nbits)[0]
        bit_pos = local * nbits
        word_offset = bit_pos >> 5
        shift = (bit_pos & 31).astype(np.uint32)
        mask = np.uint32((1 << nbits) - 1)
        for start in range(0, selected.size, batch):
            rows = selected[start : start + batch]
            index = values[rows][:, None] + word_offset[None, :]
            np.minimum(index, last, out=index)
            found = words[index] >> shift
            found &= mask
            out[rows] = found
    return out


def _to_volume(
    per_block: npt.NDArray[Any],
    num_channels: int,
    grid: tuple[int, int, int],
    block: tuple[int, int, int],
    shape3: tuple[int, int, int],
) -> npt.NDArray[Any]:
    """`(c*gz*gy*gx, bz*by*bx)` block-major values -> cropped `(c, z, y, x)` volume."""
    gx, gy, gz = grid
    bx, by, bz = block
    vol = per_block.reshape(num_channels, gz, gy, gx, bz, by, bx)
    vol = vol.transpose(0, 1, 4, 2, 5, 3, 6).reshape(num_channels, gz * bz, gy * by, gx * bx)
    cropped: npt.NDArray[Any] = vol[:, : shape3[2], : shape3[1], : shape3[0]]
    return cropped


def _decode_numpy(
    words: Words,
    headers: _Headers,
    num_channels: int,
    shape3: tuple[int, int, int],
    block: tuple[int, int, int],
    dtype: np.dtype[Any],
) -> Labels:
    """Decode every channel with numpy; returns `(c, x, y, z)` (x fastest within a channel)."""
    grid = _grid(shape3, block)
    volume = block[0] * block[1] * block[2]
    entry = _entry_words(dtype)
    indices = _block_indices(words, headers.bits.ravel(), headers.values.ravel(), volume)
    index_vol = _to_volume(indices, num_channels, grid, block, shape3)
    table_blocks = np.broadcast_to(headers.table.reshape(-1, 1), (headers.table.size, volume))
    table_vol = _to_volume(table_blocks, num_channels, grid, block, shape3)
    position = table_vol + index_vol.astype(np.int64) * entry
    nwords = int(words.size)
    if position.size and int(position.max()) + entry > nwords:
        raise CorruptChunkError(
            "compressed_segmentation chunk: an encoded value indexes past the end of its lookup "
            f"table (word {int(position.max())} of {nwords})"
        )
    if entry == 1:
        labels: Labels = words[position]
    else:
        low = words[position].astype(np.uint64)
        high = words[position + 1].astype(np.uint64)
        labels = low | (high << np.uint64(32))
    result: Labels = labels.astype(dtype, copy=False).transpose(0, 3, 2, 1)
    return result


def _check_suspicious_blocks(
    words: Words,
    headers: _Headers,
    shape3: tuple[int, int, int],
    block: tuple[int, int, int],
    entry: int,
    suspicious: npt.NDArray[np.bool_],
) -> None:
    """Raise unless every voxel of the flagged blocks indexes a table entry inside the buffer."""
    flat = np.nonzero(suspicious.ravel())[0]
    if flat.size == 0:
        return
    volume = block[0] * block[1] * block[2]
    indices = _block_indices(
        words, headers.bits.ravel()[flat], headers.values.ravel()[flat], volume
    )
    # Only voxels inside the chunk are read by the decoder; padding voxels do not count.
    _, bz_i, by_i, bx_i = np.unravel_index(flat, headers.bits.shape)
    bx, by, bz = block
    local = np.arange(volume)
    lx, ly, lz = local % bx, (local // bx) % by, local // (bx * by)
    inside = (
        (bx_i[:, None] * bx + lx[None, :] < shape3[0])
        & (by_i[:, None] * by + ly[None, :] < shape3[1])
        & (bz_i[:, None] * bz + lz[None, :] < shape3[2])
    )
    highest = np.where(inside, indices, 0).max(axis=1).astype(np.int64)
    end = headers.table.ravel()[flat] + (highest + 1) * entry
    if int(end.max()) > int(words.size):
        raise CorruptChunkError(
            "compressed_segmentation chunk: an encoded value indexes past the end of its lookup "
            f"table (needs {int(end.max())} words, chunk has {int(words.size)})"
        )


def _decode_package(
    buf: bytes,
    words: Words,
    headers: _Headers,
    num_channels: int,
    shape3: tuple[int, int, int],
    block: tuple[int, int, int],
    dtype: np.dtype[Any],
) -> Labels:
    """Decode with the C package (no 32-bit blocks), made memory-safe by padding the input.

    The package does no bounds checking at all, so: headers and encoded values were checked by
    `_parse_headers`; a table read `table + index*entry` can only leave the buffer for blocks
    whose `table + 2**bits * entry` exceeds it ("suspicious" ones, normally just the last
    table). The buffer is zero-padded so those reads stay in memory, and the suspicious
    blocks' actual indices are then checked with numpy.
    """
    assert _cseg_pkg is not None
    entry = _entry_words(dtype)
    nwords = int(words.size)
    reach = headers.table + (np.left_shift(1, headers.bits)) * entry
    pad = max(0, int(reach.max()) - nwords) if reach.size else 0
    suspicious = reach > nwords
    _check_suspicious_blocks(words, headers, shape3, block, entry, suspicious)
    padded = buf + bytes(4 * pad) if pad else buf
    out = _cseg_pkg.decompress(
        padded, (*shape3, num_channels), dtype, block_size=block, order="F"
    )  # (x, y, z, c), Fortran order
    result: Labels = np.moveaxis(out, 3, 0)
    return result


def decode(
    buf: bytes | bytearray | memoryview,
    shape: tuple[int, int, int, int],
    dtype: np.dtype[Any],
    block_size: tuple[int, int, int],
    *,
    use_package: bool | None = None,
) -> Labels:
    """Decode a compressed_segmentation chunk to a `(c, x, y, z)` array (x fastest per channel).

    `use_package`: None picks the C package when it is installed and no block has 32-bit
    values (it mis-decodes those); False forces the numpy decoder; True forces the package
    (still falling back to numpy for 32-bit blocks, which it cannot decode).
    """
    requested = np.dtype(dtype)
    if requested.kind != "u" or requested.itemsize not in (4, 8):
        raise UnsupportedFormatError(
            f"compressed_segmentation supports uint32 and uint64 data, not {requested}"
        )
    dtype = np.dtype(np.uint32 if requested.itemsize == 4 else np.uint64)
    if requested != dtype:
        return decode(buf, shape, dtype, block_size, use_package=use_package).astype(requested)
    num_channels, *rest = (int(v) for v in shape)
    shape3 = (rest[0], rest[1], rest[2])
    block = (int(block_size[0]), int(block_size[1]), int(block_size[2]))
    raw = bytes(buf)
    if len(raw) % 4:
        raise CorruptChunkError(
            f"compressed_segmentation chunk is {len(raw)} bytes, not a whole number of 32-bit words"
        )
    words: Words = np.frombuffer(raw, dtype="<u4").astype(np.uint32, copy=False)
    if num_channels == 0 or 0 in shape3:
        return np.zeros((num_channels, *shape3), dtype=dtype, order="F")
    entry = _entry_words(dtype)
    headers = _parse_headers(words, num_channels, shape3, block, entry)
    has_32 = bool((headers.bits == 32).any())
    if use_package is None:
        use_package = _cseg_pkg is not None
    if use_package and _cseg_pkg is not None and not has_32:
        return _decode_package(raw, words, headers, num_channels, shape3, block, dtype)
    return _decode_numpy(words, headers, num_channels, shape3, block, dtype)


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------


def _encode_channel_numpy(vol: Labels, block: tuple[int, int, int], dtype: np.dtype[Any]) -> Words:
    """Encode one `(x, y, z)` channel exactly like neuroglancer (sorted, shared tables)."""
    sx, sy, sz = (int(v) for v in vol.shape)
    bx, by, bz = block
    gx, gy, gz = _grid((sx, sy, sz), block)
    n = gx * gy * gz
    volume = bx * by * bz
    entry = _entry_words(dtype)
    zyx = vol.transpose(2, 1, 0)
    padded_shape = (gz * bz, gy * by, gx * bx)
    needs_pad = padded_shape != (sz, sy, sx)
    if needs_pad:
        padded = np.full(padded_shape, np.iinfo(dtype).max, dtype=dtype)
        padded[:sz, :sy, :sx] = zyx
    else:
        padded = zyx.astype(dtype, copy=False)
    blocks = padded.reshape(gz, bz, gy, by, gx, bx).transpose(0, 2, 4, 1, 3, 5).reshape(n, volume)
    if needs_pad:
        # Pad each block with its smallest value: it is present, and gets index 0 (as in
        # neuroglancer, which leaves padding voxels at index 0 of the sorted table).
        inside = np.zeros(padded_shape, dtype=bool)
        inside[:sz, :sy, :sx] = True
        inside_blocks = (
            inside.reshape(gz, bz, gy, by, gx, bx).transpose(0, 2, 4, 1, 3, 5).reshape(n, volume)
        )
        smallest = blocks.min(axis=1)
        blocks = np.where(inside_blocks, blocks, smallest[:, None])

    # Rank of each voxel's value among its block's distinct values.
    order = np.argsort(blocks, axis=1, kind="stable")
    sorted_values = np.take_along_axis(blocks, order, axis=1)
    is_new = np.empty(sorted_values.shape, dtype=bool)
    is_new[:, 0] = True
    np.not_equal(sorted_values[:, 1:], sorted_values[:, :-1], out=is_new[:, 1:])
    rank_sorted = np.cumsum(is_new, axis=1, dtype=np.uint32)
    rank_sorted -= 1
    indices = np.empty_like(rank_sorted)
    np.put_along_axis(indices, order, rank_sorted, axis=1)
    num_unique = rank_sorted[:, -1].astype(np.int64) + 1
    uniques = sorted_values[is_new]  # block after block, ascending within a block
    del order, sorted_values, is_new, rank_sorted

    bits = np.zeros(n, dtype=np.int64)
    for candidate in (32, 16, 8, 4, 2, 1):
        bits[num_unique <= (1 << candidate)] = candidate
    bits[num_unique == 1] = 0

    # Share identical tables: each block points at the first block with the same table.
    table_start = np.zeros(n, dtype=np.int64)
    np.cumsum(num_unique[:-1], out=table_start[1:])
    canonical = np.arange(n, dtype=np.int64)
    for length in np.unique(num_unique).tolist():
        rows = np.nonzero(num_unique == length)[0]
        if rows.size < 2:
            continue
        tables = uniques[table_start[rows][:, None] + np.arange(length)[None, :]]
        _, first, inverse = np.unique(tables, axis=0, return_index=True, return_inverse=True)
        canonical[rows] = rows[first[inverse.ravel()]]
    is_first = canonical == np.arange(n)

    value_words = (bits * volume + 31) // 32
    table_words = np.where(is_first, num_unique * entry, 0)
    block_start = np.empty(n, dtype=np.int64)
    block_start[0] = 2 * n
    np.cumsum((value_words + table_words)[:-1], out=block_start[1:])
    block_start[1:] += 2 * n
    total = int(block_start[-1] + value_words[-1] + table_words[-1])
    own_table = block_start + value_words
    table_offset = own_table[canonical]
    if int(table_offset.max()) >= _MAX_TABLE_OFFSET:
        raise UnsupportedFormatError(
            "compressed_segmentation cannot encode this chunk: a lookup table would start beyond "
            "the 24-bit offset limit (too many distinct labels for the chunk size; use smaller "
            "chunks)"
        )

    out = np.zeros(total, dtype=np.uint32)
    out[0 : 2 * n : 2] = (table_offset | (bits << 24)).astype(np.uint32)
    out[1 : 2 * n : 2] = block_start.astype(np.uint32)

    batch = max(1, _BATCH_VOXELS // volume)
    for nbits in np.unique(bits).tolist():
        if nbits == 0:
            continue
        per_word = 32 // nbits
        padded_volume = -(-volume // per_word) * per_word
        nwords = padded_volume // per_word
        shifts = (np.arange(per_word, dtype=np.uint32) * nbits).astype(np.uint32)
        selected = np.nonzero(bits == nbits)[0]
        for start in range(0, selected.size, batch):
            rows = selected[start : start + batch]
            ids = np.zeros((rows.size, padded_volume), dtype=np.uint32)
            ids[:, :volume] = indices[rows]
            packed = np.bitwise_or.reduce(
                ids.reshape(rows.size, nwords, per_word) << shifts, axis=2
            )
            out[block_start[rows][:, None] + np.arange(nwords)[None, :]] = packed

    entry_block_first = np.repeat(is_first, num_unique)
    written = uniques[entry_block_first]
    counts = num_unique[is_first]
    starts = own_table[is_first]
    within = np.arange(written.size, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    position = np.repeat(starts, counts) + within * entry
    if entry == 1:
        out[position] = written
    else:
        wide = written.astype(np.uint64)
        out[position] = (wide & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        out[position + 1] = (wide >> np.uint64(32)).astype(np.uint32)
    return out


def _encode_channel_package(
    vol: Labels, block: tuple[int, int, int], dtype: np.dtype[Any]
) -> bytes:
    """Encode one `(x, y, z)` channel with the C package (block volume <= 65,536 only); the
    result is a whole one-channel chunk (`[1, channel words...]`)."""
    assert _cseg_pkg is not None
    # The package reads memory as the `order` it is told, ignoring the array's strides, and
    # rejects read-only arrays: hand it a fresh, writable, Fortran-ordered native array.
    data = np.require(vol, dtype=dtype, requirements=["F", "W", "A"])
    try:
        encoded = _cseg_pkg.compress(data, block_size=block, order="F")
    except OverflowError as exc:
        raise UnsupportedFormatError(
            "compressed_segmentation cannot encode this chunk: a lookup table would start beyond "
            "the 24-bit offset limit (too many distinct labels for the chunk size; use smaller "
            "chunks)"
        ) from exc
    chunk: bytes = encoded
    return chunk


def _encode_compiled(
    kernels: Any, data: Labels, block: tuple[int, int, int], dtype: np.dtype[Any]
) -> bytes:
    """Encode every channel with the compiled encoder (same bytes as the package, no GIL)."""
    if data.dtype != dtype or not data.dtype.isnative:
        data = data.astype(dtype)
    words = kernels.encode_chunk(data, block)
    if words is None:
        raise UnsupportedFormatError(
            "compressed_segmentation cannot encode this chunk: a lookup table would start "
            "beyond the 24-bit offset limit (too many distinct labels for the chunk size; "
            "use smaller chunks)"
        )
    if words.size >= 1 << 32:
        raise UnsupportedFormatError("compressed_segmentation chunk would exceed 2**32 words")
    encoded: bytes = words.astype("<u4", copy=False).tobytes()
    return encoded


def encode(
    data: Labels,
    block_size: tuple[int, int, int],
    *,
    use_package: bool | None = None,
) -> bytes:
    """Encode a `(c, x, y, z)` uint32/uint64 array as a (multi-channel) compressed_segmentation chunk.

    `use_package`: None uses the compiled encoder when numba is installed and the process has
    enough such work (byte-identical, and it releases the GIL, so chunks encode in parallel), else the C package when every block is
    at most 65,536 voxels (it hangs on blocks with more distinct labels) and numpy otherwise;
    False forces numpy; True prefers the package but still never hands it a block that could
    hang it.
    """
    dtype = np.dtype(data.dtype)
    if dtype.kind != "u" or dtype.itemsize not in (4, 8):
        raise UnsupportedFormatError(
            f"compressed_segmentation supports uint32 and uint64 data, not {dtype}"
        )
    dtype = np.dtype(np.uint32 if dtype.itemsize == 4 else np.uint64)
    block = (int(block_size[0]), int(block_size[1]), int(block_size[2]))
    num_channels = int(data.shape[0])
    volume = block[0] * block[1] * block[2]
    package = (
        use_package is not False and _cseg_pkg is not None and volume <= _PACKAGE_MAX_BLOCK_VOLUME
    )
    kernels = _compiled(data.nbytes) if use_package is None else None
    if kernels is not None and data.size:
        return _encode_compiled(kernels, data, block, dtype)
    if package and num_channels == 1 and data.size:
        # The package's one-channel chunk is the whole answer: no copy of its words.
        return _encode_channel_package(data[0], block, dtype)
    channels: list[Words] = []
    for channel in range(num_channels):
        vol = data[channel]
        if vol.size == 0:
            channels.append(np.zeros(0, dtype=np.uint32))
        elif package:
            # The package output is the single-channel wrapper [1, channel words...].
            encoded = _encode_channel_package(vol, block, dtype)
            channels.append(np.frombuffer(encoded, dtype="<u4")[1:])
        else:
            channels.append(_encode_channel_numpy(vol, block, dtype))
    offsets = np.empty(num_channels, dtype=np.int64)
    position = num_channels
    for channel, words in enumerate(channels):
        offsets[channel] = position
        position += int(words.size)
    if position >= 1 << 32:
        raise UnsupportedFormatError("compressed_segmentation chunk would exceed 2**32 words")
    parts = [offsets.astype("<u4").tobytes()]
    parts.extend(words.astype("<u4", copy=False).tobytes() for words in channels)
    return b"".join(parts)


_kernels: Any = None
# Loading numba and the cached kernels costs 0.3-1 s per process: only worth it once a process
# has this much compressed_segmentation work (one call of that size, or many small ones).
# Small jobs (a few small writes, then exit) keep using the package.
_KERNELS_AFTER_BYTES = 32 << 20
_work_bytes = 0


def _compiled(nbytes: int) -> Any:
    """The numba kernels module once `nbytes` more voxels bring this process's work past
    `_KERNELS_AFTER_BYTES`; None before that, or without numba (imported once, lazily)."""
    global _kernels, _work_bytes
    if _kernels is None:
        _work_bytes += nbytes
        if _work_bytes < _KERNELS_AFTER_BYTES:
            return None
        try:
            from . import _cseg_kernels
        except ImportError:
            _kernels = False
        else:
            _kernels = _cseg_kernels
    return _kernels or None


def decode_into(
    buf: bytes | bytearray | memoryview,
    shape: tuple[int, int, int, int],
    block_size: tuple[int, int, int],
    out: Labels,
    start: tuple[int, int, int],
) -> bool:
    """Decode chunk voxels `start + [0, out.shape[1:])` straight into `out` (no whole-chunk
    array) with the compiled kernel; False when it cannot (no numba, non-native `out`).

    A chunk the kernel finds inconsistent is decoded by `decode`, which raises the precise
    `CorruptChunkError`.
    """
    kernels = _compiled(out.nbytes)
    dtype = out.dtype
    if kernels is None or not dtype.isnative or dtype not in (np.uint32, np.uint64):
        return False
    if len(buf) % 4:
        decode(buf, shape, dtype, block_size)  # raises CorruptChunkError
    if shape[0] == 0 or 0 in shape[1:]:
        return True
    words: Words = np.frombuffer(buf, dtype="<u4").astype(np.uint32, copy=False)
    shape3 = (int(shape[1]), int(shape[2]), int(shape[3]))
    block = (int(block_size[0]), int(block_size[1]), int(block_size[2]))
    if kernels.decode_into(words, shape3, block, out, start):
        return True
    decode(buf, shape, dtype, block_size)  # names the problem
    raise CorruptChunkError("compressed_segmentation chunk is inconsistent")
