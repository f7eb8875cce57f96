"""Hostile stored bytes: chunks of every codec, shard files and indexes, WKW files.

Each target is a small dataset written by the library; a test overwrites one of its stored files
and reads through `Dataset.open(...).get_layer(...).get_mag(...).read()` in the oracle process
(`_oracle.py`). Allowed outcomes: data, or an exception of `webknossos_like.errors`. Not
allowed: any other exception, a hang (no answer within 20 s: the reader is killed) or a crash of
the interpreter (the reader dies by a signal).
"""

from __future__ import annotations

import gzip
import importlib.util
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from webknossos_like import Dataset
from webknossos_like.errors import CorruptChunkError

from ._oracle_client import Oracle, acceptable, describe

PRECOMPUTED = "neuroglancerPrecomputed"
FUZZ = settings(
    max_examples=120,
    deadline=timedelta(seconds=10),
    derandomize=True,
    database=None,
    # Every crash costs a reader restart (~0.4 s): report the first failing input unshrunk.
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Target:
    """A stored file and the read that decodes it."""

    path: Path
    file: Path
    offset: tuple[int, int, int]
    size: tuple[int, int, int]
    expected: np.ndarray
    #: Leading bytes holding headers and indexes: mutations favour them.
    hot: int
    original: bytes


def _dataset(root: Path, name: str, category: str, dtype: str, data_format: str) -> Dataset:
    ds = Dataset(root / name, voxel_size=(1, 1, 1))
    ds.add_layer("l", category, dtype=dtype, data_format=data_format)
    return ds


def _labels(shape: tuple[int, ...], dtype: str, rng: np.random.Generator) -> np.ndarray:
    """Segmentation-like data: blocks of few labels, some with many (more encoded bits)."""
    table = rng.integers(1, np.iinfo(dtype).max, 64, dtype=dtype)
    data = table[rng.integers(0, 4, shape)]
    data[..., :3] = table[rng.integers(0, 64, (*shape[:-1], 3))]
    return data


def _cseg_32bit_block_chunk(labels: np.ndarray) -> bytes:
    """One 8^3 block encoded with 32-bit indices (valid, though no encoder picks it for 8^3)."""
    flat = labels.reshape(-1, order="F").astype(np.uint32)  # x fastest, like the format
    table, index = np.unique(flat, return_inverse=True)
    values_at, table_at = 2, 2 + flat.size  # relative to the channel start (word 1)
    words = np.concatenate(
        [
            np.array([1, table_at | (32 << 24), values_at], dtype=np.uint32),
            index.astype(np.uint32),
            table.astype(np.uint32),
        ]
    )
    return words.astype("<u4").tobytes()


def build_targets(root: Path) -> dict[str, Target]:
    rng = np.random.default_rng(5)
    targets: dict[str, Target] = {}

    def add(name: str, ds: Dataset, data: np.ndarray, file: Path, hot: int) -> None:
        shape = (int(data.shape[0]), int(data.shape[1]), int(data.shape[2]))
        targets[name] = Target(ds.path, file, (0, 0, 0), shape, data, hot, file.read_bytes())

    # WKW: one shard file of 2x2x2 chunks.
    for name, compress in (("wkw_raw", False), ("wkw_lz4", True)):
        ds = _dataset(root, name, "color", "uint8", "wkw")
        data = rng.integers(1, 4, (64, 64, 64), dtype=np.uint8)
        ds.get_layer("l").add_mag(1, chunk_shape=32, shard_shape=64, compress=compress).write(data)
        add(name, ds, data, ds.path / "l/1/z0/y0/x0.wkw", 16 + 8 * 8)
    # Precomputed chunks, one per codec.
    chunk = "l/1/0-32_0-32_0-32"
    for name, category, dtype, encoding in (
        ("raw_uint16", "color", "uint16", "raw"),
        ("cseg_uint32", "segmentation", "uint32", "compressed_segmentation"),
        ("cseg_uint64", "segmentation", "uint64", "compressed_segmentation"),
        ("jpeg", "color", "uint8", "jpeg"),
        ("png_uint8", "color", "uint8", "png"),
        ("png_uint16", "color", "uint16", "png"),
    ):
        ds = _dataset(root, name, category, dtype, PRECOMPUTED)
        if category == "segmentation":
            data = _labels((32, 32, 32), dtype, rng)
        else:
            data = rng.integers(1, 200, (32, 32, 32)).astype(dtype)
        mag = ds.get_layer("l").add_mag(1, chunk_shape=32, encoding=encoding)
        mag.write(data)
        if encoding == "jpeg":  # lossy: compare with what the library reads back
            data = mag.read()[0]
        add(name, ds, data, ds.path / chunk, 2 + 4 * 129 if category == "segmentation" else 800)
    # Codecs of optional packages (the `codecs` extra), when installed.
    for name, category, dtype, encoding, channels in OPTIONAL_CODECS:
        ds = Dataset(root / name, voxel_size=(1, 1, 1))
        ds.add_layer("l", category, dtype=dtype, data_format=PRECOMPUTED, num_channels=channels)
        if category == "segmentation":
            data = _labels((32, 32, 32), dtype, rng)
            mag = ds.get_layer("l").add_mag(1, chunk_shape=32, encoding=encoding)
            mag.write(data)
        else:
            data = rng.integers(1, 200, (channels, 32, 32, 32)).astype(dtype)
            mag = ds.get_layer("l").add_mag(1, chunk_shape=32, encoding=encoding)
            mag.write(data)
            data = mag.read()[0]  # lossy: compare with what the library reads back
        add(name, ds, data, ds.path / chunk, 200)
    # A gzipped raw chunk (`key.gz`, as CloudVolume writes it).
    ds = _dataset(root, "raw_gz", "color", "uint8", PRECOMPUTED)
    data = rng.integers(1, 200, (32, 32, 32), dtype=np.uint8)
    ds.get_layer("l").add_mag(1, chunk_shape=32, compress=False).write(data)
    plain = ds.path / chunk
    plain.with_name(plain.name + ".gz").write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    plain.unlink()
    add("raw_gz", ds, data, plain.with_name(plain.name + ".gz"), 40)
    # The 32-bit compressed_segmentation block: written by hand over an 8^3 chunk.
    ds = _dataset(root, "cseg_32bit_block", "segmentation", "uint32", PRECOMPUTED)
    data = rng.permutation(np.arange(1, 513, dtype=np.uint32) * 7919).reshape(8, 8, 8)
    ds.get_layer("l").add_mag(1, chunk_shape=8, compress=True).write(np.ones((8, 8, 8), np.uint32))
    file = ds.path / "l/1/0-8_0-8_0-8"
    file.write_bytes(_cseg_32bit_block_chunk(data))
    add("cseg_32bit_block", ds, data, file, 12)
    # Sharded scales: one shard file (index, minishard indexes, chunks).
    for name, compress in (("sharded_raw", False), ("sharded_gzip", True)):
        ds = _dataset(root, name, "color", "uint8", PRECOMPUTED)
        data = rng.integers(1, 4, (64, 64, 64), dtype=np.uint8)
        mag = ds.get_layer("l").add_mag(1, chunk_shape=16, sharded=True, compress=compress)
        mag.write(data)
        shards = sorted((ds.path / "l/1").glob("*.shard"))
        assert len(shards) == 1, shards
        add(name, ds, data, shards[0], 16 << mag._backend._sharding.minishard_bits)
    return targets


@pytest.fixture(scope="module")
def targets(module_tmp: Path) -> dict[str, Target]:
    return build_targets(module_tmp)


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    reader = Oracle()
    yield reader
    reader.close()


def _ask(oracle: Oracle, target: Target) -> dict[str, object]:
    return oracle.ask(
        path=str(target.path), layer="l", mag="1", offset=target.offset, size=target.size
    )


OPTIONAL_CODECS = [
    codec
    for codec, module in (
        (("compresso", "segmentation", "uint32", "compresso", 1), "compresso"),
        (("jxl", "color", "uint8", "jxl", 1), "imagecodecs"),
    )
    if importlib.util.find_spec(module) is not None
]
TARGETS = [
    "wkw_raw",
    "wkw_lz4",
    "raw_uint16",
    "raw_gz",
    "cseg_uint32",
    "cseg_uint64",
    "cseg_32bit_block",
    "jpeg",
    "png_uint8",
    "png_uint16",
    "sharded_raw",
    "sharded_gzip",
    *(codec[0] for codec in OPTIONAL_CODECS),
]


@pytest.mark.parametrize("name", TARGETS)
def test_intact_targets_read_back(name: str, targets: dict[str, Target]) -> None:
    """The baseline: unmodified files decode to what was written (32-bit cseg block included)."""
    target = targets[name]
    got = Dataset.open(target.path).get_layer("l").get_mag(1).read(size=target.size)
    assert np.array_equal(got[0], target.expected)


U64_VALUES = [0, 1, 2**31, 2**32 - 1, 2**33, 2**40, 2**62, 2**64 - 1]
#: Edits of stored bytes, independent of the target (positions wrap around its length):
#: ("byte", in the header region?, position, value), ("u64", 8-byte slot of the header region,
#: value); then cut at a position (or not) and append bytes.
PLANS = st.fixed_dictionaries(
    {
        "ops": st.lists(
            st.one_of(
                st.tuples(
                    st.just("byte"),
                    st.booleans(),
                    st.integers(0, 2**20),
                    st.one_of(st.sampled_from([0, 0xFF, 0x7F, 0x80, 1]), st.integers(0, 255)),
                ),
                st.tuples(st.just("u64"), st.integers(0, 2**10), st.sampled_from(U64_VALUES)),
            ),
            max_size=8,
        ),
        "cut": st.one_of(st.none(), st.none(), st.none(), st.integers(0, 2**20)),
        "append": st.one_of(st.just(b""), st.just(b""), st.binary(min_size=1, max_size=64)),
    }
)
#: Known triggers, tried first on every target: the WKW block-length byte, an index entry
#: pointing 1 TiB into the file (shard index entry 0's end, a WKW data offset).
KNOWN_PLANS = [
    {"ops": [("byte", True, 4, 0xFF)], "cut": None, "append": b""},
    {"ops": [("u64", 1, 2**40)], "cut": None, "append": b""},
]


def apply_plan(plan: dict[str, object], original: bytes, hot: int) -> bytes:
    """The bytes after the edits of `plan` (see `PLANS`)."""
    data = bytearray(original)
    for op in plan["ops"]:  # type: ignore[attr-defined]
        head = min(hot, len(data))
        if op[0] == "byte":
            _, in_head, position, value = op
            limit = head if in_head and head else len(data)
            if limit:
                data[position % limit] = value
        elif head >= 8:
            _, slot, value = op
            at = 8 * (slot % (head // 8))
            data[at : at + 8] = value.to_bytes(8, "little")
    if plan["cut"] is not None:
        del data[plan["cut"] % (len(data) + 1) :]  # type: ignore[operator]
    return bytes(data) + plan["append"]  # type: ignore[operator]


SHARD_RANGE_UNBOUNDED = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: a shard (or minishard) index entry pointing past the end of the shard file makes "
    "FileKVStore.get_range read(end - start) unclipped: MemoryError instead of CorruptChunkError",
)
WKW_HEADER_UNCHECKED = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: WKWArray hands shard files to the native wkw library without checking their "
    "16-byte header against header.wkw (or their length): a changed block-length byte aborts "
    "the interpreter (SIGABRT, 'memory allocation of ... bytes failed'), a zeroed or cut header "
    "reads as all zeros, a zeroed data offset as garbage; expected CorruptChunkError naming the file",
)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=WKW_HEADER_UNCHECKED)
        if name.startswith("wkw")
        else pytest.param(name, marks=SHARD_RANGE_UNBOUNDED)
        if name.startswith("sharded")
        else name
        for name in TARGETS
    ],
)
@FUZZ
@given(plan=PLANS)
@example(plan=KNOWN_PLANS[0])
@example(plan=KNOWN_PLANS[1])
def test_fuzz_stored_bytes(
    name: str,
    plan: dict[str, object],
    targets: dict[str, Target],
    oracle: Oracle,
    stats: Counter[str],
) -> None:
    target = targets[name]
    corrupted = apply_plan(plan, target.original, target.hot)
    target.file.write_bytes(corrupted)
    stats[f"fuzz examples: stored bytes ({name})"] += 1
    try:
        answer = _ask(oracle, target)
    finally:
        target.file.write_bytes(target.original)
    assert acceptable(answer), f"{target.file.name} ({len(corrupted)} bytes): {describe(answer)}"


# -- WKW specifics ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["wkw_raw", "wkw_lz4"])
@WKW_HEADER_UNCHECKED
def test_wkw_zeroed_header_raises_corrupt_chunk_error(
    name: str, targets: dict[str, Target], oracle: Oracle
) -> None:
    """The corrupt-header shard that the webknossos package silently reads as zeros."""
    target = targets[name]
    target.file.write_bytes(bytes(16) + target.original[16:])
    try:
        answer = _ask(oracle, target)
    finally:
        target.file.write_bytes(target.original)
    assert answer["status"] == "raised", f"expected CorruptChunkError, got {describe(answer)}"
    assert answer["type"] == CorruptChunkError.__name__, describe(answer)
    assert str(target.file) in str(answer["message"]), "the error must name the shard file"


@pytest.mark.parametrize(
    ("name", "keep"),
    [
        pytest.param("wkw_raw", 0, marks=WKW_HEADER_UNCHECKED),
        pytest.param("wkw_raw", 8, marks=WKW_HEADER_UNCHECKED),
        ("wkw_raw", 16),
        ("wkw_raw", "half"),
        ("wkw_raw", "all but 1"),
        pytest.param("wkw_lz4", 0, marks=WKW_HEADER_UNCHECKED),
        pytest.param("wkw_lz4", 8, marks=WKW_HEADER_UNCHECKED),
        pytest.param("wkw_lz4", 16, marks=WKW_HEADER_UNCHECKED),
        ("wkw_lz4", 80),
        ("wkw_lz4", "half"),
        ("wkw_lz4", "all but 1"),
    ],
)
def test_wkw_truncated_shard_raises_corrupt_chunk_error(
    name: str, keep: int | str, targets: dict[str, Target], oracle: Oracle
) -> None:
    target = targets[name]
    original = target.original
    length = {"half": len(original) // 2, "all but 1": len(original) - 1}.get(keep, keep)
    assert isinstance(length, int)
    target.file.write_bytes(original[:length])
    try:
        answer = _ask(oracle, target)
    finally:
        target.file.write_bytes(original)
    assert answer["status"] == "raised", f"expected CorruptChunkError, got {describe(answer)}"
    assert answer["type"] == CorruptChunkError.__name__, describe(answer)
    assert str(target.file) in str(answer["message"]), "the error must name the shard file"


@pytest.mark.parametrize(
    ("name", "position", "value"),
    [
        pytest.param("wkw_raw", 4, 0x1F, marks=WKW_HEADER_UNCHECKED),  # SIGABRT
        pytest.param("wkw_raw", 4, 0xFF, marks=WKW_HEADER_UNCHECKED),  # SIGABRT
        pytest.param("wkw_raw", 4, 0x00, marks=WKW_HEADER_UNCHECKED),  # garbage
        pytest.param("wkw_raw", 8, 0x00, marks=WKW_HEADER_UNCHECKED),  # garbage
        pytest.param("wkw_raw", 5, 0x00, marks=WKW_HEADER_UNCHECKED),  # zeros
        pytest.param("wkw_lz4", 4, 0x1F, marks=WKW_HEADER_UNCHECKED),  # SIGABRT
        pytest.param("wkw_lz4", 4, 0xFF, marks=WKW_HEADER_UNCHECKED),  # SIGABRT
        pytest.param("wkw_lz4", 8, 0x00, marks=WKW_HEADER_UNCHECKED),  # Rust panic, abort
        pytest.param("wkw_lz4", 6, 0x00, marks=WKW_HEADER_UNCHECKED),  # zeros
        ("wkw_lz4", 4, 0x00),
    ],
)
def test_wkw_shard_header_field_mismatch(
    name: str, position: int, value: int, targets: dict[str, Target], oracle: Oracle
) -> None:
    """One byte of a shard file's header disagrees with `header.wkw` (4: log2 block and file
    length, 5: block type, 6: voxel type, 8: data offset): CorruptChunkError naming the file,
    not zeros, garbage or a dead interpreter."""
    target = targets[name]
    original = target.original
    target.file.write_bytes(original[:position] + bytes([value]) + original[position + 1 :])
    try:
        answer = _ask(oracle, target)
    finally:
        target.file.write_bytes(original)
    assert answer["status"] == "raised", describe(answer)
    assert answer["type"] == CorruptChunkError.__name__, describe(answer)
    assert str(target.file) in str(answer["message"]), "the error must name the shard file"


def test_wkw_header_file_is_checked(targets: dict[str, Target], tmp_path: Path) -> None:
    """A damaged `header.wkw` (the mag's own header) is reported, naming the file."""
    target = targets["wkw_raw"]
    copy = tmp_path / "copy"
    shutil.copytree(target.path, copy)
    (copy / "l/1/header.wkw").write_bytes(bytes(16))
    with pytest.raises(CorruptChunkError, match=r"header\.wkw"):
        Dataset.open(copy).get_layer("l").get_mag(1).read(size=(8, 8, 8))


@pytest.mark.parametrize("name", ["sharded_raw", "sharded_gzip"])
@pytest.mark.parametrize("end", [2**33, 2**40, 2**64 - 1])
@SHARD_RANGE_UNBOUNDED
def test_shard_index_entry_past_end_of_file(
    name: str, end: int, targets: dict[str, Target], oracle: Oracle
) -> None:
    """Shard index entry 0 ends far beyond the file: CorruptChunkError naming the shard."""
    target = targets[name]
    corrupted = bytearray(target.original)
    corrupted[8:16] = end.to_bytes(8, "little")
    target.file.write_bytes(corrupted)
    try:
        answer = _ask(oracle, target)
    finally:
        target.file.write_bytes(target.original)
    assert answer["status"] == "raised", describe(answer)
    assert answer["type"] == CorruptChunkError.__name__, describe(answer)
    assert target.file.name in str(answer["message"]), "the error must name the shard file"
