"""Sharded precomputed interop with tensorstore, in both directions (raw uint16 chunks)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like.storage.precomputed.sharding import (
    LocalRangeReader,
    ShardingSpec,
    choose_sharding_spec,
    compressed_morton_code,
    encode_shard,
    group_by_shard,
    parse_shard,
    read_chunks,
    shard_file_name,
)

ts = pytest.importorskip("tensorstore")

SIZE = (37, 21, 10)  # edge-clipped with chunk size (8, 8, 4)
CHUNK = (8, 8, 4)
OFFSET = (3, -5, 7)
GRID = tuple(-(-s // c) for s, c in zip(SIZE, CHUNK, strict=True))


def sharding(hash: str, p: int, m: int, s: int, index: str, data: str) -> dict[str, Any]:
    return {
        "@type": "neuroglancer_uint64_sharded_v1",
        "hash": hash,
        "preshift_bits": p,
        "minishard_bits": m,
        "shard_bits": s,
        "minishard_index_encoding": index,
        "data_encoding": data,
    }


SPECS = [
    sharding("identity", 1, 2, 3, "raw", "raw"),
    sharding("murmurhash3_x86_128", 1, 2, 2, "gzip", "gzip"),
    sharding("identity", 0, 3, 1, "gzip", "raw"),  # 4 bits < 7 grid bits: shards wrap around
    sharding("murmurhash3_x86_128", 2, 0, 0, "raw", "gzip"),
]


def volume() -> np.ndarray:
    """Data indexed [x, y, z] with some all-zero chunks (tensorstore does not store those)."""
    rng = np.random.default_rng(7)
    data = rng.integers(1, 65535, size=SIZE, dtype=np.uint16)
    data[0:8, 0:8, 0:4] = 0  # chunk (0, 0, 0)
    data[32:, 16:, 8:] = 0  # the corner edge chunk (4, 2, 2)
    data[8:16, :, 4:8] = 0  # a column of chunks (1, *, 1)
    return data


def chunk_box(pos: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(
        slice(p * c, min((p + 1) * c, s)) for p, c, s in zip(pos, CHUNK, SIZE, strict=True)
    )


def info(spec_json: dict[str, Any]) -> dict[str, Any]:
    return {
        "@type": "neuroglancer_multiscale_volume",
        "type": "image",
        "data_type": "uint16",
        "num_channels": 1,
        "scales": [
            {
                "key": "s0",
                "size": list(SIZE),
                "voxel_offset": list(OFFSET),
                "resolution": [4, 4, 40],
                "chunk_sizes": [list(CHUNK)],
                "encoding": "raw",
                "sharding": spec_json,
            }
        ],
    }


@pytest.mark.parametrize(
    "spec_json",
    SPECS,
    ids=lambda s: f"{s['hash'][:5]}-{s['minishard_index_encoding']}-{s['data_encoding']}",
)
def test_we_read_what_tensorstore_writes(tmp_path: Path, spec_json: dict[str, Any]) -> None:
    data = volume()
    store = ts.open(
        {
            "driver": "neuroglancer_precomputed",
            "kvstore": f"file://{tmp_path}/",
            "multiscale_metadata": {"type": "image", "data_type": "uint16", "num_channels": 1},
            "scale_metadata": {
                "key": "s0",
                "size": list(SIZE),
                "voxel_offset": list(OFFSET),
                "resolution": [4, 4, 40],
                "chunk_size": list(CHUNK),
                "encoding": "raw",
                "sharding": spec_json,
            },
        },
        create=True,
    ).result()
    store[..., 0].write(data).result()

    written = json.loads((tmp_path / "info").read_text())
    spec = ShardingSpec.from_json(written["scales"][0]["sharding"])
    assert spec == ShardingSpec.from_json(spec_json)
    positions = list(itertools.product(*[range(g) for g in GRID]))
    ids = {compressed_morton_code(p, GRID): p for p in positions}
    got = read_chunks(LocalRangeReader(tmp_path), ids, spec, prefix="s0/")
    absent = 0
    for cid, pos in ids.items():
        expected = data[chunk_box(pos)]
        if not expected.any():
            assert got[cid] is None, pos
            absent += 1
            continue
        payload = got[cid]
        assert payload is not None, pos
        # raw encoding: little-endian, x fastest, i.e. C order (z, y, x) of the clipped chunk.
        decoded = np.frombuffer(payload, dtype="<u2").reshape(expected.shape[::-1]).T
        np.testing.assert_array_equal(decoded, expected)
    assert absent == 1 + 1 + GRID[1]
    # The whole-shard parser agrees with the range reader.
    parsed: dict[int, bytes] = {}
    for path in (tmp_path / "s0").glob("*.shard"):
        parsed.update(parse_shard(path.read_bytes(), spec, key=str(path)))
    assert parsed == {cid: v for cid, v in got.items() if v is not None}


@pytest.mark.parametrize(
    "spec_json",
    [
        *SPECS,
        choose_sharding_spec(GRID, max_chunks_per_shard=8).to_json(),
        choose_sharding_spec(GRID).to_json(),
    ],
    ids=lambda s: (
        f"{s['hash'][:5]}-{s['preshift_bits']}-{s['minishard_bits']}-{s['shard_bits']}-{s['data_encoding']}"
    ),
)
def test_tensorstore_reads_what_we_write(tmp_path: Path, spec_json: dict[str, Any]) -> None:
    data = volume()
    spec = ShardingSpec.from_json(spec_json)
    chunks: dict[int, bytes] = {}
    for pos in itertools.product(*[range(g) for g in GRID]):
        block = data[chunk_box(pos)]
        if block.any():  # leave all-zero chunks out: readers fill them with 0
            chunks[compressed_morton_code(pos, GRID)] = block.astype("<u2").tobytes(order="F")
    (tmp_path / "s0").mkdir()
    (tmp_path / "info").write_text(json.dumps(info(spec.to_json())))
    for shard, ids in group_by_shard(chunks, spec).items():
        blob = encode_shard({c: chunks[c] for c in ids}, spec)
        (tmp_path / "s0" / shard_file_name(shard, spec)).write_bytes(blob)

    store = ts.open(
        {"driver": "neuroglancer_precomputed", "kvstore": f"file://{tmp_path}/"}, read=True
    ).result()
    assert list(store.domain.inclusive_min[:3]) == list(OFFSET)
    assert list(store.domain.shape[:3]) == list(SIZE)
    np.testing.assert_array_equal(store[..., 0].read().result(), data)
    # A region reaching into an edge-clipped chunk, in absolute coordinates.
    x0, y0, z0 = OFFSET
    region = store[x0 + 30 : x0 + 37, y0 + 15 : y0 + 21, z0 + 5 : z0 + 10, 0].read().result()
    np.testing.assert_array_equal(region, data[30:37, 15:21, 5:10])
