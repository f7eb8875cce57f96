"""The `neuroglancer_uint64_sharded_v1` format: spec, chunk ids, hashing, shard reading and writing."""

from __future__ import annotations

import copy
import gzip
import operator
import os
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, cast

import attrs
import mmh3
import numpy as np
import numpy.typing as npt

from ...errors import (
    CorruptChunkError,
    InvalidArgumentError,
    InvalidPropertiesError,
    OutOfBoundsError,
    StorageError,
    UnsupportedFormatError,
)
from ._index_cache import MISSING, IndexCache
from ._inflate import gunzip_bounded, inflate_zlib_bounded

__all__ = [
    "ENCODINGS",
    "HASHES",
    "MAX_WRITE_MINISHARD_BITS",
    "SHARDING_TYPE",
    "Encoding",
    "HashName",
    "LocalRangeReader",
    "MemoryRangeReader",
    "ReadRange",
    "ShardingSpec",
    "choose_sharding_spec",
    "compressed_morton_code",
    "compressed_morton_codes",
    "decode_compressed_morton_code",
    "decode_compressed_morton_codes",
    "encode_shard",
    "group_by_shard",
    "parse_shard",
    "read_chunk",
    "read_chunks",
    "shard_and_minishard",
    "shard_and_minishard_array",
    "shard_file_name",
    "shard_grid_box",
    "shard_shape_in_chunks",
]

SHARDING_TYPE: Final = "neuroglancer_uint64_sharded_v1"
HashName = Literal["identity", "murmurhash3_x86_128"]
Encoding = Literal["raw", "gzip"]
HASHES: Final[tuple[HashName, ...]] = ("identity", "murmurhash3_x86_128")
ENCODINGS: Final[tuple[Encoding, ...]] = ("raw", "gzip")

#: `encode_shard` refuses specs whose shard index alone would exceed 256 MiB (16 * 2**24 bytes).
MAX_WRITE_MINISHARD_BITS: Final = 24

#: `read_range(key, start, end)` returns bytes `[start, end)` of file `key`, or None if the file
#: does not exist. It may return fewer bytes when `end` lies past the end of the file.
ReadRange = Callable[[str, int, int], "bytes | None"]

_U64_LIMIT: Final = 1 << 64
_BITS_KEYS: Final = ("preshift_bits", "minishard_bits", "shard_bits")
_KNOWN_KEYS: Final = frozenset(
    {"@type", "hash", *_BITS_KEYS, "minishard_index_encoding", "data_encoding"}
)
# Reads closer than this are merged into one range request (one HTTP round trip / syscall).
_COALESCE_GAP: Final = 32 * 1024
_COALESCE_MAX: Final = 16 * 1024 * 1024

U64Array = npt.NDArray[np.uint64]
_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# Spec


def _check_bits(name: str, value: object, path: object, json_path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPropertiesError(
            f"must be an integer in 0..64, got {value!r}",
            path=path,
            json_path=f"{json_path}.{name}",
        )
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidPropertiesError(
                f"must be an integer in 0..64, got {value!r}",
                path=path,
                json_path=f"{json_path}.{name}",
            )
        value = int(value)
    if not 0 <= value <= 64:
        raise InvalidPropertiesError(
            f"must be in 0..64, got {value}", path=path, json_path=f"{json_path}.{name}"
        )
    return value


def _check_choice(
    name: str, value: object, choices: Sequence[str], path: object, json_path: str
) -> str:
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    raise InvalidPropertiesError(
        f"must be one of {', '.join(map(repr, choices))}, got {value!r}",
        path=path,
        json_path=f"{json_path}.{name}",
    )


@attrs.frozen
class ShardingSpec:
    """The `sharding` object of a precomputed scale (`neuroglancer_uint64_sharded_v1`).

    `extra` keeps unknown JSON keys so that `to_json()` writes them back unchanged.
    """

    preshift_bits: int
    minishard_bits: int
    shard_bits: int
    hash: HashName = "identity"
    minishard_index_encoding: Encoding = "raw"
    data_encoding: Encoding = "raw"
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        for name in _BITS_KEYS:
            _check_bits(name, getattr(self, name), None, "sharding")
            if not isinstance(getattr(self, name), int):
                raise InvalidPropertiesError(
                    f"must be an int, got {getattr(self, name)!r}", json_path=f"sharding.{name}"
                )
        for name, choices in (
            ("hash", HASHES),
            ("minishard_index_encoding", ENCODINGS),
            ("data_encoding", ENCODINGS),
        ):
            if getattr(self, name) not in choices:
                raise InvalidPropertiesError(
                    f"must be one of {', '.join(map(repr, choices))}, got {getattr(self, name)!r}",
                    json_path=f"sharding.{name}",
                )
        clash = _KNOWN_KEYS.intersection(self.extra)
        if clash:
            raise InvalidPropertiesError(
                f"`extra` must not repeat the spec's own keys: {sorted(clash)}",
                json_path="sharding",
            )

    @classmethod
    def from_json(
        cls, data: object, *, path: object = None, json_path: str = "sharding"
    ) -> ShardingSpec:
        """Validate and parse a `sharding` JSON object; errors name `path` and `json_path`."""
        if not isinstance(data, Mapping):
            raise InvalidPropertiesError(
                f"must be a JSON object, got {type(data).__name__}", path=path, json_path=json_path
            )
        type_ = data.get("@type")
        if type_ != SHARDING_TYPE:
            raise InvalidPropertiesError(
                f"unsupported sharding format {type_!r} (expected {SHARDING_TYPE!r})",
                path=path,
                json_path=f"{json_path}.@type",
            )
        missing = [k for k in ("hash", *_BITS_KEYS) if k not in data]
        if missing:
            raise InvalidPropertiesError(
                f"missing required key(s) {', '.join(missing)}", path=path, json_path=json_path
            )
        bits = {k: _check_bits(k, data[k], path, json_path) for k in _BITS_KEYS}
        hash_ = _check_choice("hash", data["hash"], HASHES, path, json_path)
        encodings = {
            k: _check_choice(k, data.get(k, "raw"), ENCODINGS, path, json_path)
            for k in ("minishard_index_encoding", "data_encoding")
        }
        try:
            extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in _KNOWN_KEYS}
        except RecursionError:
            raise InvalidPropertiesError(
                "unknown keys are nested too deeply", path=path, json_path=json_path
            ) from None
        return cls(
            preshift_bits=bits["preshift_bits"],
            minishard_bits=bits["minishard_bits"],
            shard_bits=bits["shard_bits"],
            hash=cast(HashName, hash_),
            minishard_index_encoding=cast(Encoding, encodings["minishard_index_encoding"]),
            data_encoding=cast(Encoding, encodings["data_encoding"]),
            extra=extra,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object, unknown keys included."""
        return {
            "@type": SHARDING_TYPE,
            "hash": self.hash,
            "preshift_bits": self.preshift_bits,
            "minishard_bits": self.minishard_bits,
            "shard_bits": self.shard_bits,
            "minishard_index_encoding": self.minishard_index_encoding,
            "data_encoding": self.data_encoding,
            **copy.deepcopy(dict(self.extra)),
        }

    @property
    def num_shards(self) -> int:
        """Number of possible shard files, `2**shard_bits`."""
        return 1 << self.shard_bits

    @property
    def num_minishards(self) -> int:
        """Minishards per shard, `2**minishard_bits`."""
        return 1 << self.minishard_bits

    @property
    def shard_index_nbytes(self) -> int:
        """Size of the shard index at the start of every shard file."""
        return 16 << self.minishard_bits


# --------------------------------------------------------------------------------------------
# Compressed Morton codes


def _grid_bits(grid_shape: Sequence[int]) -> tuple[int, ...]:
    bits = []
    for g in grid_shape:
        if isinstance(g, bool):
            raise InvalidArgumentError(f"grid shape must hold integers >= 1, got {grid_shape!r}")
        try:
            n = operator.index(g)
        except TypeError:
            raise InvalidArgumentError(
                f"grid shape must hold integers >= 1, got {grid_shape!r}"
            ) from None
        if n < 1:
            raise InvalidArgumentError(f"grid shape must hold integers >= 1, got {grid_shape!r}")
        bits.append((n - 1).bit_length())
    if not bits:
        raise InvalidArgumentError("grid shape must have at least one dimension")
    if sum(bits) > 64:
        raise InvalidArgumentError(
            f"grid {tuple(grid_shape)} needs {sum(bits)} bits of chunk id; at most 64 are allowed"
        )
    return tuple(bits)


def _morton_plan(bits: Sequence[int]) -> list[tuple[int, int]]:
    """(dimension, bit of that dimension) for each output bit of the code, LSB first."""
    return [(d, i) for i in range(max(bits)) for d, b in enumerate(bits) if i < b]


def _round_boundaries(bits: Sequence[int]) -> list[int]:
    """Code lengths at which every still-active dimension has received the same number of bits."""
    out, n = [0], 0
    for i in range(max(bits)):
        n += sum(1 for b in bits if i < b)
        out.append(n)
    return out


def _grid_ints(grid_shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(operator.index(g) for g in grid_shape)


def compressed_morton_code(grid_position: Sequence[int], grid_shape: Sequence[int]) -> int:
    """The chunk id of a chunk-grid cell (neuroglancer's compressed Morton code)."""
    bits = _grid_bits(grid_shape)
    grid = _grid_ints(grid_shape)
    try:
        pos = tuple(operator.index(p) for p in grid_position)
    except TypeError:
        raise InvalidArgumentError(
            f"grid position must hold integers, got {grid_position!r}"
        ) from None
    if len(pos) != len(grid) or any(isinstance(p, bool) for p in grid_position):
        raise InvalidArgumentError(f"grid position {grid_position!r} does not match grid {grid}")
    if not all(0 <= p < g for p, g in zip(pos, grid, strict=True)):
        raise OutOfBoundsError(f"grid position {pos} lies outside the chunk grid {grid}")
    code = 0
    for j, (d, i) in enumerate(_morton_plan(bits)):
        code |= ((pos[d] >> i) & 1) << j
    return code


def compressed_morton_codes(grid_positions: npt.ArrayLike, grid_shape: Sequence[int]) -> U64Array:
    """Vectorised `compressed_morton_code`: `(n, ndim)` positions to `n` uint64 chunk ids."""
    bits = _grid_bits(grid_shape)
    grid = _grid_ints(grid_shape)
    arr = np.asarray(grid_positions)
    if arr.ndim != 2 or arr.shape[1] != len(grid):
        raise InvalidArgumentError(
            f"grid positions must have shape (n, {len(grid)}), got {arr.shape}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidArgumentError(f"grid positions must be integers, got dtype {arr.dtype}")
    if arr.size:
        if np.issubdtype(arr.dtype, np.signedinteger) and (arr < 0).any():
            raise OutOfBoundsError("grid positions must not be negative")
        pos = arr.astype(np.uint64)
        for d, g in enumerate(grid):
            if g < _U64_LIMIT and (pos[:, d] >= np.uint64(g)).any():
                raise OutOfBoundsError(f"grid positions lie outside the chunk grid {grid}")
    else:
        pos = arr.astype(np.uint64).reshape(0, len(grid))
    out = np.zeros(len(pos), dtype=np.uint64)
    one = np.uint64(1)
    for j, (d, i) in enumerate(_morton_plan(bits)):
        out |= ((pos[:, d] >> np.uint64(i)) & one) << np.uint64(j)
    return out


def _morton_decode(code: int, bits: Sequence[int]) -> tuple[int, ...]:
    pos = [0] * len(bits)
    for j, (d, i) in enumerate(_morton_plan(bits)):
        pos[d] |= ((code >> j) & 1) << i
    return tuple(pos)


def decode_compressed_morton_code(chunk_id: int, grid_shape: Sequence[int]) -> tuple[int, ...]:
    """The chunk-grid position of a chunk id (inverse of `compressed_morton_code`)."""
    bits = _grid_bits(grid_shape)
    grid = _grid_ints(grid_shape)
    cid = _check_chunk_id(chunk_id)
    pos = _morton_decode(cid, bits)
    if cid >> sum(bits) or not all(p < g for p, g in zip(pos, grid, strict=True)):
        raise OutOfBoundsError(f"chunk id {cid} lies outside the chunk grid {grid}")
    return pos


def decode_compressed_morton_codes(chunk_ids: npt.ArrayLike, grid_shape: Sequence[int]) -> U64Array:
    """Vectorised inverse: `n` chunk ids to `(n, ndim)` uint64 grid positions."""
    bits = _grid_bits(grid_shape)
    grid = _grid_ints(grid_shape)
    ids = _as_u64_array(chunk_ids)
    total = sum(bits)
    if total < 64 and (ids >> np.uint64(total)).any():
        raise OutOfBoundsError(f"chunk ids lie outside the chunk grid {grid}")
    out = np.zeros((len(ids), len(bits)), dtype=np.uint64)
    one = np.uint64(1)
    for j, (d, i) in enumerate(_morton_plan(bits)):
        out[:, d] |= ((ids >> np.uint64(j)) & one) << np.uint64(i)
    for d, g in enumerate(grid):
        if g < _U64_LIMIT and (out[:, d] >= np.uint64(g)).any():
            raise OutOfBoundsError(f"chunk ids lie outside the chunk grid {grid}")
    return out


# --------------------------------------------------------------------------------------------
# Hashing and shard names


def _check_chunk_id(chunk_id: object) -> int:
    if isinstance(chunk_id, bool):
        raise InvalidArgumentError(f"chunk id must be an integer, got {chunk_id!r}")
    try:
        cid = operator.index(chunk_id)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidArgumentError(f"chunk id must be an integer, got {chunk_id!r}") from None
    if not 0 <= cid < _U64_LIMIT:
        raise InvalidArgumentError(f"chunk id must be in 0..2**64-1, got {cid}")
    return cid


def _as_u64_array(chunk_ids: npt.ArrayLike) -> U64Array:
    arr = np.asarray(chunk_ids)
    if arr.ndim != 1:
        raise InvalidArgumentError(f"chunk ids must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if arr.dtype == np.uint64:
        return arr
    if arr.dtype == object:
        return np.array([_check_chunk_id(c) for c in arr.tolist()], dtype=np.uint64)
    if not np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        raise InvalidArgumentError(f"chunk ids must be integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.signedinteger) and (arr < 0).any():
        raise InvalidArgumentError("chunk ids must not be negative")
    return arr.astype(np.uint64)


def _murmur(key: int) -> int:
    # murmurhash3_x86_128 of the 8-byte LE key, seed 0; the low 8 bytes of the digest (h1 | h2<<32).
    return mmh3.hash64(key.to_bytes(8, "little"), 0, False, False)[0]


def _hash(chunk_id: int, spec: ShardingSpec) -> int:
    key = chunk_id >> spec.preshift_bits
    return key if spec.hash == "identity" else _murmur(key)


def shard_and_minishard(chunk_id: int, spec: ShardingSpec) -> tuple[int, int]:
    """The `(shard, minishard)` numbers that hold `chunk_id`."""
    h = _hash(_check_chunk_id(chunk_id), spec)
    minishard = h & ((1 << spec.minishard_bits) - 1)
    shard = (h >> spec.minishard_bits) & ((1 << spec.shard_bits) - 1)
    return shard, minishard


def _u64_shift_right(a: U64Array, n: int) -> U64Array:
    return np.zeros_like(a) if n >= 64 else a >> np.uint64(n)


def shard_and_minishard_array(
    chunk_ids: npt.ArrayLike, spec: ShardingSpec
) -> tuple[U64Array, U64Array]:
    """Vectorised `shard_and_minishard`: two uint64 arrays (shards, minishards)."""
    ids = _as_u64_array(chunk_ids)
    keys = _u64_shift_right(ids, spec.preshift_bits)
    if spec.hash == "identity":
        h = keys
    else:
        h = np.fromiter((_murmur(k) for k in keys.tolist()), dtype=np.uint64, count=len(keys))
    minishards = h & np.uint64((1 << spec.minishard_bits) - 1)
    shards = _u64_shift_right(h, spec.minishard_bits) & np.uint64((1 << spec.shard_bits) - 1)
    return shards, minishards


def group_by_shard(chunk_ids: Iterable[int], spec: ShardingSpec) -> dict[int, list[int]]:
    """Chunk ids grouped by shard number, each list sorted and free of duplicates."""
    out: dict[int, set[int]] = {}
    for cid in chunk_ids:
        out.setdefault(shard_and_minishard(cid, spec)[0], set()).add(_check_chunk_id(cid))
    return {shard: sorted(ids) for shard, ids in sorted(out.items())}


def shard_file_name(shard: int, spec: ShardingSpec) -> str:
    """`<shard>.shard`: lower-case hex, zero-padded to `ceil(shard_bits / 4)` digits."""
    if isinstance(shard, bool) or not 0 <= operator.index(shard) < spec.num_shards:
        raise InvalidArgumentError(
            f"shard number must be in 0..{spec.num_shards - 1} for shard_bits="
            f"{spec.shard_bits}, got {shard!r}"
        )
    return f"{operator.index(shard):0{(spec.shard_bits + 3) // 4}x}.shard"


# --------------------------------------------------------------------------------------------
# Choosing parameters and shard geometry


def choose_sharding_spec(
    grid_shape: Sequence[int],
    *,
    chunk_nbytes: int | None = None,
    max_chunks_per_shard: int = 512,
    max_shard_nbytes: int = 1 << 30,
    data_encoding: Encoding = "raw",
    minishard_index_encoding: Encoding = "gzip",
) -> ShardingSpec:
    """An identity-hash spec whose shards are rectangular blocks of the chunk grid.

    Let `k = preshift_bits + minishard_bits` (log2 of the chunks per shard). `k` is the largest
    code length at which the compressed Morton code has given every still-active dimension the
    same number of bits (for a grid with enough chunks along x, y and z: `k ≡ 0 mod 3`, i.e.
    cubic shards of 2x2x2, 4x4x4 or 8x8x8 chunks), with `2**k <= max_chunks_per_shard` and,
    when `chunk_nbytes` (uncompressed bytes of one chunk) is given,
    `2**k * chunk_nbytes <= max_shard_nbytes`. With the defaults that is 512 chunks (8x8x8) per
    shard, or 64 (4x4x4) for chunks above 2 MiB. `shard_bits = Σ ceil(log2 grid) - k`, so shard
    numbers address whole blocks with no wrap-around; a grid that fits in one shard gets
    `shard_bits = 0`. The shard is split into one minishard per octant of the block
    (`minishard_bits` = number of active dimensions of the last round, usually 3), so each
    minishard index lists at most 64 chunks and reading one chunk fetches a small index.
    """
    bits = _grid_bits(grid_shape)
    if max_chunks_per_shard < 1 or max_shard_nbytes < 1:
        raise InvalidArgumentError("max_chunks_per_shard and max_shard_nbytes must be >= 1")
    limit = max_chunks_per_shard
    if chunk_nbytes is not None:
        if chunk_nbytes < 1:
            raise InvalidArgumentError(f"chunk_nbytes must be >= 1, got {chunk_nbytes}")
        limit = min(limit, max(1, max_shard_nbytes // chunk_nbytes))
    k_max = limit.bit_length() - 1
    boundaries = _round_boundaries(bits)
    total = boundaries[-1]
    k = max(b for b in boundaries if b <= k_max)
    preshift = max(b for b in boundaries if b < k) if k > 0 else 0
    for name, value in (
        ("data_encoding", data_encoding),
        ("minishard_index_encoding", minishard_index_encoding),
    ):
        if value not in ENCODINGS:
            raise InvalidArgumentError(f"{name} must be 'raw' or 'gzip', got {value!r}")
    return ShardingSpec(
        preshift_bits=preshift,
        minishard_bits=k - preshift,
        shard_bits=total - k,
        hash="identity",
        minishard_index_encoding=minishard_index_encoding,
        data_encoding=data_encoding,
    )


def shard_shape_in_chunks(spec: ShardingSpec, grid_shape: Sequence[int]) -> tuple[int, ...] | None:
    """The block of chunks each shard covers (before clipping to the grid), or None.

    None means shards are not rectangular blocks: a murmurhash spec with `shard_bits > 0`, or an
    identity spec with `preshift + minishard + shard bits < Σ ceil(log2 grid)` (shard numbers
    wrap around). When one shard holds the whole grid the result covers the whole grid.
    """
    bits = _grid_bits(grid_shape)
    total = sum(bits)
    k = spec.preshift_bits + spec.minishard_bits
    if spec.shard_bits == 0 or (spec.hash == "identity" and k >= total):
        return tuple(1 << b for b in bits)
    if spec.hash != "identity" or k + spec.shard_bits < total:
        return None
    counts = [0] * len(bits)
    for d, _ in _morton_plan(bits)[:k]:
        counts[d] += 1
    return tuple(1 << c for c in counts)


def shard_grid_box(
    shard: int, spec: ShardingSpec, grid_shape: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """`(begin, end)` chunk-grid positions (end exclusive, clipped) that shard `shard` holds.

    None when the spec's shards are not boxes (see `shard_shape_in_chunks`). Raises
    `OutOfBoundsError` for a shard number that holds no chunk of this grid.
    """
    grid = _grid_ints(grid_shape)
    shape = shard_shape_in_chunks(spec, grid_shape)
    shard_file_name(shard, spec)  # validates the number
    if shape is None:
        return None
    bits = _grid_bits(grid_shape)
    k = spec.preshift_bits + spec.minishard_bits
    whole = spec.shard_bits == 0 or k >= sum(bits)
    if whole:
        # Identity hash with k >= total bits: every chunk id is < 2**k, so only shard 0 is used.
        if shard != 0:
            raise OutOfBoundsError(f"shard {shard} holds no chunks of grid {grid}")
        return (0,) * len(grid), grid
    begin = _morton_decode(shard << k, bits)
    if (shard << k) >> sum(bits) or not all(b < g for b, g in zip(begin, grid, strict=True)):
        raise OutOfBoundsError(f"shard {shard} holds no chunks of grid {grid}")
    end = tuple(min(b + s, g) for b, s, g in zip(begin, shape, grid, strict=True))
    return begin, end


# --------------------------------------------------------------------------------------------
# Byte sources


@attrs.frozen
class LocalRangeReader:
    """A picklable `ReadRange` over files in a local directory (missing file: None)."""

    directory: Path = attrs.field(converter=Path)

    def __call__(self, key: str, start: int, end: int) -> bytes | None:
        """Bytes `[start, end)` of `directory/key`, clipped at the end of the file."""
        try:
            f = open(self.directory / key, "rb")  # noqa: SIM115
        except (FileNotFoundError, NotADirectoryError):
            return None
        with f:
            size = os.fstat(f.fileno()).st_size
            if start >= size or end <= start:
                return b""
            f.seek(start)
            return f.read(min(end, size) - start)


@attrs.frozen
class MemoryRangeReader:
    """A `ReadRange` over in-memory files (`{key: bytes}`), e.g. for tests."""

    files: Mapping[str, bytes]

    def __call__(self, key: str, start: int, end: int) -> bytes | None:
        """Bytes `[start, end)` of `files[key]`, or None when the key is absent."""
        data = self.files.get(key)
        return None if data is None else bytes(data[start:end])


# --------------------------------------------------------------------------------------------
# Decoding


def _looks_like_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0


def _decode(data: bytes, encoding: str, key: str, what: str, max_size: int | None = None) -> bytes:
    """`data` after `encoding`; gzip is inflated in bounded steps, so more than `max_size`
    bytes of output raise `CorruptChunkError` naming the shard and the part of it."""
    if encoding == "raw":
        return data
    try:
        if data[:2] == b"\x1f\x8b":
            return gunzip_bounded(data, f"{key}: {what}", max_size)
        if _looks_like_zlib(data):
            # neuroglancer-scripts writes zlib streams under the name "gzip"; read them anyway.
            return inflate_zlib_bounded(data, f"{key}: {what}", max_size)
    except zlib.error as e:
        raise CorruptChunkError(f"{key}: {what} is not valid gzip data ({e})") from e
    raise CorruptChunkError(
        f"{key}: {what} is declared gzip but does not start with the gzip magic 1f 8b"
    )


@attrs.frozen
class _MinishardIndex:
    ids: U64Array
    starts: list[int]  # absolute offsets in the shard file
    sizes: list[int]


def _decode_minishard_index(
    raw: bytes, spec: ShardingSpec, key: str, minishard: int, max_chunks: int | None = None
) -> _MinishardIndex:
    what = f"minishard index {minishard}"
    limit = None if max_chunks is None else 24 * max_chunks  # 3 uint64 per listed chunk
    data = _decode(raw, spec.minishard_index_encoding, key, what, limit)
    if len(data) % 24:
        raise CorruptChunkError(
            f"{key}: {what} has {len(data)} bytes, not a multiple of 24 (3 x n uint64)"
        )
    table = np.frombuffer(data, dtype="<u8").reshape(3, len(data) // 24)
    # Ids are delta-coded modulo 2**64, exactly as the reference readers add them.
    ids = np.cumsum(table[0], dtype=np.uint64)
    starts, sizes = [], table[2].tolist()
    pos = spec.shard_index_nbytes
    for delta, size in zip(table[1].tolist(), sizes, strict=True):
        pos += delta
        starts.append(pos)
        pos += size
    if pos > _U64_LIMIT:
        raise CorruptChunkError(f"{key}: {what} has chunk offsets beyond 2**64")
    return _MinishardIndex(ids, starts, sizes)


def _coalesce(
    ranges: Iterable[tuple[int, int, _T]],
) -> list[tuple[int, int, list[tuple[int, int, _T]]]]:
    """Merge `(start, end, payload)` ranges closer than `_COALESCE_GAP` into bigger reads."""
    groups: list[tuple[int, int, list[tuple[int, int, _T]]]] = []
    for r in sorted(ranges, key=lambda r: (r[0], r[1])):
        if groups:
            g_start, g_end, members = groups[-1]
            new_end = max(g_end, r[1])
            if r[0] - g_end <= _COALESCE_GAP and new_end - g_start <= _COALESCE_MAX:
                members.append(r)
                groups[-1] = (g_start, new_end, members)
                continue
        groups.append((r[0], r[1], [r]))
    return groups


def _read_exact(read_range: ReadRange, key: str, start: int, end: int, what: str) -> bytes | None:
    data = read_range(key, start, end)
    if data is None:
        return None
    if len(data) != end - start:
        raise CorruptChunkError(
            f"{key}: {what} at bytes [{start}, {end}) lies beyond the end of the file "
            f"(got {len(data)} of {end - start} bytes); the shard is truncated or corrupt"
        )
    return bytes(data)


def _read_present(read_range: ReadRange, key: str, start: int, end: int, what: str) -> bytes:
    data = _read_exact(read_range, key, start, end, what)
    if data is None:
        raise StorageError(f"{key}: the shard file disappeared while it was being read")
    return data


def read_chunk(
    read_range: ReadRange, chunk_id: int, spec: ShardingSpec, *, prefix: str = ""
) -> bytes | None:
    """The bytes of one chunk (after `data_encoding`), or None when it is not stored.

    Shard files are read as `read_range(prefix + shard_file_name(...), start, end)`. A missing
    shard, an empty minishard, an id absent from its minishard and a zero-length entry (written
    by neuroglancer-scripts for absent chunks) all give None. Bad bytes raise
    `CorruptChunkError` naming the shard file.
    """
    return read_chunks(read_range, [chunk_id], spec, prefix=prefix)[_check_chunk_id(chunk_id)]


def read_chunks(
    read_range: ReadRange,
    chunk_ids: Iterable[int],
    spec: ShardingSpec,
    *,
    prefix: str = "",
    max_chunk_bytes: int | None = None,
    max_chunks: int | None = None,
    cache: IndexCache | None = None,
) -> dict[int, bytes | None]:
    """`read_chunk` for many ids: each shard index and minishard index is read once.

    Nearby byte ranges of one shard are merged into single `read_range` calls. `max_chunk_bytes`
    bounds a chunk after `data_encoding`, `max_chunks` the chunks a minishard index can list (the
    grid's chunk count): gzip payloads inflating past them raise `CorruptChunkError`. With a
    `cache`, decoded minishard indexes are reused while the shard's stamp is unchanged.
    """
    result: dict[int, bytes | None] = {}
    plan: dict[int, dict[int, list[int]]] = {}
    for cid in chunk_ids:
        cid = _check_chunk_id(cid)
        result[cid] = None
        shard, minishard = shard_and_minishard(cid, spec)
        plan.setdefault(shard, {}).setdefault(minishard, []).append(cid)
    for shard, by_minishard in sorted(plan.items()):
        key = prefix + shard_file_name(shard, spec)
        stamp = cache.stamp(key) if cache is not None else None
        indexes: dict[int, _MinishardIndex | None] = {}
        wanted = []
        for m in by_minishard:
            hit = cache.get(key, m, stamp) if cache is not None else MISSING
            if hit is MISSING:
                wanted.append(m)
            else:
                indexes[m] = hit
        if wanted:
            loaded = _read_minishard_indexes(read_range, key, wanted, spec, max_chunks)
            for m in wanted:
                indexes[m] = loaded.get(m)
                if cache is not None:
                    cache.put(key, m, stamp, indexes[m])
        # The data ranges of the wanted chunks.
        data_ranges: list[tuple[int, int, int]] = []
        for m, cids in by_minishard.items():
            index = indexes[m]
            if index is None:
                continue
            for cid in cids:
                hits = np.flatnonzero(index.ids == np.uint64(cid))
                if len(hits) == 0:
                    continue
                i = int(hits[0])
                if index.sizes[i] > 0:
                    data_ranges.append((index.starts[i], index.starts[i] + index.sizes[i], cid))
        for g_start, g_end, members in _coalesce(data_ranges):
            blob = _read_present(read_range, key, g_start, g_end, "chunk data")
            for c_start, c_end, cid in members:
                result[cid] = _decode(
                    blob[c_start - g_start : c_end - g_start],
                    spec.data_encoding,
                    key,
                    f"chunk {cid}",
                    max_chunk_bytes,
                )
    return result


def _read_minishard_indexes(
    read_range: ReadRange,
    key: str,
    minishards: list[int],
    spec: ShardingSpec,
    max_chunks: int | None,
) -> dict[int, _MinishardIndex]:
    """The decoded indexes of the non-empty `minishards` of shard `key` (none if it is absent)."""
    index_end = spec.shard_index_nbytes
    # 1. Shard index entries of the minishards we need.
    minishard_ranges: list[tuple[int, int, int]] = []
    entry_reads = _coalesce((16 * m, 16 * m + 16, m) for m in minishards)
    for first, (g_start, g_end, members) in enumerate(entry_reads):
        if first == 0:
            blob = _read_exact(read_range, key, g_start, g_end, "shard index")
            if blob is None:
                return {}  # no shard file: every chunk of this shard is absent
        else:
            blob = _read_present(read_range, key, g_start, g_end, "shard index")
        for m_start, _, m in members:
            lo = m_start - g_start
            start = int.from_bytes(blob[lo : lo + 8], "little")
            end = int.from_bytes(blob[lo + 8 : lo + 16], "little")
            if end < start:
                raise CorruptChunkError(
                    f"{key}: shard index entry {m} is [{start}, {end}), which ends before it starts"
                )
            if end > start:
                minishard_ranges.append((index_end + start, index_end + end, m))
    # 2. The minishard indexes themselves.
    indexes: dict[int, _MinishardIndex] = {}
    for g_start, g_end, members in _coalesce(minishard_ranges):
        blob = _read_present(read_range, key, g_start, g_end, "minishard index")
        for m_start, m_end, m in members:
            indexes[m] = _decode_minishard_index(
                blob[m_start - g_start : m_end - g_start], spec, key, m, max_chunks
            )
    return indexes


def parse_shard(
    data: bytes,
    spec: ShardingSpec,
    *,
    key: str = "<shard>",
    max_chunk_bytes: int | None = None,
    max_chunks: int | None = None,
) -> dict[int, bytes]:
    """All chunks of a whole shard file, `{chunk_id: bytes after data_encoding}`.

    Every offset and size is checked against the file length; `key` names the file in errors.
    Zero-length entries are skipped as absent chunks. `max_chunk_bytes` and `max_chunks` bound
    the inflated sizes as in `read_chunks`.
    """
    data = bytes(data)
    length = len(data)
    index_end = spec.shard_index_nbytes
    if length < index_end:
        raise CorruptChunkError(
            f"{key}: {length} bytes is shorter than the {index_end}-byte shard index "
            f"(minishard_bits={spec.minishard_bits})"
        )
    entries = np.frombuffer(data, dtype="<u8", count=2 * spec.num_minishards).reshape(-1, 2)
    out: dict[int, bytes] = {}
    for m in np.flatnonzero(entries[:, 0] != entries[:, 1]).tolist():
        start, end = (int(x) for x in entries[m])
        if end < start or index_end + end > length:
            raise CorruptChunkError(
                f"{key}: shard index entry {m} [{start}, {end}) does not fit in the "
                f"{length}-byte file"
            )
        index = _decode_minishard_index(
            data[index_end + start : index_end + end], spec, key, int(m), max_chunks
        )
        for cid, c_start, size in zip(index.ids.tolist(), index.starts, index.sizes, strict=True):
            if c_start + size > length:
                raise CorruptChunkError(
                    f"{key}: chunk {cid} at bytes [{c_start}, {c_start + size}) does not fit "
                    f"in the {length}-byte file"
                )
            if cid in out:
                raise CorruptChunkError(f"{key}: chunk {cid} is listed twice")
            if size == 0:
                continue
            out[cid] = _decode(
                data[c_start : c_start + size],
                spec.data_encoding,
                key,
                f"chunk {cid}",
                max_chunk_bytes,
            )
    return out


# --------------------------------------------------------------------------------------------
# Encoding


def _encode(data: bytes, encoding: str, compresslevel: int) -> bytes:
    if encoding == "raw":
        return data
    # Real RFC 1952 gzip (magic 1f 8b), mtime 0 so that equal input gives equal shards.
    return gzip.compress(data, compresslevel=compresslevel, mtime=0)


def encode_shard(
    chunks: Mapping[int, bytes | None], spec: ShardingSpec, *, compresslevel: int = 6
) -> bytes:
    """A complete shard file holding `chunks` (`{chunk_id: encoded chunk bytes}`).

    Layout: shard index, then the chunk data (minishard by minishard, ids ascending), then the
    minishard indices. `None` values are left out (absent chunks get no entry); empty bytes and
    ids belonging to different shards are refused. gzip encodings write real gzip (1f 8b).
    """
    if spec.minishard_bits > MAX_WRITE_MINISHARD_BITS:
        raise UnsupportedFormatError(
            f"minishard_bits={spec.minishard_bits} would need a "
            f"{spec.shard_index_nbytes}-byte shard index; at most "
            f"{MAX_WRITE_MINISHARD_BITS} bits can be written"
        )
    groups: dict[int, list[tuple[int, bytes]]] = {}
    shards: set[int] = set()
    for raw_id, payload in chunks.items():
        cid = _check_chunk_id(raw_id)
        if payload is None:
            continue
        if len(payload) == 0:
            raise InvalidArgumentError(
                f"chunk {cid} has no bytes; leave absent chunks out instead of writing "
                "zero-length entries"
            )
        shard, minishard = shard_and_minishard(cid, spec)
        shards.add(shard)
        groups.setdefault(minishard, []).append((cid, bytes(payload)))
    if len(shards) > 1:
        raise InvalidArgumentError(
            f"chunks belong to {len(shards)} different shards ({sorted(shards)[:8]}); "
            "encode one shard at a time (see group_by_shard)"
        )
    index = np.zeros((spec.num_minishards, 2), dtype="<u8")
    parts: list[bytes] = [b""]  # placeholder for the shard index
    minishard_indices: list[tuple[int, bytes]] = []
    pos = 0  # offsets are relative to the end of the shard index
    for minishard in sorted(groups):
        members = sorted(groups[minishard], key=lambda item: item[0])
        ids = [cid for cid, _ in members]
        table = np.zeros((3, len(ids)), dtype="<u8")
        id_arr = np.array(ids, dtype=np.uint64)
        table[0, 0] = id_arr[0]
        table[0, 1:] = np.diff(id_arr)
        table[1, 0] = pos  # later chunks follow their predecessor directly: delta 0
        for i, (_, payload) in enumerate(members):
            blob = _encode(payload, spec.data_encoding, compresslevel)
            table[2, i] = len(blob)
            parts.append(blob)
            pos += len(blob)
        minishard_indices.append(
            (minishard, _encode(table.tobytes(), spec.minishard_index_encoding, compresslevel))
        )
    for minishard, blob in minishard_indices:
        index[minishard] = (pos, pos + len(blob))
        parts.append(blob)
        pos += len(blob)
    parts[0] = index.tobytes()
    return b"".join(parts)
