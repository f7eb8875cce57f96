"""Zarr array metadata (v3 `zarr.json`, v2 `.zarray`) parsed and checked before tensorstore sees it.

Tensorstore trusts its metadata: a hostile file can ask it for chunks of 2^60 voxels or
codecs it aborts on. `load_array_metadata` reads at most `MAX_METADATA_BYTES`, checks types,
sizes and codec names, and raises `UnsupportedFormatError` / `InvalidPropertiesError` naming
the file, so that what reaches tensorstore is small and well-formed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ...errors import InvalidPropertiesError, StorageError, UnsupportedFormatError
from ...properties.dtypes import SUPPORTED_DTYPES

V3_FILE = "zarr.json"
V2_FILE = ".zarray"
#: Metadata files larger than this are refused unread (a real `zarr.json` is a few KiB).
MAX_METADATA_BYTES = 1 << 20
#: At most this many dimensions (OME-NGFF allows 5: t, c, z, y, x).
MAX_NDIM = 5
#: Largest extent of one dimension (2^48 voxels: far beyond any volume, far below int64).
MAX_EXTENT = 1 << 48
#: Largest decoded (inner) chunk in bytes: a read decodes whole chunks.
MAX_CHUNK_BYTES = 1 << 30
#: Largest number of inner chunks per shard (the shard index holds 16 bytes for each).
MAX_CHUNKS_PER_SHARD = 1 << 22

#: Zarr v3 `data_type` names this library stores or reads: the layer dtypes.
V3_DTYPES = {dtype.name: dtype for dtype in SUPPORTED_DTYPES}
COMPRESSOR_CODECS = frozenset({"zstd", "blosc", "gzip"})
_ARRAY_TO_BYTES = frozenset({"bytes", "sharding_indexed"})
_KNOWN_V3_CODECS = COMPRESSOR_CODECS | _ARRAY_TO_BYTES | {"transpose", "crc32c"}
_KNOWN_V2_COMPRESSORS = frozenset({"zstd", "blosc", "gzip", "zlib", "bz2"})


@attrs.frozen
class ArrayMetadata:
    """What the backend needs from the metadata, in stored dimension order."""

    zarr_format: int
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    #: The chunk grid of files: the shard shape when sharded.
    outer_chunks: tuple[int, ...]
    #: The unit of decoding: the inner chunk when sharded, else `outer_chunks`.
    inner_chunks: tuple[int, ...]
    compressed: bool
    #: Stored dimension names (v3 `dimension_names`), `None` where unnamed.
    dimension_names: tuple[str | None, ...] | None
    #: Chunk file key: `prefix` + indices joined by `separator` (v3 default: "c/0/1/2/3").
    key_prefix: str
    key_separator: str
    file: Path


def _bad(file: Path, message: str, json_path: str | None = None) -> InvalidPropertiesError:
    return InvalidPropertiesError(message, path=file, json_path=json_path)


def read_json_capped(file: Path) -> Any:
    """Parse a JSON file of at most `MAX_METADATA_BYTES`; errors name the file."""
    try:
        if hasattr(file, "read_bytes") and not isinstance(file, os.PathLike):  # an S3Path
            raw = file.read_bytes(MAX_METADATA_BYTES + 1)
        else:
            with open(file, "rb") as handle:
                raw = handle.read(MAX_METADATA_BYTES + 1)
    except FileNotFoundError as exc:
        raise StorageError(f"No Zarr metadata: {file} not found.") from exc
    except OSError as exc:
        raise StorageError(f"Cannot read {file}: {exc}") from exc
    if len(raw) > MAX_METADATA_BYTES:
        raise _bad(file, f"larger than {MAX_METADATA_BYTES} bytes; not Zarr metadata.")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(file, f"not valid JSON ({exc}).") from None


def _int_list(
    value: Any, file: Path, key: str, *, ndim: int | None, minimum: int
) -> tuple[int, ...]:
    """A list of plain ints in `[minimum, MAX_EXTENT]` (of length `ndim` if given)."""
    if not isinstance(value, list) or not all(
        type(v) is int and minimum <= v <= MAX_EXTENT for v in value
    ):
        raise _bad(file, f"must be a list of integers in {minimum}..{MAX_EXTENT}.", key)
    if ndim is not None and len(value) != ndim:
        raise _bad(file, f"has {len(value)} entries for a {ndim}-dimensional array.", key)
    return tuple(value)


def _check_chunk(chunks: Sequence[int], dtype: np.dtype[Any], file: Path, key: str) -> None:
    """Refuse chunks whose decoded size would be an unreasonable allocation."""
    nbytes = math.prod(chunks) * dtype.itemsize
    if nbytes > MAX_CHUNK_BYTES:
        raise UnsupportedFormatError(
            f"{file}: {key} {list(chunks)} of {dtype} is {nbytes} bytes per chunk, more than the "
            f"{MAX_CHUNK_BYTES} this library decodes; the metadata is corrupt or the array "
            "needs rechunking."
        )


def _codec_name(codec: Any, file: Path, key: str) -> str:
    if not isinstance(codec, Mapping) or not isinstance(codec.get("name"), str):
        raise _bad(file, "each codec must be an object with a string `name`.", key)
    name: str = codec["name"]
    if name not in _KNOWN_V3_CODECS:
        raise UnsupportedFormatError(f"{file}: unsupported Zarr v3 codec {name!r} at {key}.")
    config = codec.get("configuration", {})
    if not isinstance(config, Mapping):
        raise _bad(file, "a codec `configuration` must be an object.", key)
    return name


def _check_codec_chain(codecs: Any, file: Path, key: str) -> list[Mapping[str, Any]]:
    """A codec list with exactly one array-to-bytes codec (`bytes` or `sharding_indexed`)."""
    if not isinstance(codecs, list) or not codecs:
        raise _bad(file, "must be a non-empty list of codecs.", key)
    names = [_codec_name(c, file, f"{key}[{i}]") for i, c in enumerate(codecs)]
    if sum(n in _ARRAY_TO_BYTES for n in names) != 1:
        raise UnsupportedFormatError(
            f"{file}: {key} needs exactly one `bytes` or `sharding_indexed` codec, got {names}."
        )
    return list(codecs)


def _parse_v3(doc: Any, file: Path) -> ArrayMetadata:
    if not isinstance(doc, Mapping):
        raise _bad(file, "must be a JSON object.")
    if doc.get("zarr_format") != 3:
        raise UnsupportedFormatError(
            f"{file}: not Zarr v3 (zarr_format {doc.get('zarr_format')!r})."
        )
    if doc.get("node_type") != "array":
        raise UnsupportedFormatError(f"{file}: a Zarr {doc.get('node_type')!r} node, not an array.")
    shape_raw = doc.get("shape")
    if not isinstance(shape_raw, list) or not 1 <= len(shape_raw) <= MAX_NDIM:
        raise _bad(file, f"must list 1..{MAX_NDIM} dimensions.", "shape")
    shape = _int_list(shape_raw, file, "shape", ndim=None, minimum=0)
    ndim = len(shape)
    dtype_name = doc.get("data_type")
    if not isinstance(dtype_name, str) or dtype_name not in V3_DTYPES:
        raise UnsupportedFormatError(f"{file}: unsupported Zarr v3 data_type {dtype_name!r}.")
    dtype = V3_DTYPES[dtype_name]
    grid = doc.get("chunk_grid")
    if not isinstance(grid, Mapping) or grid.get("name") != "regular":
        raise UnsupportedFormatError(f"{file}: only the `regular` chunk_grid is supported.")
    grid_config = grid.get("configuration")
    if not isinstance(grid_config, Mapping):
        raise _bad(file, "must be an object.", "chunk_grid.configuration")
    outer = _int_list(
        grid_config.get("chunk_shape"),
        file,
        "chunk_grid.configuration.chunk_shape",
        ndim=ndim,
        minimum=1,
    )
    if not isinstance(doc.get("fill_value"), (int, float)) or isinstance(doc["fill_value"], bool):
        raise _bad(file, "must be a number.", "fill_value")
    codecs = _check_codec_chain(doc.get("codecs"), file, "codecs")
    inner = outer
    names = [c["name"] for c in codecs]
    if "sharding_indexed" in names:
        shard_config = codecs[names.index("sharding_indexed")].get("configuration", {})
        key = "codecs.sharding_indexed.configuration"
        inner = _int_list(
            shard_config.get("chunk_shape"), file, f"{key}.chunk_shape", ndim=ndim, minimum=1
        )
        if any(o % i for o, i in zip(outer, inner, strict=True)):
            raise _bad(
                file, f"inner chunk {list(inner)} does not divide the shard {list(outer)}.", key
            )
        if math.prod(o // i for o, i in zip(outer, inner, strict=True)) > MAX_CHUNKS_PER_SHARD:
            raise UnsupportedFormatError(
                f"{file}: shards of {list(outer)} hold more than {MAX_CHUNKS_PER_SHARD} chunks of "
                f"{list(inner)}."
            )
        inner_codecs = _check_codec_chain(shard_config.get("codecs"), file, f"{key}.codecs")
        if "sharding_indexed" in [c["name"] for c in inner_codecs]:
            raise UnsupportedFormatError(f"{file}: nested sharding is not supported.")
        _check_codec_chain(shard_config.get("index_codecs"), file, f"{key}.index_codecs")
        names += [c["name"] for c in inner_codecs]
    _check_chunk(inner, dtype, file, "chunk shape")
    dimension_names = doc.get("dimension_names")
    if dimension_names is not None and (
        not isinstance(dimension_names, list)
        or len(dimension_names) != ndim
        or not all(n is None or isinstance(n, str) for n in dimension_names)
    ):
        raise _bad(file, f"must be {ndim} strings or nulls.", "dimension_names")
    encoding = doc.get("chunk_key_encoding", {"name": "default"})
    if not isinstance(encoding, Mapping) or encoding.get("name") not in ("default", "v2"):
        raise UnsupportedFormatError(f"{file}: unsupported chunk_key_encoding {encoding!r}.")
    default = encoding["name"] == "default"
    enc_config = encoding.get("configuration", {})
    separator = (
        enc_config.get("separator", "/" if default else ".")
        if isinstance(enc_config, Mapping)
        else None
    )
    if separator not in ("/", "."):
        raise _bad(file, "separator must be '/' or '.'.", "chunk_key_encoding")
    return ArrayMetadata(
        zarr_format=3,
        dtype=dtype,
        shape=shape,
        outer_chunks=outer,
        inner_chunks=inner,
        compressed=any(n in COMPRESSOR_CODECS for n in names),
        dimension_names=None if dimension_names is None else tuple(dimension_names),
        key_prefix=f"c{separator}" if default else "",
        key_separator=separator,
        file=file,
    )


def _parse_v2(doc: Any, file: Path) -> ArrayMetadata:
    if not isinstance(doc, Mapping):
        raise _bad(file, "must be a JSON object.")
    if doc.get("zarr_format") != 2:
        raise UnsupportedFormatError(
            f"{file}: not Zarr v2 (zarr_format {doc.get('zarr_format')!r})."
        )
    shape_raw = doc.get("shape")
    if not isinstance(shape_raw, list) or not 1 <= len(shape_raw) <= MAX_NDIM:
        raise _bad(file, f"must list 1..{MAX_NDIM} dimensions.", "shape")
    shape = _int_list(shape_raw, file, "shape", ndim=None, minimum=0)
    chunks = _int_list(doc.get("chunks"), file, "chunks", ndim=len(shape), minimum=1)
    dtype_str = doc.get("dtype")
    try:
        if not isinstance(dtype_str, str) or len(dtype_str) > 8:
            raise TypeError
        dtype = np.dtype(dtype_str)
    except TypeError:
        raise UnsupportedFormatError(f"{file}: unsupported Zarr v2 dtype {dtype_str!r}.") from None
    native = dtype.newbyteorder("=")
    if native.name not in V3_DTYPES:
        raise UnsupportedFormatError(f"{file}: unsupported Zarr v2 dtype {dtype_str!r}.")
    if doc.get("order", "C") not in ("C", "F"):
        raise _bad(file, "must be 'C' or 'F'.", "order")
    compressor = doc.get("compressor")
    if compressor is not None and (
        not isinstance(compressor, Mapping) or compressor.get("id") not in _KNOWN_V2_COMPRESSORS
    ):
        raise UnsupportedFormatError(f"{file}: unsupported Zarr v2 compressor {compressor!r}.")
    if doc.get("filters") not in (None, []):
        raise UnsupportedFormatError(f"{file}: Zarr v2 filters are not supported.")
    separator = doc.get("dimension_separator", ".")
    if separator not in ("/", "."):
        raise _bad(file, "must be '/' or '.'.", "dimension_separator")
    _check_chunk(chunks, native, file, "chunks")
    return ArrayMetadata(
        zarr_format=2,
        dtype=native,
        shape=shape,
        outer_chunks=chunks,
        inner_chunks=chunks,
        compressed=compressor is not None,
        dimension_names=None,
        key_prefix="",
        key_separator=separator,
        file=file,
    )


def load_array_metadata(folder: Path) -> ArrayMetadata:
    """The checked metadata of the Zarr array in `folder` (v3 `zarr.json`, else v2 `.zarray`)."""
    v3, v2 = folder / V3_FILE, folder / V2_FILE
    if v3.is_file():
        return _parse_v3(read_json_capped(v3), v3)
    if v2.is_file():
        return _parse_v2(read_json_capped(v2), v2)
    raise StorageError(f"No Zarr array at {folder}: neither {V3_FILE} nor {V2_FILE} found.")
