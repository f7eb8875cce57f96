"""Chunk bytes exchanged with tensorstore: we decode its files, it reads ours."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like.storage.precomputed.codecs import decode_chunk, encode_chunk

ts = pytest.importorskip("tensorstore")

SIZE = (10, 7, 5)
OFFSET = (1, -2, 3)
CHUNK = (4, 4, 3)
BLOCK = (2, 3, 2)
NAME = re.compile(r"^(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)$")

CASES = [
    ("raw", "uint8", 1),
    ("raw", "uint16", 3),
    ("raw", "float32", 2),
    ("raw", "int32", 1),
    ("compressed_segmentation", "uint32", 1),
    ("compressed_segmentation", "uint64", 1),
    ("compressed_segmentation", "uint64", 2),
    ("jpeg", "uint8", 1),
    ("jpeg", "uint8", 3),
    ("png", "uint8", 1),
    ("png", "uint8", 2),
    ("png", "uint8", 3),
    ("png", "uint8", 4),
    ("png", "uint16", 1),
    ("png", "uint16", 3),
    ("png", "uint16", 4),
]


def open_store(path: Path, encoding: str, dtype: str, channels: int, create: bool) -> Any:
    scale: dict[str, Any] = {
        "size": list(SIZE),
        "voxel_offset": list(OFFSET),
        "chunk_size": list(CHUNK),
        "resolution": [1, 1, 1],
        "encoding": encoding,
    }
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = list(BLOCK)
    if encoding == "jpeg":
        scale["jpeg_quality"] = 100
    spec: dict[str, Any] = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(path)},
        "context": {"cache_pool": {"total_bytes_limit": 0}},
    }
    if create:
        spec["multiscale_metadata"] = {
            "type": "segmentation" if encoding == "compressed_segmentation" else "image",
            "data_type": dtype,
            "num_channels": channels,
        }
        spec["scale_metadata"] = scale
        spec["create"] = True
    return ts.open(spec).result()


def volume(dtype: str, channels: int, seed: int, encoding: str) -> np.ndarray:
    """(x, y, z, c) test data, never 0 (tensorstore does not store all-zero chunks)."""
    rng = np.random.default_rng(seed)
    shape = (*SIZE, channels)
    if encoding == "jpeg":
        gx, gy, gz = np.meshgrid(*(np.arange(s) for s in SIZE), indexing="ij")
        base = (40 + 5 * gx + 3 * gy + 7 * gz)[..., None] + 30 * np.arange(channels)
        return base.astype(np.uint8)
    if np.dtype(dtype).kind == "f":
        return (rng.standard_normal(shape) + 5).astype(dtype)
    if encoding == "compressed_segmentation":
        labels = (
            rng.integers(1, 2**63, 6, dtype=np.uint64)
            if dtype == "uint64"
            else rng.integers(1, 2**32, 6)
        )
        return labels[rng.integers(0, 6, shape)].astype(dtype)
    top = np.iinfo(dtype).max
    return rng.integers(1, top, shape, endpoint=True).astype(dtype)


def chunk_files(path: Path) -> list[tuple[Path, tuple[slice, slice, slice], tuple[int, int, int]]]:
    out = []
    for file in sorted((path / "1_1_1").iterdir()):
        match = NAME.match(file.name)
        assert match, file.name
        b = [int(v) for v in match.groups()]
        region = tuple(slice(b[2 * i] - OFFSET[i], b[2 * i + 1] - OFFSET[i]) for i in range(3))
        out.append((file, region, (b[1] - b[0], b[3] - b[2], b[5] - b[4])))  # type: ignore[arg-type]
    # 3 x 2 x 2 grid, upper chunks clipped.
    assert len(out) == 12
    return out  # type: ignore[return-value]


def tolerance(encoding: str) -> int:
    return 40 if encoding == "jpeg" else 0


@pytest.mark.parametrize(
    ("encoding", "dtype", "channels"), CASES, ids=[f"{e}-{d}-{c}ch" for e, d, c in CASES]
)
def test_tensorstore_interop(tmp_path: Path, encoding: str, dtype: str, channels: int) -> None:
    path = tmp_path / "vol"
    store = open_store(path, encoding, dtype, channels, create=True)
    assert tuple(store.domain.inclusive_min) == (*OFFSET, 0)
    written = volume(dtype, channels, 1, encoding)
    store[...] = written
    as_read = np.asarray(store.read().result())  # what tensorstore decodes (lossy for jpeg)

    # 1. We decode tensorstore's chunk files, edge chunks included.
    for file, region, shape3 in chunk_files(path):
        ours = decode_chunk(
            file.read_bytes(), encoding, (channels, *shape3), dtype, block_size=BLOCK
        )
        expected = np.moveaxis(as_read[region], 3, 0)
        if encoding == "jpeg":
            # Both sides use libjpeg(-turbo); allow for a different IDCT / upsampling.
            assert np.abs(ours.astype(int) - expected).max() <= 2, file.name
            assert np.abs(ours.astype(int) - np.moveaxis(written[region], 3, 0)).max() <= tolerance(
                encoding
            )
        else:
            np.testing.assert_array_equal(ours, expected, err_msg=file.name)

    # 2. Tensorstore reads the chunk files we write over its own.
    replacement = volume(dtype, channels, 2, encoding)
    for file, region, _ in chunk_files(path):
        data = np.moveaxis(replacement[region], 3, 0)
        file.write_bytes(
            encode_chunk(data, encoding, block_size=BLOCK, jpeg_quality=100, png_level=9)
        )
    reread = np.asarray(open_store(path, encoding, dtype, channels, create=False).read().result())
    if encoding == "jpeg":
        assert np.abs(reread.astype(int) - replacement).max() <= 3
    else:
        np.testing.assert_array_equal(reread, replacement)
