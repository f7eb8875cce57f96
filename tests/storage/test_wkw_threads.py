"""WKW calls split into z slabs on the io threads: the slabs cover the box at block (or shard)
borders, and threaded reads and writes give the same voxels and the same files as one thread."""

from __future__ import annotations

import filecmp
import itertools
from pathlib import Path

import numpy as np
import pytest
import wkw
from hypothesis import given
from hypothesis import strategies as st

from webknossos_like import Dataset, io_threads
from webknossos_like.storage.wkw._native import z_slabs


@given(
    z0=st.integers(0, 500),
    depth=st.integers(1, 700),
    edge=st.sampled_from([1, 8, 32, 128]),
    threads=st.integers(1, 8),
)
def test_slabs_cover_the_range_cut_at_borders(z0: int, depth: int, edge: int, threads: int) -> None:
    slabs = z_slabs(z0, z0 + depth, edge, threads)
    assert slabs[0][0] == z0 and slabs[-1][1] == z0 + depth
    assert all(a < b for a, b in slabs)
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(slabs))  # no gap, no overlap
    assert all(a % edge == 0 for a, _ in slabs[1:])  # every cut on a border
    assert len(slabs) <= max(1, 2 * threads)
    borders_inside = len(range((z0 // edge + 1) * edge, z0 + depth, edge))
    if threads > 1:
        assert len(slabs) == min(borders_inside + 1, 2 * threads)
    else:
        assert len(slabs) == 1


@pytest.mark.parametrize("compress", [False, True])
def test_threaded_calls_equal_one_thread_in_voxels_and_files(
    tmp_path: Path, compress: bool
) -> None:
    data = np.random.default_rng(4).integers(0, 2**16, (2, 150, 140, 300), dtype=np.uint16)
    later = np.ascontiguousarray(data[:, :70, :60, :200] // 3)  # C order: slabs need copies
    mags = []
    for threads in (1, 2):
        ds = Dataset(tmp_path / f"t{threads}", voxel_size=(1, 1, 1))
        layer = ds.add_layer("c", "color", dtype="uint16", num_channels=2)
        mag = layer.add_mag(1, chunk_shape=16, shard_shape=64, compress=compress)
        with io_threads(threads):
            mag.write(data, absolute_offset=(3, 5, 7))  # 20 MiB: above the threading threshold
            mag.write(later, absolute_offset=(40, 30, 20))
            mags.append(mag.read(absolute_offset=(0, 0, 0), size=(160, 150, 310)))
        mag_path = mag.path
        bare = wkw.Dataset.open(str(mag_path))
        try:
            np.testing.assert_array_equal(mags[-1], bare.read((0, 0, 0), (160, 150, 310)))
        finally:
            bare.close()
    np.testing.assert_array_equal(mags[0], mags[1])
    expected = np.zeros_like(mags[0])
    expected[:, 3:153, 5:145, 7:307] = data
    expected[:, 40:110, 30:90, 20:220] = later
    np.testing.assert_array_equal(mags[1], expected)
    one, two = tmp_path / "t1" / "c" / "1", tmp_path / "t2" / "c" / "1"
    files = sorted(p.relative_to(one) for p in one.rglob("*.wkw"))
    assert files == sorted(p.relative_to(two) for p in two.rglob("*.wkw"))
    assert len(files) > 20
    _, mismatch, errors = filecmp.cmpfiles(one, two, [str(f) for f in files], shallow=False)
    assert not mismatch and not errors
