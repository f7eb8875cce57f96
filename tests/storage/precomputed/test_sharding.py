"""The sharded precomputed format on its own: spec, chunk ids, hashing, shard encode/parse, fuzz."""

from __future__ import annotations

import gzip
import itertools
import pickle
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webknossos_like.errors import (
    CorruptChunkError,
    InvalidArgumentError,
    InvalidPropertiesError,
    OutOfBoundsError,
    StorageError,
    UnsupportedFormatError,
)
from webknossos_like.storage.precomputed.sharding import (
    SHARDING_TYPE,
    LocalRangeReader,
    MemoryRangeReader,
    ShardingSpec,
    choose_sharding_spec,
    compressed_morton_code,
    compressed_morton_codes,
    decode_compressed_morton_code,
    decode_compressed_morton_codes,
    encode_shard,
    group_by_shard,
    parse_shard,
    read_chunk,
    read_chunks,
    shard_and_minishard,
    shard_and_minishard_array,
    shard_file_name,
    shard_grid_box,
    shard_shape_in_chunks,
)

MURMUR = "murmurhash3_x86_128"


def spec(
    p: int, m: int, s: int, hash: str = "identity", index: str = "raw", data: str = "raw"
) -> ShardingSpec:
    return ShardingSpec.from_json(
        {
            "@type": SHARDING_TYPE,
            "hash": hash,
            "preshift_bits": p,
            "minishard_bits": m,
            "shard_bits": s,
            "minishard_index_encoding": index,
            "data_encoding": data,
        }
    )


def grid_bits(grid: tuple[int, ...]) -> int:
    return sum((g - 1).bit_length() for g in grid)


# ---------------------------------------------------------------------------------------------
# Worked examples from PRECOMPUTED.md


@pytest.mark.parametrize(
    ("position", "code"),
    [
        ((0, 0, 0), 0),
        ((1, 0, 0), 1),
        ((0, 1, 0), 2),
        ((0, 0, 1), 4),
        ((2, 0, 0), 8),
        ((4, 0, 0), 64),
        ((4, 3, 2), 114),
    ],
)
def test_compressed_morton_code_examples(position: tuple[int, int, int], code: int) -> None:
    assert compressed_morton_code(position, (5, 4, 3)) == code
    assert compressed_morton_codes(np.array([position]), (5, 4, 3)).tolist() == [code]
    assert decode_compressed_morton_code(code, (5, 4, 3)) == position


def test_murmurhash_check_values() -> None:
    # minishard_bits=64 exposes the whole 64-bit hash as the minishard number.
    full = spec(0, 64, 0, MURMUR)
    assert shard_and_minishard(0, full) == (0, 0x4772B084E028AE41)
    assert shard_and_minishard(1, full) == (0, 0xE8BD67D616D4CE9A)
    assert shard_and_minishard(114, spec(1, 64, 0, MURMUR)) == (0, 0x16EAF350DF2289B6)


@pytest.mark.parametrize("shard_bits", [1, 2])
def test_worked_example_chunk_114(shard_bits: int) -> None:
    s = spec(1, 2, shard_bits, MURMUR)
    assert shard_and_minishard(114, s) == (1, 2)
    shards, minishards = shard_and_minishard_array(np.array([114], dtype=np.uint64), s)
    assert (shards.tolist(), minishards.tolist()) == ([1], [2])


def test_identity_hash() -> None:
    s = spec(2, 3, 4)
    cid = 0b1011_011_01
    assert shard_and_minishard(cid, s) == (0b1011, 0b011)
    big = 2**64 - 1
    assert shard_and_minishard(big, spec(0, 64, 0)) == (0, big)
    assert shard_and_minishard(big, spec(64, 3, 3)) == (0, 0)


def test_hash_array_matches_scalar() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 2**63, size=300, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    for s in (spec(3, 4, 5, MURMUR), spec(1, 2, 7), spec(0, 60, 4, MURMUR), spec(0, 0, 0)):
        shards, minishards = shard_and_minishard_array(ids, s)
        expected = [shard_and_minishard(int(c), s) for c in ids.tolist()]
        assert list(zip(shards.tolist(), minishards.tolist(), strict=True)) == expected


@pytest.mark.parametrize(
    ("shard", "shard_bits", "name"),
    [
        (0, 0, "0.shard"),
        (1, 1, "1.shard"),
        (5, 4, "5.shard"),
        (0x1F, 5, "1f.shard"),
        (3, 8, "03.shard"),
        (0xABC, 12, "abc.shard"),
        (1, 13, "0001.shard"),
    ],
)
def test_shard_file_name(shard: int, shard_bits: int, name: str) -> None:
    assert shard_file_name(shard, spec(0, 0, shard_bits)) == name


def test_shard_file_name_rejects_out_of_range() -> None:
    with pytest.raises(InvalidArgumentError):
        shard_file_name(2, spec(0, 0, 1))
    with pytest.raises(InvalidArgumentError):
        shard_file_name(-1, spec(0, 0, 4))


# ---------------------------------------------------------------------------------------------
# Spec JSON


def test_spec_json_round_trip_keeps_unknown_keys() -> None:
    data = {
        "@type": SHARDING_TYPE,
        "hash": "murmurhash3_x86_128",
        "preshift_bits": 6,
        "minishard_bits": 11,
        "shard_bits": 7,
        "minishard_index_encoding": "gzip",
        "data_encoding": "gzip",
        "x_custom": {"a": [1, 2]},
    }
    s = ShardingSpec.from_json(data)
    assert (s.preshift_bits, s.minishard_bits, s.shard_bits, s.hash) == (6, 11, 7, MURMUR)
    assert s.to_json() == data
    assert ShardingSpec.from_json(s.to_json()) == s
    assert hash(s) == hash(ShardingSpec.from_json(data))
    assert pickle.loads(pickle.dumps(s)) == s


def test_spec_defaults_and_leniency() -> None:
    s = ShardingSpec.from_json(
        {
            "@type": SHARDING_TYPE,
            "hash": "Identity",
            "preshift_bits": 1.0,
            "minishard_bits": 0,
            "shard_bits": 64,
        }
    )
    assert (s.hash, s.preshift_bits, s.minishard_index_encoding, s.data_encoding) == (
        "identity",
        1,
        "raw",
        "raw",
    )
    assert s.to_json()["data_encoding"] == "raw"


BASE = {
    "@type": SHARDING_TYPE,
    "hash": "identity",
    "preshift_bits": 1,
    "minishard_bits": 2,
    "shard_bits": 3,
}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"@type": "neuroglancer_uint64_sharded_v2"}, "sharding.@type"),
        ({"@type": None}, "sharding.@type"),
        ({"hash": "md5"}, "sharding.hash"),
        ({"hash": 3}, "sharding.hash"),
        ({"preshift_bits": 65}, "sharding.preshift_bits"),
        ({"minishard_bits": -1}, "sharding.minishard_bits"),
        ({"shard_bits": True}, "sharding.shard_bits"),
        ({"shard_bits": "3"}, "sharding.shard_bits"),
        ({"shard_bits": 2.5}, "sharding.shard_bits"),
        ({"data_encoding": "zlib"}, "sharding.data_encoding"),
        ({"minishard_index_encoding": None}, "sharding.minishard_index_encoding"),
        ({"shard_bits": None}, "sharding.shard_bits"),
    ],
)
def test_spec_validation(change: dict[str, object], where: str) -> None:
    with pytest.raises(InvalidPropertiesError, match=where.replace(".", r"\.")):
        ShardingSpec.from_json({**BASE, **change}, path="vol/info", json_path="sharding")


def test_spec_missing_keys_and_non_object() -> None:
    for key in ("hash", "preshift_bits", "minishard_bits", "shard_bits"):
        data = {k: v for k, v in BASE.items() if k != key}
        with pytest.raises(InvalidPropertiesError, match=key):
            ShardingSpec.from_json(data)
    with pytest.raises(InvalidPropertiesError, match=r"vol/info at scales\[0\]\.sharding"):
        ShardingSpec.from_json([1, 2], path="vol/info", json_path="scales[0].sharding")
    with pytest.raises(InvalidPropertiesError):
        ShardingSpec(preshift_bits=0, minishard_bits=70, shard_bits=0)
    with pytest.raises(InvalidPropertiesError):
        ShardingSpec(preshift_bits=0, minishard_bits=1, shard_bits=0, hash="md5")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Morton codes


def brute_force_morton(pos: tuple[int, ...], grid: tuple[int, ...]) -> int:
    code, j, i = 0, 0, 0
    while any((1 << i) < g for g in grid):
        for d, g in enumerate(grid):
            if (1 << i) < g:
                code |= ((pos[d] >> i) & 1) << j
                j += 1
        i += 1
    return code


@given(
    grid=st.tuples(*[st.integers(1, 2**21)] * 3),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_morton_vectorised_matches_scalar(grid: tuple[int, int, int], data: st.DataObject) -> None:
    positions = data.draw(
        st.lists(st.tuples(*[st.integers(0, g - 1) for g in grid]), min_size=1, max_size=20)
    )
    codes = compressed_morton_codes(np.array(positions, dtype=np.int64), grid)
    assert codes.dtype == np.uint64
    expected = [brute_force_morton(p, grid) for p in positions]
    assert codes.tolist() == expected == [compressed_morton_code(p, grid) for p in positions]
    back = decode_compressed_morton_codes(codes, grid)
    assert [tuple(r) for r in back.tolist()] == [tuple(p) for p in positions]


def test_morton_exact_at_64_bits() -> None:
    grid = (2**22, 2**21, 2**21)  # 64 bits in total
    pos = (2**22 - 1, 2**21 - 1, 2**21 - 2)
    code = compressed_morton_code(pos, grid)
    assert code == brute_force_morton(pos, grid) and code > 2**63
    assert compressed_morton_codes(np.array([pos], dtype=np.uint64), grid).tolist() == [code]
    assert decode_compressed_morton_code(code, grid) == pos
    assert compressed_morton_code((0, 0, 1), grid) == 4
    with pytest.raises(InvalidArgumentError):
        compressed_morton_code((0, 0, 0), (2**22 + 1, 2**21, 2**21))


def test_morton_errors() -> None:
    with pytest.raises(OutOfBoundsError):
        compressed_morton_code((5, 0, 0), (5, 4, 3))
    with pytest.raises(OutOfBoundsError):
        compressed_morton_code((-1, 0, 0), (5, 4, 3))
    with pytest.raises(OutOfBoundsError):
        compressed_morton_codes(np.array([[0, 4, 0]]), (5, 4, 3))
    with pytest.raises(InvalidArgumentError):
        compressed_morton_code((1, 0), (5, 4, 3))
    with pytest.raises(InvalidArgumentError):
        compressed_morton_code((0, 0, 0), (0, 4, 3))
    with pytest.raises(OutOfBoundsError):
        decode_compressed_morton_code(127, (5, 4, 3))  # (7, 3, 3) is outside
    with pytest.raises(OutOfBoundsError):
        decode_compressed_morton_code(128, (5, 4, 3))
    assert compressed_morton_code((0, 0, 0), (1, 1, 1)) == 0
    assert compressed_morton_codes(np.zeros((0, 3), dtype=int), (5, 4, 3)).shape == (0,)


# ---------------------------------------------------------------------------------------------
# Encode / parse round trips


SPECS = st.builds(
    spec,
    p=st.integers(0, 3),
    m=st.integers(0, 4),
    s=st.integers(0, 3),
    hash=st.sampled_from(["identity", MURMUR]),
    index=st.sampled_from(["raw", "gzip"]),
    data=st.sampled_from(["raw", "gzip"]),
)


@st.composite
def shard_contents(draw: st.DrawFn) -> tuple[ShardingSpec, dict[int, bytes], int]:
    s = draw(SPECS)
    ids = draw(
        st.lists(
            st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 1)),
            min_size=0,
            max_size=40,
            unique=True,
        )
    )
    shard = draw(st.integers(0, s.num_shards - 1))
    if ids:
        shard = shard_and_minishard(ids[0], s)[0]
    ids = [c for c in ids if shard_and_minishard(c, s)[0] == shard]
    chunks = {c: draw(st.binary(min_size=1, max_size=64)) for c in ids}
    return s, chunks, shard


@given(shard_contents())
@settings(max_examples=300, deadline=None)
def test_encode_parse_round_trip(content: tuple[ShardingSpec, dict[int, bytes], int]) -> None:
    s, chunks, shard = content
    blob = encode_shard(chunks, s)
    assert parse_shard(blob, s) == chunks
    key = shard_file_name(shard, s)
    reader = MemoryRangeReader({key: blob})
    assert read_chunks(reader, chunks, s) == chunks
    for cid, payload in itertools.islice(chunks.items(), 3):
        assert read_chunk(reader, cid, s) == payload
    # Ids of the same shard that were not written read as None (absent from / empty minishard).
    others = [c for c in range(400) if c not in chunks and shard_and_minishard(c, s)[0] == shard][
        :10
    ]
    assert all(v is None for v in read_chunks(reader, others, s).values())
    # Deterministic output (gzip mtime is fixed).
    assert encode_shard(dict(reversed(chunks.items())), s) == blob


def test_layout_gzip_magic_and_sorted_ids() -> None:
    s = spec(0, 2, 0, "identity", "gzip", "gzip")
    chunks = {9: b"x" * 100, 1: b"a" * 50, 5: b"b" * 10, 13: b"c"}  # minishard 1 holds 1, 5, 9, 13
    blob = encode_shard(chunks, s)
    index = np.frombuffer(blob[:64], dtype="<u8").reshape(4, 2)
    assert [lo == hi for lo, hi in index.tolist()] == [True, False, True, True]  # empty minishards
    start, end = (int(x) + 64 for x in index[1])
    assert blob[start : start + 2] == b"\x1f\x8b"
    table = np.frombuffer(gzip.decompress(blob[start:end]), dtype="<u8").reshape(3, -1)
    assert table[0].tolist() == [1, 4, 4, 4]  # delta-coded sorted ids
    assert table[1].tolist() == [0, 0, 0, 0]  # data first, contiguous
    first = 64 + int(table[1, 0])
    assert blob[first : first + 2] == b"\x1f\x8b"
    assert gzip.decompress(blob[first : first + int(table[2, 0])]) == b"a" * 50
    assert blob[64 : 64 + 2] == b"\x1f\x8b"  # the data section comes right after the shard index


def test_raw_layout_matches_spec_formula() -> None:
    s = spec(0, 1, 0)
    chunks = {2: b"AA", 4: b"BBB", 3: b"C"}
    blob = encode_shard(chunks, s)
    index = np.frombuffer(blob[:32], dtype="<u8").reshape(2, 2).tolist()
    (s0, e0), (s1, e1) = index
    table = np.frombuffer(blob[32 + s0 : 32 + e0], dtype="<u8").reshape(3, -1).tolist()
    assert table == [[2, 2], [0, 0], [2, 3]]
    table = np.frombuffer(blob[32 + s1 : 32 + e1], dtype="<u8").reshape(3, -1).tolist()
    assert table == [[3], [5], [1]]
    assert blob[32:38] == b"AABBBC"


def test_encode_shard_refusals() -> None:
    s = spec(0, 1, 2)
    with pytest.raises(InvalidArgumentError, match="different shards"):
        encode_shard({0: b"a", 2: b"b"}, s)
    with pytest.raises(InvalidArgumentError, match="zero-length"):
        encode_shard({0: b""}, s)
    with pytest.raises(InvalidArgumentError):
        encode_shard({-1: b"a"}, s)
    with pytest.raises(UnsupportedFormatError):
        encode_shard({0: b"a"}, spec(0, 40, 0))
    # None means absent: no entry at all.
    blob = encode_shard({0: b"a", 8: None}, s)
    assert parse_shard(blob, s) == {0: b"a"}
    empty = encode_shard({}, s)
    assert empty == bytes(32) and parse_shard(empty, s) == {}


def test_group_by_shard() -> None:
    s = spec(1, 1, 2)
    assert group_by_shard([7, 0, 1, 4, 12, 5, 5], s) == {0: [0, 1], 1: [4, 5, 7], 3: [12]}
    s = spec(0, 2, 3, MURMUR)
    groups = group_by_shard(range(100), s)
    assert sorted(itertools.chain.from_iterable(groups.values())) == list(range(100))
    for shard, ids in groups.items():
        encode_shard(dict.fromkeys(ids, b"x"), s)  # each group is encodable on its own
        assert all(shard_and_minishard(c, s)[0] == shard for c in ids)


# ---------------------------------------------------------------------------------------------
# Reading: absent things, foreign quirks, range coalescing, local files


def test_read_absent_shard_minishard_and_id(tmp_path: Path) -> None:
    s = spec(0, 2, 1)
    blob = encode_shard({0: b"zero", 8: b"eight"}, s)  # shard 0, minishard 0 only
    (tmp_path / "s0").mkdir()
    (tmp_path / "s0" / "0.shard").write_bytes(blob)
    reader = LocalRangeReader(tmp_path)
    assert read_chunk(reader, 8, s, prefix="s0/") == b"eight"
    assert read_chunk(reader, 16, s, prefix="s0/") is None  # id not in its minishard
    assert read_chunk(reader, 1, s, prefix="s0/") is None  # empty minishard
    assert read_chunk(reader, 4, s, prefix="s0/") is None  # shard 1.shard does not exist
    assert read_chunk(reader, 8, s, prefix="missing/") is None
    assert pickle.loads(pickle.dumps(reader)) == reader
    assert reader("s0/0.shard", len(blob) - 2, len(blob) + 100) == blob[-2:]


def test_zero_length_entries_read_as_absent() -> None:
    # What neuroglancer-scripts writes for absent chunks: entries of size 0.
    s = spec(0, 0, 0)
    table = np.array(
        [[1, 1, 1], [0, 0, 0], [0, 3, 0]], dtype="<u8"
    )  # ids 1, 2, 3; only 2 has bytes
    data = b"abc"
    index = np.array([[len(data), len(data) + table.nbytes]], dtype="<u8")
    blob = index.tobytes() + data + table.tobytes()
    assert parse_shard(blob, s) == {2: b"abc"}
    assert read_chunks(MemoryRangeReader({"0.shard": blob}), [1, 2, 3], s) == {
        1: None,
        2: b"abc",
        3: None,
    }


def test_zlib_labelled_gzip_is_read() -> None:
    # neuroglancer-scripts writes zlib streams (78 9c) under the name "gzip"; we read them.
    s = spec(0, 0, 0, index="gzip", data="gzip")
    payload = zlib.compress(b"hello")
    table = np.array([[7], [0], [len(payload)]], dtype="<u8")
    index_blob = zlib.compress(table.tobytes())
    blob = (
        np.array([[len(payload), len(payload) + len(index_blob)]], dtype="<u8").tobytes()
        + payload
        + index_blob
    )
    assert parse_shard(blob, s) == {7: b"hello"}
    # ...but never write them: our gzip is RFC 1952.
    ours = encode_shard({7: b"hello"}, s)
    assert ours[16:18] == b"\x1f\x8b"


def test_reads_are_coalesced() -> None:
    s = spec(0, 3, 0, data="gzip")
    chunks = {c: bytes([c]) * (100 + c) for c in range(64)}
    blob = encode_shard(chunks, s)
    calls: list[tuple[str, int, int]] = []

    def reader(key: str, start: int, end: int) -> bytes | None:
        calls.append((key, start, end))
        return blob[start:end]

    assert read_chunks(reader, range(64), s) == chunks
    assert len(calls) == 3  # shard index entries, minishard indices, chunk data
    calls.clear()
    assert read_chunk(reader, 10, s) == chunks[10]
    assert len(calls) == 3


def test_file_vanishing_mid_read_is_a_storage_error() -> None:
    s = spec(0, 0, 0)
    blob = encode_shard({1: b"a"}, s)
    calls = iter([blob[:16], None])
    with pytest.raises(StorageError):
        read_chunk(lambda key, start, end: next(calls), 1, s)


# ---------------------------------------------------------------------------------------------
# Choosing parameters and shard boxes


@pytest.mark.parametrize(
    ("grid", "chunk_nbytes", "chunks_per_shard"),
    [
        ((100, 100, 100), None, 512),
        ((64, 64, 64), 2**20, 512),
        ((64, 64, 64), 4 * 2**20, 64),
        ((64, 64, 64), 2**30, 1),
        ((300, 40, 9), None, 512),
        ((3, 3, 3), None, 64),  # one shard: 2**6 codes cover the 3x3x3 grid
        ((1, 1, 1), None, 1),
        ((1000, 1000, 1), None, 256),  # flat grid: 16x16x1 shards
    ],
)
def test_choose_sharding_spec(
    grid: tuple[int, int, int], chunk_nbytes: int | None, chunks_per_shard: int
) -> None:
    s = choose_sharding_spec(grid, chunk_nbytes=chunk_nbytes)
    k = s.preshift_bits + s.minishard_bits
    assert (
        s.hash == "identity" and s.minishard_index_encoding == "gzip" and s.data_encoding == "raw"
    )
    assert k + s.shard_bits == grid_bits(grid)
    assert 2**k == chunks_per_shard
    if min(grid) >= 8:
        assert k % 3 == 0
    assert s.minishard_bits <= 3
    assert shard_shape_in_chunks(s, grid) is not None


def test_choose_sharding_spec_options() -> None:
    s = choose_sharding_spec((50, 50, 50), max_chunks_per_shard=64, data_encoding="gzip")
    assert (s.preshift_bits, s.minishard_bits, s.data_encoding) == (3, 3, "gzip")
    assert shard_shape_in_chunks(s, (50, 50, 50)) == (4, 4, 4)
    with pytest.raises(InvalidArgumentError):
        choose_sharding_spec((50, 50, 50), chunk_nbytes=0)
    with pytest.raises(InvalidArgumentError):
        choose_sharding_spec((50, 50, 50), data_encoding="zlib")  # type: ignore[arg-type]


def brute_force_shards(s: ShardingSpec, grid: tuple[int, ...]) -> dict[int, set[tuple[int, ...]]]:
    positions = np.array(list(itertools.product(*[range(g) for g in grid])), dtype=np.int64)
    shards, _ = shard_and_minishard_array(compressed_morton_codes(positions, grid), s)
    out: dict[int, set[tuple[int, ...]]] = {}
    for shard, pos in zip(shards.tolist(), positions.tolist(), strict=True):
        out.setdefault(shard, set()).add(tuple(pos))
    return out


@given(
    grid=st.tuples(*[st.integers(1, 20)] * 3),
    p=st.integers(0, 4),
    m=st.integers(0, 4),
    extra=st.integers(0, 2),
)
@settings(max_examples=80, deadline=None)
def test_shard_grid_box_matches_brute_force(
    grid: tuple[int, int, int], p: int, m: int, extra: int
) -> None:
    total = grid_bits(grid)
    s = spec(p, m, max(0, total - p - m) + extra)
    shape = shard_shape_in_chunks(s, grid)
    assert shape is not None
    for shard, cells in brute_force_shards(s, grid).items():
        box = shard_grid_box(shard, s, grid)
        assert box is not None
        begin, end = box
        assert cells == set(
            itertools.product(*[range(b, e) for b, e in zip(begin, end, strict=True)])
        )
        assert all(b % n == 0 for b, n in zip(begin, shape, strict=True))
        assert all(e - b <= n for b, e, n in zip(begin, end, shape, strict=True))


def test_choose_spec_boxes_tile_the_grid() -> None:
    grid = (20, 9, 17)
    s = choose_sharding_spec(grid, max_chunks_per_shard=64)
    shape = shard_shape_in_chunks(s, grid)
    assert shape == (4, 4, 4)
    for shard, cells in brute_force_shards(s, grid).items():
        begin, end = shard_grid_box(shard, s, grid) or ((), ())
        assert len(cells) == int(np.prod(np.subtract(end, begin)))


def test_non_box_specs() -> None:
    grid = (16, 16, 16)
    assert shard_shape_in_chunks(spec(0, 3, 2, MURMUR), grid) is None
    assert shard_grid_box(1, spec(0, 3, 2, MURMUR), grid) is None
    assert shard_shape_in_chunks(spec(0, 3, 2), grid) is None  # 3 + 2 < 12 bits: shards wrap around
    assert shard_shape_in_chunks(spec(2, 3, 0, MURMUR), grid) == (16, 16, 16)  # one shard
    assert shard_grid_box(0, spec(2, 3, 0, MURMUR), grid) == ((0, 0, 0), (16, 16, 16))
    with pytest.raises(OutOfBoundsError):
        shard_grid_box(7, spec(3, 3, 8), (4, 4, 4))  # 6 bits of grid: only shard 0 is used
    with pytest.raises(OutOfBoundsError):
        shard_grid_box(3, spec(0, 3, 2), (3, 2, 2))  # shard 3 would start at x=4


# ---------------------------------------------------------------------------------------------
# Fuzz: corrupt shards give CorruptChunkError or a valid result, nothing else


def check_robust(blob: bytes, s: ShardingSpec, ids: list[int]) -> None:
    try:
        result = parse_shard(blob, s, key="scale/0.shard")
        assert all(isinstance(v, bytes) for v in result.values())
    except CorruptChunkError as e:
        assert "scale/0.shard" in str(e)
    try:
        got = read_chunks(MemoryRangeReader({"x/0.shard": blob}), ids, s, prefix="x/")
        assert set(got) == set(ids)
    except CorruptChunkError as e:
        assert "x/0.shard" in str(e)


FUZZ_SPECS = st.builds(
    spec,
    p=st.integers(0, 2),
    m=st.integers(0, 3),
    s=st.just(0),
    hash=st.sampled_from(["identity", MURMUR]),
    index=st.sampled_from(["raw", "gzip"]),
    data=st.sampled_from(["raw", "gzip"]),
)


@st.composite
def valid_shard(draw: st.DrawFn) -> tuple[ShardingSpec, bytes, list[int]]:
    s = draw(FUZZ_SPECS)
    ids = draw(st.lists(st.integers(0, 200), min_size=1, max_size=12, unique=True))
    chunks = {c: draw(st.binary(min_size=1, max_size=40)) for c in ids}
    return s, encode_shard(chunks, s), [*ids, 201, 202]


@given(valid_shard(), st.data())
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_bit_flips_and_truncations(
    shard: tuple[ShardingSpec, bytes, list[int]], data: st.DataObject
) -> None:
    s, blob, ids = shard
    mutated = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(mutated) - 1))
        mutated[i] ^= 1 << data.draw(st.integers(0, 7))
    check_robust(bytes(mutated), s, ids)
    check_robust(blob[: data.draw(st.integers(0, len(blob) - 1))], s, ids)
    # Huge offsets in a shard index entry.
    big = bytearray(blob)
    at = data.draw(st.integers(0, s.num_minishards * 2 - 1)) * 8
    big[at : at + 8] = data.draw(st.integers(0, 2**64 - 1)).to_bytes(8, "little")
    check_robust(bytes(big), s, ids)


@given(st.binary(max_size=300), FUZZ_SPECS)
@settings(max_examples=300, deadline=None)
def test_fuzz_random_bytes(blob: bytes, s: ShardingSpec) -> None:
    check_robust(blob, s, [0, 1, 5, 77])


def test_corruption_messages() -> None:
    s = spec(0, 0, 0, index="gzip")
    blob = encode_shard({1: b"a"}, s)
    with pytest.raises(CorruptChunkError, match="shorter than the 16-byte shard index"):
        parse_shard(blob[:10], s, key="k/0.shard")
    with pytest.raises(CorruptChunkError, match="lies beyond the end"):
        read_chunk(MemoryRangeReader({"0.shard": blob[:10]}), 1, s)
    broken = blob[:16] + blob[16:17] + b"\x00\x00" + blob[19:]
    with pytest.raises(CorruptChunkError, match="gzip"):
        parse_shard(broken[: len(blob)], spec(0, 0, 0, index="gzip"), key="k/0.shard")
    raw = spec(0, 0, 0)
    blob = encode_shard({1: b"a"}, raw)
    bad = np.array([[1, 24]], dtype="<u8").tobytes() + blob[16:]  # index of 23 bytes
    with pytest.raises(CorruptChunkError, match="multiple of 24"):
        parse_shard(bad, raw)
    bad = np.array([[5, 1]], dtype="<u8").tobytes() + blob[16:]
    with pytest.raises(CorruptChunkError, match="shard index entry 0"):
        read_chunk(MemoryRangeReader({"0.shard": bad}), 1, raw)
