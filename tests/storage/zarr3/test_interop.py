"""Our arrays against tensorstore, zarr-python 3 and webknossos 4.3.3, both directions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorstore as ts
import zarr

from webknossos_like.geometry import BoundingBox, Vec3Int
from webknossos_like.storage.zarr3.array import Zarr3Array

wk = pytest.importorskip("webknossos")


def _ours(path: Path, dtype: str, channels: int, compressed: bool) -> tuple[Zarr3Array, np.ndarray]:
    array = Zarr3Array.create(
        path,
        dtype=dtype,
        num_channels=channels,
        chunk_shape=Vec3Int(8),
        shard_shape=Vec3Int(16),
        compressed=compressed,
    )
    rng = np.random.default_rng(3)
    data = rng.integers(0, 200, (channels, 21, 17, 9)).astype(dtype)
    array.write(Vec3Int(3, 5, 7), data)
    return array, data


@pytest.mark.parametrize(
    ("dtype", "channels", "compressed"),
    [("uint8", 1, True), ("uint16", 3, False), ("uint64", 1, True), ("float32", 2, True)],
)
def test_our_arrays_read_by_tensorstore_and_zarr_python(
    tmp_path: Path, dtype: str, channels: int, compressed: bool
) -> None:
    array, data = _ours(tmp_path / "a", dtype, channels, compressed)
    expected = np.zeros((channels, 24, 22, 16), dtype)
    expected[:, 3:, 5:, 7:] = data
    store = ts.open(
        {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(array.path)}}
    ).result()
    assert store.domain.labels == ("c", "x", "y", "z")
    np.testing.assert_array_equal(store.read().result(), expected)
    # zarr-python sees the stored (c, x, y, z) order as is.
    opened = zarr.open_array(str(array.path), mode="r")
    assert opened.shape == (channels, 24, 22, 16)
    assert opened.metadata.dimension_names == ("c", "x", "y", "z")
    np.testing.assert_array_equal(opened[...], expected)


def test_zarr_python_sharded_array_read_by_us(tmp_path: Path) -> None:
    path = tmp_path / "zp"
    rng = np.random.default_rng(5)
    data = rng.integers(0, 60000, (2, 40, 30, 20), dtype=np.uint16)
    created = zarr.create_array(
        store=str(path),
        shape=data.shape,
        chunks=(2, 8, 8, 8),
        shards=(2, 16, 16, 16),
        dtype="uint16",
        dimension_names=["c", "x", "y", "z"],
        fill_value=0,
        zarr_format=3,
    )
    created[:, :, :, :] = data
    array = Zarr3Array(path)
    assert array.info.chunk_shape == Vec3Int(8) and array.info.shard_shape == Vec3Int(16)
    assert array.info.num_channels == 2 and array.info.compressed
    np.testing.assert_array_equal(array.read(BoundingBox((0, 0, 0), (40, 30, 20))), data)
    box = BoundingBox((5, 7, 9), (30, 30, 30))  # partly beyond the shape
    out = array.read(box)
    np.testing.assert_array_equal(out[:, :, :23, :11], data[:, 5:35, 7:, 9:])
    assert not out[:, :, 23:].any() and not out[:, :, :, 11:].any()
    # Writes through us are seen by zarr-python.
    array.write(Vec3Int(1, 1, 1), np.full((2, 3, 3, 3), 7, np.uint16))
    np.testing.assert_array_equal(zarr.open_array(str(path), mode="r")[:, 1:4, 1:4, 1:4], 7)


def test_unnamed_4d_zarr_python_array_is_cxyz(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    created = zarr.create_array(
        store=str(path), shape=(1, 4, 5, 6), chunks=(1, 4, 5, 6), dtype="uint8"
    )
    created[0, 1, 2, 3] = 9
    array = Zarr3Array(path)
    assert array.read(BoundingBox((1, 2, 3), (1, 1, 1)))[0, 0, 0, 0] == 9


@pytest.fixture(scope="module")
def wk_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A webknossos 4.3.3 dataset with the layouts we claim to match."""
    root = tmp_path_factory.mktemp("wk") / "ds"
    ds = wk.Dataset(root, voxel_size=(4, 4, 40))
    rng = np.random.default_rng(11)
    written: dict[str, np.ndarray] = {}
    specs = [
        ("compressed", "uint8", 1, True, {}),
        ("raw", "uint8", 1, False, {}),
        ("rgb", "uint8", 3, True, {}),
        ("unsharded", "uint16", 1, True, {"chunk_shape": 32, "shard_shape": 32}),
    ]
    for name, dtype, channels, compress, extra in specs:
        layer = ds.add_layer(
            name,
            wk.COLOR_CATEGORY,
            dtype=dtype,
            num_channels=channels,
            data_format="zarr3",
        )
        data = rng.integers(0, 250, (channels, 70, 50, 20)).astype(dtype)
        layer.add_mag(1, compress=compress, **extra).write(
            data if channels > 1 else data[0], absolute_offset=(0, 0, 0), allow_resize=True
        )
        written[name] = data
    seg = ds.add_layer(
        "seg",
        wk.SEGMENTATION_CATEGORY,
        dtype="uint64",
        data_format="zarr3",
        largest_segment_id=0,
    )
    data = rng.integers(0, 2**63, (1, 70, 50, 20), dtype=np.uint64)
    seg.add_mag(1, compress=True).write(data[0], absolute_offset=(0, 0, 0), allow_resize=True)
    written["seg"] = data
    return root, written


SETTINGS = {
    "compressed": ("uint8", 1, True, 32, 1024),
    "raw": ("uint8", 1, False, 32, 1024),
    "rgb": ("uint8", 3, True, 32, 1024),
    "unsharded": ("uint16", 1, True, 32, 32),
    "seg": ("uint64", 1, True, 32, 1024),
}


@pytest.mark.parametrize("layer", sorted(SETTINGS))
def test_webknossos_arrays_read_by_us(
    wk_dataset: tuple[Path, dict[str, np.ndarray]], layer: str
) -> None:
    root, written = wk_dataset
    dtype, channels, compressed, chunk, shard = SETTINGS[layer]
    array = Zarr3Array(root / layer / "1", read_only=True)
    info = array.info
    assert (info.dtype, info.num_channels, info.compressed) == (
        np.dtype(dtype),
        channels,
        compressed,
    )
    assert (info.chunk_shape, info.shard_shape) == (Vec3Int(chunk), Vec3Int(shard))
    np.testing.assert_array_equal(array.read(BoundingBox((0, 0, 0), (70, 50, 20))), written[layer])
    boxes = list(array.list_written_boxes())
    assert boxes and all(b.volume() for b in boxes)
    union = boxes[0]
    for b in boxes[1:]:
        union = union.extended_by(b)
    assert union.contains_bbox(BoundingBox((0, 0, 0), (70, 50, 20)))


@pytest.mark.parametrize("layer", sorted(SETTINGS))
def test_created_metadata_equals_webknossos(
    wk_dataset: tuple[Path, dict[str, np.ndarray]], tmp_path: Path, layer: str
) -> None:
    root, _ = wk_dataset
    theirs = json.loads((root / layer / "1" / "zarr.json").read_text())
    dtype, channels, compressed, chunk, shard = SETTINGS[layer]
    ours = Zarr3Array.create(
        tmp_path / "a",
        dtype=dtype,
        num_channels=channels,
        chunk_shape=Vec3Int(chunk),
        shard_shape=Vec3Int(shard),
        compressed=compressed,
        shape=Vec3Int(*theirs["shape"][1:]),  # webknossos rounds the shape up to whole shards
    )
    assert json.loads((ours.path / "zarr.json").read_text()) == theirs
    # Both are written by tensorstore (sorted keys, compact): even the bytes agree.
    assert (ours.path / "zarr.json").read_bytes() == (root / layer / "1" / "zarr.json").read_bytes()


def test_webknossos_reads_our_writes(
    wk_dataset: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    source, written = wk_dataset
    root = tmp_path / "copy"
    shutil.copytree(source, root)  # the module's dataset stays as written
    array = Zarr3Array(root / "compressed" / "1")
    patch = np.full((1, 5, 6, 7), 3, np.uint8)
    array.write(Vec3Int(10, 11, 12), patch)
    data = (
        wk.Dataset.open(root)
        .get_layer("compressed")
        .get_mag(1)
        .read(absolute_offset=(0, 0, 0), size=(70, 50, 20))
    )
    expected = written["compressed"].copy()
    expected[:, 10:15, 11:17, 12:19] = 3
    np.testing.assert_array_equal(data, expected)
