"""Hostile input: decompression bombs, extreme metadata values, WKW headers with huge blocks.

Each case must end in a value or an exception of `webknossos_like.errors` - never `MemoryError`,
another built-in exception, a hang or an abort of the interpreter. Reads that could exhaust
memory or crash run in the oracle process (`_oracle.py`: 3 GiB address-space cap, 30 s answer
limit); the rest run here.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from webknossos_like import Dataset
from webknossos_like.errors import (
    CorruptChunkError,
    InvalidPropertiesError,
    UnsupportedFormatError,
    WebknossosLikeError,
)
from webknossos_like.storage.precomputed.info import loads_info
from webknossos_like.storage.precomputed.sharding import (
    ShardingSpec,
    encode_shard,
    parse_shard,
)

from ._oracle_client import Oracle, acceptable, describe
from ._wkw_header import set_wkw_geometry

PRECOMPUTED = "neuroglancerPrecomputed"
Doc = dict[str, Any]

BOMBS = pytest.mark.regression(
    reason="bug: gzip chunks (`<chunk>.gz`), `info.gz` and gzip shard payloads and minishard "
    "indexes were inflated whole (gzip.decompress) and raw chunk files read whole before "
    "their size was checked: a 3 MB bomb or a sparse 1 TiB file ended in MemoryError",
)
LEVELS = pytest.mark.regression(
    reason="bug: precomputed jpeg_quality / png_level were not validated when `info` was parsed: "
    "'high', [1], NaN or Infinity made writes raise TypeError, ValueError or OverflowError",
)
HUGE_READS = pytest.mark.regression(
    reason="bug: a full read of a layer whose box is huge (info size 2^40 per axis, WKW "
    "topLeft -2^40, WKW box 2^31 per axis) allocated first: 'array is too big', MemoryError "
    "or a read that never returned; now boxes are validated at parse time and reads above "
    "the read cap raise InvalidArgumentError before allocating",
)
LONG_PATHS = pytest.mark.regression(
    reason="bug: a 5,000-character mag path from the properties reached the OS: raw "
    "OSError(ENAMETOOLONG) instead of InvalidPropertiesError",
)
WKW_HEADER = pytest.mark.regression(
    reason="bug: a header.wkw (and matching shard files) declaring a large block length "
    "(nibble up to 15, i.e. 2^15 voxels per edge) made the native wkw library allocate "
    "block_len^3 * voxel_size bytes and abort the interpreter (SIGABRT)",
)


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    reader = Oracle()
    yield reader
    reader.close()


def assert_ours(answer: dict[str, Any], *expected: str) -> None:
    """An acceptable oracle answer; with `expected`, an exception of one of those classes."""
    assert acceptable(answer), describe(answer)
    if expected:
        assert answer["status"] == "raised" and answer["type"] in expected, describe(answer)


def gzip_bomb(nbytes: int, member: int = 64 << 20) -> bytes:
    """Gzip data (several members) inflating to `nbytes` zero bytes: ~1 KB per MiB."""
    one = gzip.compress(bytes(member), compresslevel=9, mtime=0)
    return one * (nbytes // member)


BOMB_SIZE = 3 << 30  # 3 GiB: more than the oracle may allocate


# -- 13: decompression bombs and huge files ---------------------------------------------------


def _precomputed_dataset(root: Path, **mag_options: Any) -> tuple[Path, Path]:
    """A dataset with one written precomputed uint8 layer; (dataset path, scale folder)."""
    ds = Dataset(root, voxel_size=(1, 1, 1))
    layer = ds.add_layer("pre", "color", dtype="uint8", data_format=PRECOMPUTED)
    mag = layer.add_mag(1, chunk_shape=32, **mag_options)
    mag.write(np.full((64, 32, 32), 7, np.uint8))
    scales = [p for p in layer.path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(scales) == 1
    return ds.path, scales[0]


def _chunk_files(scale: Path) -> list[Path]:
    return sorted(p for p in scale.rglob("*") if p.is_file() and not p.name.startswith("."))


@BOMBS
def test_gzip_chunk_bomb(fast_tmp: Path, oracle: Oracle) -> None:
    """A 3 MB `<chunk>.gz` inflating to 3 GiB: CorruptChunkError, not MemoryError."""
    path, scale = _precomputed_dataset(fast_tmp / "ds", encoding="raw")
    chunk = _chunk_files(scale)[0]
    chunk.unlink()
    chunk.with_name(chunk.name + ".gz").write_bytes(gzip_bomb(BOMB_SIZE))
    assert_ours(oracle.ask(path=str(path), full=True), "CorruptChunkError")


@BOMBS
def test_sparse_raw_chunk_of_one_tebibyte(fast_tmp: Path, oracle: Oracle) -> None:
    """A raw chunk file with an apparent size of 1 TiB is refused unread."""
    path, scale = _precomputed_dataset(fast_tmp / "ds", encoding="raw")
    with open(_chunk_files(scale)[0], "r+b") as handle:
        handle.truncate(1 << 40)
    assert_ours(oracle.ask(path=str(path), full=True), "CorruptChunkError")


@BOMBS
def test_info_gz_bomb(fast_tmp: Path, oracle: Oracle) -> None:
    """A precomputed layer whose `info.gz` (read when there is no plain `info`) inflates to
    3 GiB."""
    path, scale = _precomputed_dataset(fast_tmp / "ds", encoding="raw")
    (scale.parent / "info").unlink()
    (scale.parent / "info.gz").write_bytes(gzip_bomb(BOMB_SIZE))
    assert_ours(oracle.ask(path=str(path), full=True), "CorruptChunkError")


def _sharded(root: Path) -> tuple[Path, Path, ShardingSpec]:
    path, scale = _precomputed_dataset(root, encoding="raw", sharded=True, compress=True)
    info = json.loads((scale.parent / "info").read_text())
    (entry,) = [s for s in info["scales"] if s["key"] == scale.name]
    spec = ShardingSpec.from_json(entry["sharding"])
    assert spec.data_encoding == "gzip", spec
    (shard,) = [p for p in _chunk_files(scale) if p.name.endswith(".shard")]
    return path, shard, spec


@BOMBS
def test_sharded_gzip_chunk_bomb(fast_tmp: Path, oracle: Oracle) -> None:
    """A shard whose gzip chunk payload inflates to 3 GiB."""
    path, shard, spec = _sharded(fast_tmp / "ds")
    chunks = parse_shard(shard.read_bytes(), spec)
    bomb = gzip_bomb(BOMB_SIZE)
    # Stored as given ("raw" data encoding), read back as the gzip the spec declares.
    as_stored = attrs.evolve(spec, data_encoding="raw")
    shard.write_bytes(encode_shard(dict.fromkeys(chunks, bomb), as_stored))
    assert_ours(oracle.ask(path=str(path), full=True), "CorruptChunkError")


@BOMBS
def test_sharded_minishard_index_bomb(fast_tmp: Path, oracle: Oracle) -> None:
    """A shard whose every minishard index is one gzip stream inflating to 3 GiB."""
    path, shard, spec = _sharded(fast_tmp / "ds")
    bomb = gzip_bomb(BOMB_SIZE)
    if spec.minishard_index_encoding != "gzip":
        pytest.skip("the layer's minishard indexes are not gzip")
    entry = (0).to_bytes(8, "little") + len(bomb).to_bytes(8, "little")
    shard.write_bytes(entry * spec.num_minishards + bomb)
    assert_ours(oracle.ask(path=str(path), full=True), "CorruptChunkError")


# -- 14: hostile metadata values --------------------------------------------------------------

HOSTILE_LEVELS = ["high", [1], float("nan"), float("inf"), -float("inf"), True, 101, -1, 2**64]


@pytest.mark.parametrize("name", ["jpeg_quality", "png_level"])
@pytest.mark.parametrize("value", HOSTILE_LEVELS, ids=repr)
@LEVELS
def test_hostile_quality_and_level(name: str, value: Any, fast_tmp: Path) -> None:
    """A write through a layer whose `info` has a hostile level raises a library error."""
    encoding = "jpeg" if name == "jpeg_quality" else "png"
    ds = Dataset(fast_tmp / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("img", "color", dtype="uint8", data_format=PRECOMPUTED)
    layer.add_mag(1, chunk_shape=16, encoding=encoding)
    info_path = layer.path / "info"
    info = json.loads(info_path.read_text())
    for scale in info["scales"]:
        scale[name] = value
    text = json.dumps(info)
    info_path.write_text(text)
    with pytest.raises(InvalidPropertiesError, match=name):
        loads_info(text, path=info_path)
    try:
        Dataset.open(ds.path).get_layer("img").get_mag(1).write(np.ones((16, 16, 16), np.uint8))
    except WebknossosLikeError:
        pass
    else:
        pytest.fail(f"{name}={value!r} was accepted")


@pytest.mark.parametrize("level", [0, 50, 100])
def test_valid_quality_still_accepted(level: int) -> None:
    """Integers in range stay valid (png_level up to 9)."""
    doc = {
        "type": "image",
        "data_type": "uint8",
        "num_channels": 1,
        "scales": [
            {
                "key": "1",
                "size": [16, 16, 16],
                "resolution": [1, 1, 1],
                "chunk_sizes": [[16, 16, 16]],
                "encoding": "jpeg",
                "jpeg_quality": level,
                "png_level": level // 12,
            }
        ],
    }
    scale = loads_info(json.dumps(doc)).scales[0]
    assert (scale.jpeg_quality, scale.png_level) == (level, level // 12)


def _wkw_dataset(root: Path) -> Path:
    ds = Dataset(root, voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype="uint8")
    layer.add_mag(1, chunk_shape=16, shard_shape=32).write(np.ones((32, 32, 32), np.uint8))
    return ds.path


def _edit_properties(path: Path, change: Callable[[Doc], Any]) -> None:
    target = path / "datasource-properties.json"
    doc = json.loads(target.read_text())
    change(doc)
    target.write_text(json.dumps(doc))


def _box(layer: Doc, top_left: list[int], size: list[int]) -> None:
    layer["boundingBox"] = {
        "topLeft": top_left,
        "width": size[0],
        "height": size[1],
        "depth": size[2],
    }


HUGE_WKW_PROPERTIES: dict[str, Callable[[Doc], Any]] = {
    "topLeft -2^40": lambda d: _box(d["dataLayers"][0], [-(2**40)] * 3, [32, 32, 32]),
    "box 2^31 per axis": lambda d: _box(d["dataLayers"][0], [0, 0, 0], [2**31] * 3),
    "box 2^40 per axis": lambda d: _box(d["dataLayers"][0], [0, 0, 0], [2**40] * 3),
    "topLeft 2^62": lambda d: _box(d["dataLayers"][0], [2**62] * 3, [1, 1, 1]),
}


@pytest.mark.parametrize("case", list(HUGE_WKW_PROPERTIES))
@HUGE_READS
def test_huge_wkw_boxes(case: str, fast_tmp: Path, oracle: Oracle) -> None:
    """A full read of a WKW layer with an extreme box: a library error, at once."""
    path = _wkw_dataset(fast_tmp / "ds")
    _edit_properties(path, HUGE_WKW_PROPERTIES[case])
    assert_ours(
        oracle.ask(path=str(path), full=True), "InvalidPropertiesError", "InvalidArgumentError"
    )


@HUGE_READS
def test_huge_precomputed_size(fast_tmp: Path, oracle: Oracle) -> None:
    """An `info` of 2^40 voxels per axis: the full read is refused before allocating."""
    _, scale = _precomputed_dataset(fast_tmp / "ds", encoding="raw")
    bare = fast_tmp / "bare"
    shutil.copytree(scale.parent, bare)
    info = json.loads((bare / "info").read_text())
    info["scales"][0]["size"] = [2**40] * 3
    (bare / "info").write_text(json.dumps(info))
    answer = oracle.ask(path=str(bare), full=True)
    assert_ours(answer, "InvalidArgumentError")
    assert "sub-box" in answer["message"] and "bytes" in answer["message"], answer["message"]


@HUGE_READS
def test_read_cap_is_configurable(fast_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`WKL_MAX_READ_BYTES` sets the cap; reads up to it work, larger ones name the box."""
    from webknossos_like.errors import InvalidArgumentError

    path = _wkw_dataset(fast_tmp / "ds")
    mag = Dataset.open(path).get_layer("color").get_mag(1)
    monkeypatch.setenv("WKL_MAX_READ_BYTES", str(32**3))
    assert mag.read().shape == (1, 32, 32, 32)
    with pytest.raises(InvalidArgumentError, match="read a sub-box"):
        mag.read(absolute_offset=(0, 0, 0), size=(33, 32, 32))


@LONG_PATHS
@pytest.mark.parametrize("length", [5000, 1100])
def test_long_mag_path(length: int, fast_tmp: Path, oracle: Oracle) -> None:
    path = _wkw_dataset(fast_tmp / "ds")
    long_path = "/".join(["x" * 99] * math.ceil(length / 100))[:length]
    _edit_properties(path, lambda d: d["dataLayers"][0]["mags"][0].update(path=long_path))
    assert_ours(oracle.ask(path=str(path), full=True), "InvalidPropertiesError")


@LONG_PATHS
def test_long_scale_key(fast_tmp: Path, oracle: Oracle) -> None:
    _, scale = _precomputed_dataset(fast_tmp / "ds", encoding="raw")
    bare = fast_tmp / "bare"
    shutil.copytree(scale.parent, bare)
    info = json.loads((bare / "info").read_text())
    info["scales"][0]["key"] = "/".join(["k" * 99] * 50)
    (bare / "info").write_text(json.dumps(info))
    assert_ours(oracle.ask(path=str(bare), full=True), "InvalidPropertiesError")


@LONG_PATHS
@pytest.mark.parametrize("shape", ["one 5000-character name", "30 segments of 200"])
def test_long_dataset_path(shape: str, tmp_path: Path) -> None:
    """An over-long dataset path passed to `Dataset.open` raises StorageError, not OSError."""
    from webknossos_like.errors import StorageError

    tail = "x" * 5000 if shape.startswith("one") else "/".join(["y" * 200] * 30)
    with pytest.raises(StorageError, match="too long"):
        Dataset.open(tmp_path / tail)


# -- 15: WKW headers declaring huge blocks or files -------------------------------------------


WKW_GEOMETRIES = {
    "block 2^15": (15, 0),
    "block 2^11": (11, 0),
    "block 2^10": (10, 0),
    "file 2^10 blocks per edge": (4, 10),
}


@pytest.mark.parametrize("case", list(WKW_GEOMETRIES))
@WKW_HEADER
def test_wkw_header_huge_block_or_file(case: str, fast_tmp: Path, oracle: Oracle) -> None:
    path = _wkw_dataset(fast_tmp / "ds")
    set_wkw_geometry(path / "color" / "1", *WKW_GEOMETRIES[case])
    assert_ours(oracle.ask(path=str(path), full=True), "UnsupportedFormatError")


@pytest.mark.parametrize(("block_log2", "file_log2"), [(9, 0), (8, 8), (5, 8)])
def test_wkw_largest_accepted_geometry_reads(
    block_log2: int, file_log2: int, fast_tmp: Path, oracle: Oracle
) -> None:
    """Within the limits (blocks up to 256 MiB, up to 2^8 blocks per file edge) the native
    library reads such shard files without aborting (data or a clean error)."""
    path = _wkw_dataset(fast_tmp / "ds")
    set_wkw_geometry(path / "color" / "1", block_log2, file_log2)
    assert_ours(oracle.ask(path=str(path), offset=[0, 0, 0], size=[8, 8, 8]))


def test_wkw_create_refuses_what_it_could_not_read(fast_tmp: Path) -> None:
    """The same limits apply when creating a mag: no header the native reader aborts on."""
    ds = Dataset(fast_tmp / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype="uint32")
    with pytest.raises(UnsupportedFormatError):
        layer.add_mag(1, chunk_shape=1024, shard_shape=1024)


WKW_FUZZ = settings(
    max_examples=40,
    deadline=timedelta(seconds=60),
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def wkw_template(module_tmp: Path) -> Path:
    return _wkw_dataset(module_tmp / "template")


@WKW_HEADER
@WKW_FUZZ
@given(block_log2=st.integers(0, 15), file_log2=st.integers(0, 15))
def test_fuzz_wkw_header_geometry(
    block_log2: int,
    file_log2: int,
    wkw_template: Path,
    module_tmp: Path,
    oracle: Oracle,
    stats: Counter[str],
) -> None:
    """Any block/file length nibble pair (shard files kept consistent): a full read gives data
    or a library error."""
    path = module_tmp / "wkw-fuzz"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(wkw_template, path)
    set_wkw_geometry(path / "color" / "1", block_log2, file_log2)
    stats["fuzz examples: WKW header block/file length"] += 1
    assert_ours(oracle.ask(path=str(path), full=True))


# -- the bounded readers themselves -----------------------------------------------------------


@BOMBS
def test_bounded_gunzip_matches_gzip_and_stops_at_the_cap() -> None:
    """Multi-member streams and trailing zero padding decode like `gzip.decompress`; output
    past the cap, truncation and garbage raise `CorruptChunkError`."""
    from webknossos_like.storage.precomputed._inflate import gunzip_bounded

    payload = gzip.compress(b"abc" * 1000) + gzip.compress(b"def") + bytes(8)
    assert gunzip_bounded(payload, "x", 3003) == gzip.decompress(payload)
    with pytest.raises(CorruptChunkError, match="x"):
        gunzip_bounded(payload, "x", 3002)
    with pytest.raises(CorruptChunkError):
        gunzip_bounded(payload[:20], "x", 10**6)
    with pytest.raises(CorruptChunkError):
        gunzip_bounded(gzip.compress(b"abc") + b"garbage", "x", 10**6)
    with pytest.raises(CorruptChunkError, match="bomb"):
        gunzip_bounded(gzip_bomb(1 << 30, member=16 << 20), "bomb", 1 << 20)


@BOMBS
def test_file_store_caps(fast_tmp: Path) -> None:
    """`FileKVStore.get(..., max_size=)`: a huge cap allocates nothing extra; a file above the
    cap (plain or `.gz`) is refused by size, naming it."""
    from webknossos_like.storage.precomputed.kvstore import FileKVStore

    store = FileKVStore(fast_tmp)
    (fast_tmp / "small").write_bytes(b"12345")
    assert store.get("small", max_size=2**62) == b"12345"
    assert store.get("small", max_size=5) == b"12345"
    with pytest.raises(CorruptChunkError, match="small"):
        store.get("small", max_size=4)
    (fast_tmp / "zipped.gz").write_bytes(gzip.compress(b"z" * 100))
    assert store.get("zipped", max_size=100) == b"z" * 100
    with pytest.raises(CorruptChunkError, match=r"zipped\.gz"):
        store.get("zipped", max_size=99)
    with open(fast_tmp / "sparse", "wb") as handle:
        handle.truncate(1 << 40)
    with pytest.raises(CorruptChunkError, match="sparse"):
        store.get("sparse", max_size=1 << 20)


_SWAP_SCRIPT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from pathlib import Path
from webknossos_like import Dataset
from tests.reliability._wkw_header import set_wkw_geometry
path = Path(sys.argv[1])
mag = Dataset.open(path).get_layer("color").get_mag(1)  # header parsed: 16^3 blocks
set_wkw_geometry(path / "color" / "1", 15, 0)  # then header.wkw and shards swapped
try:
    mag.read()
except Exception as exc:
    print(type(exc).__name__)
else:
    print("ok")
"""


@WKW_HEADER
def test_wkw_header_swapped_after_open(fast_tmp: Path) -> None:
    """A `header.wkw` (and shard files) rewritten with huge blocks after the mag was opened:
    the shard check compares against the parsed header, the native library is never reached."""
    import subprocess
    import sys

    path = _wkw_dataset(fast_tmp / "ds")
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _SWAP_SCRIPT, str(path)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-800:]
    # Refused by the shard check, or by the header parsed again when the mag notices the change.
    assert done.stdout.strip() in ("CorruptChunkError", "UnsupportedFormatError"), (
        done.stdout + done.stderr[-800:]
    )


@pytest.mark.parametrize("name", ["jpeg_quality", "png_level"])
@pytest.mark.parametrize("value", HOSTILE_LEVELS, ids=repr)
@LEVELS
def test_codec_refuses_hostile_levels(name: str, value: Any) -> None:
    """The codec layer checks the same rule for direct callers: InvalidArgumentError."""
    from webknossos_like.errors import InvalidArgumentError
    from webknossos_like.storage.precomputed.codecs import encode_chunk

    encoding = "jpeg" if name == "jpeg_quality" else "png"
    with pytest.raises(InvalidArgumentError, match=name):
        encode_chunk(np.zeros((1, 4, 4, 4), np.uint8), encoding, **{name: value})
