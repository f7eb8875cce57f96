"""Conversions keep what was chosen: compression, chunk and shard shapes survive format changes
unless the target format needs others; `sharding=` and tensorstore's format spelling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset, Vec3Int
from webknossos_like.errors import InvalidArgumentError

PRECOMPUTED = "neuroglancerPrecomputed"


def disk_size(path: Path) -> int:
    """Bytes of every file below `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.fixture
def compressed_wkw(tmp_path: Path) -> Dataset:
    """A compressed WKW dataset with well compressible color and segmentation data."""
    ds = Dataset(tmp_path / "wkw", voxel_size=(4, 4, 4))
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 4, (16, 16, 8)).repeat(16, 0).repeat(16, 1).repeat(8, 2)
    ds.add_layer("color", "color").add_mag(1, compress=True).write((blocks * 60).astype(np.uint8))
    ds.add_layer("seg", "segmentation", dtype="uint32").add_mag(1, compress=True).write(
        blocks.astype(np.uint32)
    )
    return ds


@pytest.mark.regression(
    reason="bug: WKW(compressed) -> precomputed -> WKW ended uncompressed (color became raw "
    "unsharded precomputed, and the WKW copy took that as 'raw')"
)
def test_wkw_to_precomputed_to_wkw_stays_compressed(
    compressed_wkw: Dataset, tmp_path: Path
) -> None:
    pre = compressed_wkw.copy_dataset(tmp_path / "pre", data_format=PRECOMPUTED)
    back = pre.copy_dataset(tmp_path / "back", data_format="wkw")
    for name in ("color", "seg"):
        first = compressed_wkw.get_layer(name).get_mag(1).info
        middle = pre.get_layer(name).get_mag(1).info
        last = back.get_layer(name).get_mag(1).info
        assert middle.compressed and last.compressed, name
        assert middle.chunk_shape == first.chunk_shape == last.chunk_shape
        assert middle.sharded  # WKW files hold many chunks: so do the precomputed shards
        assert last.shard_shape == first.shard_shape
        assert (
            back.get_layer(name)
            .get_mag(1)
            .content_is_equal(compressed_wkw.get_layer(name).get_mag(1))
        )
    assert disk_size(tmp_path / "back") < 1.2 * disk_size(compressed_wkw.path)
    assert disk_size(tmp_path / "pre") < 1.2 * disk_size(compressed_wkw.path)


def test_uncompressed_stays_uncompressed_and_compress_overrides(
    compressed_wkw: Dataset, tmp_path: Path
) -> None:
    raw = compressed_wkw.copy_dataset(tmp_path / "raw", compress=False)
    assert not raw.get_layer("color").get_mag(1).info.compressed
    pre = raw.copy_dataset(tmp_path / "pre", data_format=PRECOMPUTED)
    info = pre.get_layer("color").get_mag(1).info
    assert not info.compressed and info.encoding == "raw"
    squeezed = raw.copy_dataset(tmp_path / "pre2", data_format=PRECOMPUTED, compress=True)
    assert squeezed.get_layer("color").get_mag(1).info.compressed
    assert squeezed.get_layer("seg").get_mag(1).info.encoding == "compressed_segmentation"


def test_shapes_are_kept_across_formats_or_fitted(tmp_path: Path) -> None:
    ds = Dataset(tmp_path / "src", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color")
    layer.add_mag(1, chunk_shape=16, shard_shape=64).write(np.ones((70, 70, 70), np.uint8))
    zarr = ds.copy_dataset(tmp_path / "zarr", data_format="zarr3")
    info = zarr.get_layer("color").get_mag(1).info
    assert (info.chunk_shape, info.shard_shape) == (Vec3Int(16), Vec3Int(64))

    pre = Dataset(tmp_path / "pre", voxel_size=(1, 1, 1))
    odd = pre.add_layer("color", "color", data_format=PRECOMPUTED)
    odd.add_mag(1, chunk_shape=(64, 64, 16), compress=False).write(np.ones((70, 70, 20), np.uint8))
    wkw = pre.copy_dataset(tmp_path / "wkw", data_format="wkw")
    info = wkw.get_layer("color").get_mag(1).info
    # WKW needs cubic power-of-two edges: the default chunk, the smallest cube around the shard
    assert info.chunk_shape == Vec3Int(32) and info.shard_shape == Vec3Int(64)
    zarr2 = pre.copy_dataset(tmp_path / "zarr2", data_format="zarr3")
    assert zarr2.get_layer("color").get_mag(1).info.chunk_shape == Vec3Int(64, 64, 16)


def test_requested_shard_shape_makes_precomputed_sharded(
    compressed_wkw: Dataset, tmp_path: Path
) -> None:
    pre = compressed_wkw.copy_dataset(
        tmp_path / "pre", data_format=PRECOMPUTED, chunk_shape=32, shard_shape=64
    )
    info = pre.get_layer("color").get_mag(1).info
    assert info.sharded and info.shard_shape == Vec3Int(64)
    unsharded = compressed_wkw.copy_dataset(
        tmp_path / "flat", data_format=PRECOMPUTED, chunk_shape=64, shard_shape=64
    )
    seg = unsharded.get_layer("seg").get_mag(1).info
    assert not seg.sharded and seg.encoding == "compressed_segmentation"


def test_sharding_is_a_synonym_of_sharded(tmp_path: Path) -> None:
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", data_format="neuroglancer_precomputed")
    mag = layer.add_mag(1, sharding=True, compress=False)
    mag.write(np.full((40, 40, 40), 7, np.uint8))
    assert mag.info.sharded
    spec = json.loads((layer.path / "info").read_text())["scales"][0]["sharding"]
    layer.add_mag(2, sharding=spec)
    assert layer.get_mag(2).info.sharded
    assert not layer.add_mag(4, sharding=False).info.sharded
    with pytest.raises(InvalidArgumentError, match="sharding"):
        layer.add_mag(8, sharding="yes")
    with pytest.raises(InvalidArgumentError, match="sharding"):
        ds.add_layer("w", "color").add_mag(1, sharding=True)


def test_tensorstore_spelling_of_precomputed_everywhere(
    compressed_wkw: Dataset, tmp_path: Path
) -> None:
    name = "neuroglancer_precomputed"
    copy = compressed_wkw.copy_dataset(tmp_path / "copy", data_format=name)
    assert {layer.data_format for layer in copy.layers.values()} == {PRECOMPUTED}
    other = Dataset(tmp_path / "other", voxel_size=(4, 4, 4))
    assert (
        other.add_layer_as_copy(compressed_wkw.get_layer("color"), data_format=name).data_format
        == PRECOMPUTED
    )
    like = other.add_layer_like(compressed_wkw.get_layer("seg"), "seg2", data_format=name)
    assert like.data_format == PRECOMPUTED
    written = other.write_layer("img", "color", np.ones((8, 8, 8), np.uint8), data_format=name)
    assert written.data_format == PRECOMPUTED
    assert other.get_or_add_layer("g", "color", data_format=name).data_format == PRECOMPUTED


@pytest.mark.parametrize(
    "chain",
    [("zarr3", "wkw"), ("zarr3", PRECOMPUTED, "wkw"), (PRECOMPUTED, "zarr3", "wkw")],
)
def test_round_trips_through_every_format_keep_settings(
    compressed_wkw: Dataset, tmp_path: Path, chain: tuple[str, ...]
) -> None:
    current = compressed_wkw
    for step, data_format in enumerate(chain):
        current = current.copy_dataset(tmp_path / f"step{step}", data_format=data_format)
        for name in ("color", "seg"):
            info = current.get_layer(name).get_mag(1).info
            assert info.compressed and info.chunk_shape == Vec3Int(32), (data_format, name)
    for name in ("color", "seg"):
        first = compressed_wkw.get_layer(name).get_mag(1)
        last = current.get_layer(name).get_mag(1)
        assert last.info.shard_shape == first.info.shard_shape
        assert last.content_is_equal(first)
