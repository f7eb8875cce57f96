"""Bounded decompression: gzip and zlib streams inflated in steps, refused past a size cap.

Hostile files (a 3 MB gzip chunk that inflates to 3 GiB) must fail with our
`CorruptChunkError` after at most `max_size + 1` bytes of output, not with `MemoryError`.
"""

from __future__ import annotations

import zlib

from ...errors import CorruptChunkError

__all__ = ["compressed_size_bound", "gunzip_bounded", "inflate_zlib_bounded", "too_large"]

#: Output is produced in pieces of at most this size, so a bomb is noticed early.
_INFLATE_STEP = 1 << 20


def too_large(where: str, max_size: int) -> CorruptChunkError:
    """The error for a value longer than it can be."""
    return CorruptChunkError(
        f"{where}: the value is larger than the {max_size} bytes it can be at most here; "
        "the file is corrupt or not what its name says (delete or replace it)"
    )


def compressed_size_bound(max_size: int) -> int:
    """The most bytes a gzip file holding at most `max_size` bytes may reasonably take: deflate's
    stored blocks add 5 bytes per 64 KiB, headers and trailers a few more (generous slack)."""
    return max_size + max_size // 16 + (1 << 16)


def _inflate(
    inflater: zlib._Decompress, data: bytes, out: bytearray, where: str, max_size: int | None
) -> None:
    """Feed `data` to `inflater` in bounded steps, appending to `out`; stop at the stream end."""
    source = data
    while True:
        room = _INFLATE_STEP
        if max_size is not None:
            room = min(room, max_size + 1 - len(out))
        piece = inflater.decompress(source, room)
        out += piece
        if max_size is not None and len(out) > max_size:
            raise too_large(where, max_size)
        source = inflater.unconsumed_tail
        if inflater.eof or (not source and not piece):
            break
    if not inflater.eof:
        raise CorruptChunkError(f"{where}: not valid compressed data (the stream is truncated)")


def gunzip_bounded(data: bytes, where: str, max_size: int | None = None) -> bytes:
    """Decompress gzip `data` (every member, like `gzip.decompress`); more than `max_size` bytes
    of output, or an invalid or truncated stream, raise `CorruptChunkError` naming `where`."""
    out = bytearray()
    pending = bytes(data)
    try:
        while True:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            _inflate(inflater, pending, out, where, max_size)
            pending = inflater.unused_data
            if not pending.strip(b"\0"):  # gzip.decompress ignores trailing zero padding too
                return bytes(out)
    except zlib.error as exc:
        raise CorruptChunkError(f"{where}: not valid gzip data ({exc})") from exc


def inflate_zlib_bounded(data: bytes, where: str, max_size: int | None = None) -> bytes:
    """Decompress one zlib stream like `gunzip_bounded` (trailing bytes are ignored)."""
    out = bytearray()
    try:
        _inflate(zlib.decompressobj(), bytes(data), out, where, max_size)
    except zlib.error as exc:
        raise CorruptChunkError(f"{where}: not valid zlib data ({exc})") from exc
    return bytes(out)
