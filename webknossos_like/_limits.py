"""Limits on values from metadata, shared by the properties JSON and precomputed `info` parsers."""

from __future__ import annotations

from typing import Final

#: Path strings from metadata (layer names, mag paths, scale keys) are at most this long in
#: UTF-8: far beyond any real one, far below the OS limit (4096 bytes), so no over-long path
#: from metadata ever reaches the OS.
MAX_PATH_BYTES: Final = 1024
