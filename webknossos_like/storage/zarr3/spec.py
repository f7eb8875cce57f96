"""The `zarr.json` of a new mag array, as webknossos 4.3.3 writes it.

Shape `(c, x, y, z)` with `dimension_names` `c, x, y, z`; inner chunks stored in Fortran order
(`transpose` `[3, 2, 1, 0]`, so x varies fastest on disk as in WKW), `bytes` (little endian
for multi-byte types) and `zstd` level 5 with checksum when compressed. When the shard shape
differs from the chunk shape the chunk codecs sit inside a `sharding_indexed` codec whose
index is `bytes` + `crc32c`; when they are equal webknossos writes no sharding, nor do we.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import DTypeError, InvalidArgumentError, UnsupportedFormatError
from ...geometry import Vec3Int
from .metadata import MAX_CHUNK_BYTES, MAX_CHUNKS_PER_SHARD, V3_DTYPES

#: webknossos' compressor for Zarr v3 mags.
ZSTD_CODEC: dict[str, Any] = {"name": "zstd", "configuration": {"level": 5, "checksum": True}}
FORTRAN_ORDER: dict[str, Any] = {"name": "transpose", "configuration": {"order": [3, 2, 1, 0]}}
SHARD_INDEX_CODECS: list[dict[str, Any]] = [
    {"name": "bytes", "configuration": {"endian": "little"}},
    {"name": "crc32c"},
]


def _bytes_codec(dtype: np.dtype[Any]) -> dict[str, Any]:
    """`bytes`; endianness only where it matters (what tensorstore writes back for uint8)."""
    if dtype.itemsize == 1:
        return {"name": "bytes"}
    return {"name": "bytes", "configuration": {"endian": "little"}}


def check_layout(dtype: np.dtype[Any], num_channels: int, chunk: Vec3Int, shard: Vec3Int) -> None:
    """Refuse what the array cannot store before anything is written."""
    if dtype.name not in V3_DTYPES or dtype.byteorder not in ("=", "|", "<"):
        raise DTypeError(
            f"Zarr v3 mags cannot store dtype {dtype}; use one of {sorted(V3_DTYPES)}."
        )
    if type(num_channels) is not int or num_channels < 1:
        raise InvalidArgumentError(f"num_channels must be a positive int, got {num_channels!r}.")
    if not chunk.is_positive(strictly_positive=True) or not shard.is_positive(
        strictly_positive=True
    ):
        raise InvalidArgumentError(f"chunk {chunk} and shard {shard} shapes must be positive.")
    if shard % chunk != Vec3Int.zeros():
        raise UnsupportedFormatError(
            f"shard_shape {shard} must be a multiple of chunk_shape {chunk}."
        )
    if chunk.prod() * num_channels * dtype.itemsize > MAX_CHUNK_BYTES:
        raise UnsupportedFormatError(f"Chunks of {chunk} x {num_channels} {dtype} are too large.")
    if (shard // chunk).prod() > MAX_CHUNKS_PER_SHARD:
        raise UnsupportedFormatError(f"Shards of {shard} hold too many chunks of {chunk}.")


def array_metadata(
    dtype: np.dtype[Any],
    num_channels: int,
    chunk: Vec3Int,
    shard: Vec3Int,
    compressed: bool,
    shape: Vec3Int,
) -> dict[str, Any]:
    """The metadata dict handed to tensorstore's `zarr3` driver for a new mag."""
    codecs: list[dict[str, Any]] = [FORTRAN_ORDER, _bytes_codec(dtype)]
    if compressed:
        codecs.append(ZSTD_CODEC)
    inner = [num_channels, *chunk.to_list()]
    if shard != chunk:
        codecs = [
            {
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": inner,
                    "codecs": codecs,
                    "index_codecs": SHARD_INDEX_CODECS,
                },
            }
        ]
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [num_channels, *shape.to_list()],
        "data_type": dtype.name,
        "chunk_grid": {
            "name": "regular",
            "configuration": {"chunk_shape": [num_channels, *shard.to_list()]},
        },
        "chunk_key_encoding": {"name": "default"},
        "fill_value": 0,
        "codecs": codecs,
        "dimension_names": ["c", "x", "y", "z"],
    }
