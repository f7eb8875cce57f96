"""Corrupt shards and hostile metadata end in this library's errors naming the file."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like.errors import (
    CorruptChunkError,
    InvalidPropertiesError,
    StorageError,
    UnsupportedFormatError,
)
from webknossos_like.geometry import BoundingBox, Vec3Int
from webknossos_like.storage.zarr3.array import Zarr3Array

ALL = BoundingBox((0, 0, 0), (32, 32, 32))


def written(path: Path, *, shard: int = 32, compressed: bool = True) -> Zarr3Array:
    array = Zarr3Array.create(
        path,
        dtype="uint16",
        num_channels=1,
        chunk_shape=Vec3Int(16),
        shard_shape=Vec3Int(shard),
        compressed=compressed,
    )
    rng = np.random.default_rng(0)
    array.write(Vec3Int(0, 0, 0), rng.integers(0, 999, (1, 32, 32, 32), dtype=np.uint16))
    return array


def shard_file(array: Zarr3Array) -> Path:
    return array.path / "c" / "0" / "0" / "0" / "0"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) - 7], id="truncated"),
        pytest.param(lambda b: b[:-20] + bytes([b[-20] ^ 0xFF]) + b[-19:], id="bad-index-crc"),
        pytest.param(lambda b: b[:100] + bytes([b[100] ^ 0xFF]) + b[101:], id="bad-zstd-payload"),
        pytest.param(lambda b: b"", id="empty"),
    ],
)
def test_corrupt_shard_is_corrupt_chunk_error(tmp_path: Path, damage: Any) -> None:
    array = written(tmp_path / "a")
    file = shard_file(array)
    file.write_bytes(damage(file.read_bytes()))
    reopened = Zarr3Array(array.path, read_only=True)
    with pytest.raises(CorruptChunkError, match=re.escape(str(file))):
        reopened.read(ALL)


def test_corrupt_unsharded_chunk(tmp_path: Path) -> None:
    array = written(tmp_path / "a", shard=16)
    file = shard_file(array)
    file.write_bytes(file.read_bytes()[:-5])
    with pytest.raises(CorruptChunkError, match=re.escape(str(file))):
        Zarr3Array(array.path).read(ALL)


def test_missing_shard_reads_zero(tmp_path: Path) -> None:
    array = written(tmp_path / "a")
    shard_file(array).unlink()
    assert not Zarr3Array(array.path).read(ALL).any()


def test_no_array(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="neither"):
        Zarr3Array(tmp_path)


def _valid(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    array = written(tmp_path / "a")
    return array.path / "zarr.json", json.loads((array.path / "zarr.json").read_text())


def _set(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    *parents, last = dotted.split(".")
    node: Any = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()
SHARD_CONFIG = "codecs.0.configuration"
HOSTILE: dict[str, tuple[str, Any]] = {
    "zarr-format-2": ("zarr_format", 2),
    "group": ("node_type", "group"),
    "shape-strings": ("shape", ["1", "2", "3", "4"]),
    "shape-negative": ("shape", [1, -5, 3, 3]),
    "shape-huge": ("shape", [1, 2**62, 2**62, 2**62]),
    "shape-float": ("shape", [1, 3.5, 3, 3]),
    "shape-6d": ("shape", [1, 1, 1, 1, 1, 1]),
    "shape-not-list": ("shape", {"x": 1}),
    "dtype-complex": ("data_type", "complex64"),
    "dtype-string": ("data_type", "string"),
    "dtype-missing": ("data_type", _DELETE),
    "codecs-missing": ("codecs", _DELETE),
    "codecs-empty": ("codecs", []),
    "codec-unknown": ("codecs", [{"name": "evil"}]),
    "codec-not-object": ("codecs", ["bytes"]),
    "grid-irregular": ("chunk_grid.name", "rectilinear"),
    "grid-zero": ("chunk_grid.configuration.chunk_shape", [1, 0, 32, 32]),
    "grid-huge": ("chunk_grid.configuration.chunk_shape", [1, 2**31, 2**31, 1]),
    "inner-huge": (f"{SHARD_CONFIG}.chunk_shape", [1, 2048, 2048, 2048]),
    "inner-not-dividing": (f"{SHARD_CONFIG}.chunk_shape", [1, 12, 16, 16]),
    "inner-codecs-missing": (f"{SHARD_CONFIG}.codecs", _DELETE),
    "index-codecs-missing": (f"{SHARD_CONFIG}.index_codecs", _DELETE),
    "fill-value-string": ("fill_value", "zero"),
    "dimension-names-short": ("dimension_names", ["c", "x"]),
    "key-encoding-unknown": ("chunk_key_encoding", {"name": "hash"}),
    "key-separator-bad": (
        "chunk_key_encoding",
        {"name": "default", "configuration": {"separator": "\\"}},
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_zarr_json(tmp_path: Path, case: str) -> None:
    file, doc = _valid(tmp_path)
    key, value = HOSTILE[case]
    file.write_text(json.dumps(_set(doc, key, value)))
    with pytest.raises(
        (UnsupportedFormatError, InvalidPropertiesError), match=re.escape(str(file))
    ):
        Zarr3Array(file.parent).read(ALL)


def test_many_chunks_per_shard_refused(tmp_path: Path) -> None:
    file, doc = _valid(tmp_path)
    doc = _set(doc, "chunk_grid.configuration.chunk_shape", [1, 4096, 4096, 4096])
    doc = _set(doc, f"{SHARD_CONFIG}.chunk_shape", [1, 1, 1, 1])
    file.write_text(json.dumps(doc))
    with pytest.raises(UnsupportedFormatError, match="chunks"):
        Zarr3Array(file.parent)


def test_tensorstore_refusal_is_ours(tmp_path: Path) -> None:
    """Metadata our checks let through but tensorstore rejects (a bad transpose order)."""
    file, doc = _valid(tmp_path)
    inner = doc["codecs"][0]["configuration"]["codecs"]
    inner[0]["configuration"]["order"] = [0, 0, 0, 0]
    file.write_text(json.dumps(doc))
    with pytest.raises(UnsupportedFormatError, match=re.escape(str(file))):
        Zarr3Array(file.parent).read(ALL)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        b"{" + b" " * (2 << 20) + b"}",
    ],
    ids=["empty", "text", "list", "binary", "deep", "huge"],
)
def test_unparsable_zarr_json(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "zarr.json").write_bytes(content)
    with pytest.raises(
        (UnsupportedFormatError, InvalidPropertiesError),
        match=re.escape(str(tmp_path / "zarr.json")),
    ):
        Zarr3Array(tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        {"dtype": "|O"},
        {"dtype": "<U10"},
        {"dtype": "<c8"},
        {"dtype": ["a", "b"]},
        {"filters": [{"id": "delta"}]},
        {"compressor": {"id": "evil"}},
        {"chunks": [1, 0, 1, 1]},
        {"chunks": [1, 65536, 65536, 65536]},
        {"order": "X"},
        {"zarr_format": 3},
    ],
    ids=lambda c: next(iter(c)) + "=" + str(next(iter(c.values())))[:12],
)
def test_hostile_zarray(tmp_path: Path, change: dict[str, Any]) -> None:
    doc = {
        "zarr_format": 2,
        "shape": [1, 8, 8, 8],
        "chunks": [1, 8, 8, 8],
        "dtype": "<u2",
        "compressor": None,
        "filters": None,
        "fill_value": 0,
        "order": "C",
    }
    (tmp_path / ".zarray").write_text(json.dumps({**doc, **change}))
    with pytest.raises(
        (UnsupportedFormatError, InvalidPropertiesError), match=re.escape(str(tmp_path / ".zarray"))
    ):
        Zarr3Array(tmp_path)


def test_error_classification() -> None:
    from webknossos_like.errors import CorruptChunkError as Corrupt
    from webknossos_like.storage.zarr3.errors import wrap_tensorstore_error

    corrupt = wrap_tensorstore_error(
        ValueError('DATA_LOSS: Error reading shard entry in local file "/d/c/0/0/0/0": Digest'),
        "reading",
        "/d",
    )
    assert isinstance(corrupt, Corrupt) and str(corrupt).startswith("/d/c/0/0/0/0:")
    denied = wrap_tensorstore_error(
        ValueError('PERMISSION_DENIED: Error reading shard entry in local file "/d/c/0"'),
        "reading",
        "/d",
    )
    assert isinstance(denied, StorageError) and not isinstance(denied, Corrupt)
