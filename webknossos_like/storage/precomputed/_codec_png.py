"""A small PNG writer and reader (numpy + zlib) for 8/16-bit images with 1-4 channels."""

from __future__ import annotations

import struct
import zlib
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ...errors import CorruptChunkError

__all__ = ["PngHeader", "decode_pixels", "encode_png", "parse_png"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Colour type for 1-4 channels: gray, gray+alpha, RGB, RGBA.
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
_CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4}
# Adam7 passes: (x start, y start, x step, y step).
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
# Filter (and score) this many bytes of rows at once when encoding.
_ENCODE_BATCH_BYTES = 1 << 20

Bytes2D = npt.NDArray[np.uint8]


class PngHeader(NamedTuple):
    """The IHDR fields we use."""

    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool

    @property
    def channels(self) -> int:
        """Samples per pixel (0 for colour types we do not read, e.g. palette)."""
        return _CHANNELS.get(self.color_type, 0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _paeth(
    a: npt.NDArray[np.int16], b: npt.NDArray[np.int16], c: npt.NDArray[np.int16]
) -> npt.NDArray[np.int16]:
    p = a + b - c
    pa = np.abs(p - a)
    pb = np.abs(p - b)
    pc = np.abs(p - c)
    out: npt.NDArray[np.int16] = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    return out


def _filter_rows(rows: Bytes2D, previous: Bytes2D, bpp: int) -> Bytes2D:
    """Filter `rows` (previous original row given) choosing per row the filter with the smallest
    sum of absolute signed bytes, as libpng does; returns rows prefixed with the filter type."""
    x = rows.astype(np.int16)
    b = np.empty_like(x)
    b[0] = previous
    b[1:] = x[:-1]
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]
    c = np.zeros_like(x)
    c[:, bpp:] = b[:, :-bpp]
    candidates = np.stack([x, x - a, x - b, x - ((a + b) >> 1), x - _paeth(a, b, c)]).astype(
        np.uint8
    )  # wraps modulo 256
    signed = candidates.view(np.int8).astype(np.int16)
    score = np.abs(signed).sum(axis=2)
    best = np.argmin(score, axis=0)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = best
    out[:, 1:] = candidates[best, np.arange(rows.shape[0])]
    return out


def encode_png(pixels: npt.NDArray[Any], level: int) -> bytes:
    """Encode `(height, width, channels)` uint8/uint16 pixels as a non-interlaced PNG."""
    height, width, channels = (int(v) for v in pixels.shape)
    depth = 8 * pixels.dtype.itemsize
    data = np.ascontiguousarray(pixels, dtype=">u1" if depth == 8 else ">u2")
    bpp = channels * pixels.dtype.itemsize
    row_bytes = width * bpp
    rows: Bytes2D = data.view(np.uint8).reshape(height, row_bytes)
    compressor = zlib.compressobj(level)
    parts: list[bytes] = []
    batch = max(1, _ENCODE_BATCH_BYTES // max(row_bytes, 1))
    previous = np.zeros(row_bytes, dtype=np.uint8)
    for start in range(0, height, batch):
        block = rows[start : start + batch]
        parts.append(compressor.compress(_filter_rows(block, previous, bpp).tobytes()))
        previous = block[-1]
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, depth, _COLOR_TYPE[channels], 0, 0, 0)
    return (
        SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")
    )


def parse_png(buf: bytes) -> tuple[PngHeader, bytes]:
    """Check the PNG's structure and every CRC; return its header and concatenated IDAT data."""
    if buf[:8] != SIGNATURE:
        raise CorruptChunkError("png chunk does not start with the PNG signature")
    position = 8
    header: PngHeader | None = None
    idat: list[bytes] = []
    end = len(buf)
    while True:
        if position + 8 > end:
            raise CorruptChunkError("png chunk is truncated (no IEND)")
        length, kind = struct.unpack_from(">I4s", buf, position)
        data_end = position + 8 + length
        if data_end + 4 > end:
            raise CorruptChunkError(f"png chunk is truncated inside its {kind!r} block")
        data = buf[position + 8 : data_end]
        (crc,) = struct.unpack_from(">I", buf, data_end)
        if zlib.crc32(kind + data) & 0xFFFFFFFF != crc:
            raise CorruptChunkError(f"png chunk has a bad CRC in its {kind!r} block")
        position = data_end + 4
        if header is None:
            if kind != b"IHDR" or length != 13:
                raise CorruptChunkError("png chunk does not start with a valid IHDR block")
            width, height, depth, color, compression, filtering, interlace = struct.unpack(
                ">IIBBBBB", data
            )
            if compression != 0 or filtering != 0 or interlace not in (0, 1):
                raise CorruptChunkError("png chunk has an invalid IHDR block")
            header = PngHeader(width, height, depth, color, bool(interlace))
        elif kind == b"IDAT":
            idat.append(data)
        elif kind == b"IEND":
            break
    if not idat:
        raise CorruptChunkError("png chunk has no image data (IDAT)")
    return header, b"".join(idat)


def _inflate(data: bytes, expected: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, expected)
    except zlib.error as exc:
        raise CorruptChunkError(f"png chunk: invalid zlib data ({exc})") from exc
    if len(raw) < expected:
        raise CorruptChunkError(
            f"png chunk: image data inflates to {len(raw)} bytes, expected {expected}"
        )
    return raw


def _wavefront(
    filtered: Bytes2D, types: npt.NDArray[np.uint8], previous: Bytes2D, bpp: int
) -> Bytes2D:
    """Undo a run of rows that use the average (3) and Paeth (4) filters.

    Each pixel depends on its left, upper and upper-left neighbours, so the pixels of one
    anti-diagonal are independent of each other: process diagonal after diagonal.
    """
    nrows, row_bytes = filtered.shape
    width = row_bytes // bpp
    f = filtered.reshape(nrows, width, bpp).astype(np.int16)
    rec = np.zeros((nrows + 1, width + 1, bpp), dtype=np.int16)
    rec[0, 1:] = previous.reshape(width, bpp)
    is_paeth = (types == 4)[:, None]
    for diagonal in range(nrows + width - 1):
        first = max(0, diagonal - width + 1)
        last = min(nrows - 1, diagonal)
        i = np.arange(first, last + 1)
        j = diagonal - i
        a = rec[i + 1, j]
        b = rec[i, j + 1]
        c = rec[i, j]
        predictor = np.where(is_paeth[i], _paeth(a, b, c), (a + b) >> 1)
        rec[i + 1, j + 1] = (f[i, j] + predictor) & 0xFF
    out: Bytes2D = rec[1:, 1:].astype(np.uint8).reshape(nrows, row_bytes)
    return out


def _unfilter(raw: bytes, height: int, row_bytes: int, bpp: int) -> Bytes2D:
    """Undo the per-row filters of one (sub-)image."""
    lines = np.frombuffer(raw, dtype=np.uint8, count=height * (row_bytes + 1))
    lines = lines.reshape(height, row_bytes + 1)
    types = lines[:, 0]
    if int(types.max(initial=0)) > 4:
        raise CorruptChunkError(f"png chunk uses unknown row filter {int(types.max())}")
    data = lines[:, 1:]
    out = np.empty((height, row_bytes), dtype=np.uint8)
    previous = np.zeros(row_bytes, dtype=np.uint8)
    # Runs of rows of one kind: None, Sub and Up vectorise over the run; Average and Paeth
    # (mixed freely) go through the diagonal wavefront.
    kind = np.where(types >= 3, 3, types)
    breaks = np.nonzero(np.diff(kind))[0] + 1
    starts = np.concatenate([[0], breaks]).tolist()
    ends = [*breaks.tolist(), height]
    for start, end in zip(starts, ends, strict=True):
        run = data[start:end]
        k = int(kind[start])
        if k == 0:
            out[start:end] = run
        elif k == 1:
            width = row_bytes // bpp
            out[start:end] = np.cumsum(
                run.reshape(end - start, width, bpp), axis=1, dtype=np.uint8
            ).reshape(end - start, row_bytes)
        elif k == 2:
            summed = np.cumsum(run, axis=0, dtype=np.uint8)
            summed += previous
            out[start:end] = summed
        else:
            out[start:end] = _wavefront(run, types[start:end], previous, bpp)
        previous = out[end - 1]
    return out


def decode_pixels(header: PngHeader, idat: bytes) -> npt.NDArray[Any]:
    """Decode 8/16-bit gray/gray-alpha/RGB/RGBA image data to `(height*width, channels)` samples."""
    width, height, depth = header.width, header.height, header.bit_depth
    channels = header.channels
    if depth not in (8, 16) or channels == 0:
        raise CorruptChunkError(
            f"png chunk has bit depth {depth} and colour type {header.color_type}; "
            "expected 8 or 16 bits of gray, gray+alpha, RGB or RGBA"
        )
    sample = depth // 8
    bpp = channels * sample
    if not header.interlaced:
        raw = _inflate(idat, height * (1 + width * bpp))
        image = _unfilter(raw, height, width * bpp, bpp)
    else:
        passes = []
        expected = 0
        for x0, y0, dx, dy in _ADAM7:
            pw = -(-(width - x0) // dx) if width > x0 else 0
            ph = -(-(height - y0) // dy) if height > y0 else 0
            if pw and ph:
                passes.append((x0, y0, dx, dy, pw, ph, expected))
                expected += ph * (1 + pw * bpp)
        raw = _inflate(idat, expected)
        image = np.empty((height, width * bpp), dtype=np.uint8)
        view = image.reshape(height, width, bpp)
        for x0, y0, dx, dy, pw, ph, offset in passes:
            sub = _unfilter(raw[offset : offset + ph * (1 + pw * bpp)], ph, pw * bpp, bpp)
            view[y0::dy, x0::dx] = sub.reshape(ph, pw, bpp)
    samples = image.reshape(height * width, channels * sample)
    if sample == 1:
        return samples
    return samples.view(">u2").astype(np.uint16)
