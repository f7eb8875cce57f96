"""Tensorstore failures (plain `ValueError`s with a status code prefix) as this library's errors."""

from __future__ import annotations

import re

from ...errors import CorruptChunkError, StorageError, WebknossosLikeError

_FILE_RE = re.compile(r'local file "([^"]+)"')
#: Status codes of failures to reach the bytes (not of bytes that do not decode).
_IO_CODES = ("NOT_FOUND", "PERMISSION_DENIED", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "CANCELLED")
_CORRUPT_HINTS = (
    "DATA_LOSS",
    "decod",
    "decompress",
    "checksum",
    "Digest mismatch",
    "shard entry",
    "shard index",
    "corrupt",
)


def corrupt_file(message: str) -> str | None:
    """The file a tensorstore message blames, if it names one."""
    match = _FILE_RE.search(message)
    return match.group(1) if match else None


def wrap_tensorstore_error(exc: BaseException, what: str, where: object) -> WebknossosLikeError:
    """`CorruptChunkError` naming the file for undecodable bytes, else `StorageError`.

    `what` says what was attempted ("reading x..y"), `where` names the array folder.
    """
    message = str(exc)
    io_failure = message.startswith(_IO_CODES)
    if not io_failure and any(hint in message for hint in _CORRUPT_HINTS):
        file = corrupt_file(message) or where
        return CorruptChunkError(f"{file}: cannot decode while {what} in {where}: {message}")
    return StorageError(f"{where}: {what} failed: {message}")
