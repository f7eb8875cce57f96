"""WKW mags whose shard files or folders are symlinks (as `cp -rs` makes) never let a write
change a file they point to: symlinked shards are copied on write, symlinked folders refused."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.errors import ReadOnlyError, StorageError

from ._plan import iter_files

DATA = np.arange(96 * 64 * 40, dtype=np.uint32).reshape(96, 64, 40).astype(np.uint8)

pytestmark = pytest.mark.regression(
    reason="bug: a WKW mag whose z*/ folder or shard file was a symlink to somewhere outside the "
    "dataset (as `cp -rs` makes) let writes change the files outside"
)


def _original(root: Path, compress: bool) -> Dataset:
    ds = Dataset(root / "original", voxel_size=(1, 1, 1))
    ds.add_layer("color", "color").add_mag(
        1, chunk_shape=16, shard_shape=32, compress=compress
    ).write(DATA)
    return ds


def _linked_copy(original: Dataset, target: Path) -> Dataset:
    """A copy made with `cp -rs`: real folders, every file a symlink into the original."""
    subprocess.run(["cp", "-rs", str(original.path.resolve()), str(target)], check=True)
    with pytest.raises(StorageError, match="cp -rs"):  # linked lock files are refused ...
        Dataset.open(target).add_layer("other", "color")
    for lock in target.rglob("*.lock"):  # ... until removed, as the message says
        lock.unlink()
    props = target / "datasource-properties.json"
    text = props.read_text()
    props.unlink()
    props.write_text(text)  # the copy's own metadata
    return Dataset.open(target)


@pytest.mark.parametrize("compress", [False, True])
def test_writes_into_a_cp_rs_copy_leave_the_original_alone(tmp_path: Path, compress: bool) -> None:
    original = _original(tmp_path, compress)
    before = sorted(iter_files(original.path))
    copy = _linked_copy(original, tmp_path / "copy")
    mag = copy.get_layer("color").get_mag(1)
    patch = np.full((20, 20, 20), 255, np.uint8)
    mag.write(patch, absolute_offset=(10, 10, 10))  # partial shards: read-modify-write
    mag.write(np.zeros((32, 32, 32), np.uint8), absolute_offset=(64, 32, 0))  # whole shard
    copy.get_layer("color").downsample(coarsest_mag=2)
    expected = DATA.copy()
    expected[10:30, 10:30, 10:30] = 255
    expected[64:96, 32:64, 0:32] = 0
    assert np.array_equal(Dataset.open(copy.path).get_layer("color").get_mag(1).read()[0], expected)
    assert sorted(iter_files(original.path)) == before
    assert np.array_equal(original.get_layer("color").get_mag(1).read()[0], DATA)
    if not compress:
        mag.compress()
        assert sorted(iter_files(original.path)) == before
        reread = Dataset.open(copy.path).get_layer("color").get_mag(1)
        assert reread.info.compressed and np.array_equal(reread.read()[0], expected)


@pytest.mark.parametrize("level", ["z0", "z0/y0"])
@pytest.mark.parametrize("compress", [False, True])
def test_a_symlinked_shard_folder_is_refused(tmp_path: Path, level: str, compress: bool) -> None:
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("color", "color").add_mag(
        1, chunk_shape=16, shard_shape=32, compress=compress
    )
    mag.write(np.ones((32, 32, 32), np.uint8), absolute_offset=(32, 0, 0))  # makes z0/y0/x1.wkw
    outside = tmp_path / "outside"
    shutil.copytree(mag.path / level, outside)
    shutil.rmtree(mag.path / level)
    os.symlink(outside, mag.path / level)
    before = sorted(iter_files(outside))
    for offset in ((0, 0, 0), (40, 0, 0)):  # a new shard, and one that exists behind the link
        with pytest.raises(ReadOnlyError, match="symlink"):
            Dataset.open(ds.path).get_layer("color").get_mag(1).write(
                np.full((8, 8, 8), 9, np.uint8), absolute_offset=offset
            )
    assert sorted(iter_files(outside)) == before
    got = (
        Dataset.open(ds.path)
        .get_layer("color")
        .get_mag(1)
        .read(absolute_offset=(32, 0, 0), size=(32, 32, 32))
    )
    assert (got == 1).all()  # reading through the link still works


def test_a_dangling_shard_link_is_replaced_not_followed(tmp_path: Path) -> None:
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("color", "color").add_mag(1, chunk_shape=16, shard_shape=32, compress=False)
    mag.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(32, 0, 0))
    shard = mag.path / "z0" / "y0" / "x0.wkw"
    target = tmp_path / "elsewhere.wkw"
    os.symlink(target, shard)
    mag.write(np.full((8, 8, 8), 4, np.uint8), absolute_offset=(0, 0, 0))
    assert not target.exists() and not shard.is_symlink()
    assert (
        Dataset.open(ds.path)
        .get_layer("color")
        .get_mag(1)
        .read(absolute_offset=(0, 0, 0), size=(8, 8, 8))
        == 4
    ).all()
