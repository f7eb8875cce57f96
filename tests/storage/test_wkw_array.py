"""The WKW backend on its own: headers, errors, crash-safe shard files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from webknossos_like.errors import (
    CorruptChunkError,
    DataShapeError,
    DTypeError,
    StorageError,
    UnsupportedFormatError,
)
from webknossos_like.geometry import BoundingBox, Vec3Int
from webknossos_like.storage import WKWArray


def make(path: Path, compressed: bool = False, dtype: str = "uint8", shard: int = 64) -> WKWArray:
    return WKWArray.create(
        path,
        dtype=dtype,
        num_channels=1,
        chunk_shape=Vec3Int(32),
        shard_shape=Vec3Int(shard),
        compressed=compressed,
    )


def test_header_is_parsed_back(tmp_path: Path) -> None:
    array = WKWArray.create(
        tmp_path / "a",
        dtype="uint16",
        num_channels=3,
        chunk_shape=Vec3Int(16),
        shard_shape=Vec3Int(64),
        compressed=True,
    )
    info = WKWArray(array.path).info
    assert (info.dtype, info.num_channels, info.chunk_shape, info.shard_shape, info.compressed) == (
        np.dtype("uint16"),
        3,
        Vec3Int(16),
        Vec3Int(64),
        True,
    )
    raw = (array.path / "header.wkw").read_bytes()
    assert raw[:4] == b"WKW\x01" and raw[4] == 0x24  # log2(16)=4 low nibble, log2(4)=2 high nibble


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"chunk_shape": Vec3Int(32, 32, 16)}, UnsupportedFormatError),
        ({"chunk_shape": Vec3Int(48)}, UnsupportedFormatError),
        ({"shard_shape": Vec3Int(16)}, UnsupportedFormatError),
        ({"dtype": "complex64"}, DTypeError),
    ],
)
def test_create_rejects_invalid(tmp_path: Path, kwargs: dict, error: type[Exception]) -> None:
    args = {
        "dtype": "uint8",
        "num_channels": 1,
        "chunk_shape": Vec3Int(32),
        "shard_shape": Vec3Int(64),
        "compressed": False,
    }
    args.update(kwargs)
    with pytest.raises(error):
        WKWArray.create(tmp_path / "a", **args)
    assert not (tmp_path / "a").exists()


def test_corrupt_and_missing_header(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"header\.wkw not found"):
        WKWArray(tmp_path / "missing")
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "header.wkw").write_bytes(b"\x00" * 16)
    with pytest.raises(CorruptChunkError, match=r"header\.wkw") as info:
        WKWArray(folder)
    assert isinstance(info.value, OSError)


def test_write_rejects_wrong_data(tmp_path: Path) -> None:
    array = make(tmp_path / "a")
    with pytest.raises(DTypeError):
        array.write(Vec3Int(0), np.zeros((1, 4, 4, 4), np.uint16))
    with pytest.raises(DataShapeError):
        array.write(Vec3Int(0), np.zeros((2, 4, 4, 4), np.uint8))


@pytest.mark.parametrize("compressed", [False, True])
def test_partial_writes_keep_neighbours(tmp_path: Path, compressed: bool) -> None:
    array = make(tmp_path / "a", compressed=compressed)
    full = np.arange(128**3, dtype=np.uint32).reshape(1, 128, 128, 128).astype(np.uint8)
    array.write(Vec3Int(0), full)
    patch = np.full((1, 10, 70, 5), 255, np.uint8)
    array.write(Vec3Int(60, 1, 62), patch)
    expected = full.copy()
    expected[:, 60:70, 1:71, 62:67] = 255
    np.testing.assert_array_equal(array.read(BoundingBox((0, 0, 0), (128, 128, 128))), expected)
    # no scratch folders are left behind
    assert [p.name for p in array.path.iterdir() if p.name.startswith(".")] == []


def test_written_boxes_are_shards(tmp_path: Path) -> None:
    array = make(tmp_path / "a", shard=64)
    array.write(Vec3Int(70, 0, 130), np.ones((1, 4, 4, 4), np.uint8))
    assert list(array.list_written_boxes()) == [BoundingBox((64, 0, 128), (64, 64, 64))]


def test_reads_are_fortran_ordered(tmp_path: Path) -> None:
    array = make(tmp_path / "a")
    data = array.read(BoundingBox((0, 0, 0), (8, 9, 10)))
    assert data.flags.f_contiguous and data.shape == (1, 8, 9, 10)
