"""Small reads given as ints (`read(size, absolute_offset=...)`) take a path without geometry
objects; it must return exactly what the general path and the bare `wkw` package return, refuse
the same things, and stay correct while another object swaps the mag folder."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import wkw
from hypothesis import given, settings
from hypothesis import strategies as st

from webknossos_like import BoundingBox, Dataset, Mag
from webknossos_like.errors import AlignmentError, CorruptChunkError, GeometryError

SHAPE = (96, 80, 72)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A 2-channel uint16 layer, raw, 16^3 chunks in 32^3 shards, with mags 1 and 2-2-1."""
    path = tmp_path_factory.mktemp("fast") / "ds"
    ds = Dataset(path, voxel_size=(1, 1, 1))
    layer = ds.add_layer("c", "color", dtype="uint16", num_channels=2)
    data = np.random.default_rng(5).integers(1, 60000, (2, *SHAPE), dtype=np.uint16)
    layer.add_mag(1, chunk_shape=16, shard_shape=32, compress=False).write(
        data, absolute_offset=(8, 0, 16)
    )
    layer.add_mag("2-2-1", chunk_shape=16, shard_shape=32, compress=True).write(
        data[:, ::2, ::2, :], absolute_offset=(8, 0, 16)
    )
    return path, data


boxes = st.tuples(
    st.tuples(st.integers(0, 130), st.integers(0, 100), st.integers(0, 110)),
    st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(1, 40)),
)


@settings(max_examples=60, deadline=None)
@given(box=boxes, mag_name=st.sampled_from(["1", "2-2-1"]), numpy_ints=st.booleans())
def test_int_reads_equal_the_general_path_and_bare_wkw(
    stored: tuple[Path, np.ndarray], box: tuple, mag_name: str, numpy_ints: bool
) -> None:
    path, _ = stored
    mag = Dataset.open(path).get_layer("c").get_mag(mag_name)
    factor = Mag(mag_name).to_list()
    offset = tuple(v - v % f for v, f in zip(box[0], factor, strict=True))
    size = tuple(v * f for v, f in zip(box[1], factor, strict=True))
    if numpy_ints:
        offset, size = tuple(np.int64(v) for v in offset), tuple(np.int32(v) for v in size)
    fast = mag.read(size, absolute_offset=offset)
    general = mag.read(absolute_bounding_box=BoundingBox(offset, size))
    assert fast.dtype == general.dtype and fast.flags.f_contiguous
    np.testing.assert_array_equal(fast, general)
    in_mag = [int(v) // f for v, f in zip(offset, factor, strict=True)]
    extent = [int(v) // f for v, f in zip(size, factor, strict=True)]
    bare = wkw.Dataset.open(str(path / "c" / mag_name))
    try:
        np.testing.assert_array_equal(fast, bare.read(in_mag, extent))
    finally:
        bare.close()


def test_int_reads_refuse_what_the_general_path_refuses(stored: tuple[Path, np.ndarray]) -> None:
    path, data = stored
    mag2 = Dataset.open(path).get_layer("c").get_mag("2-2-1")
    with pytest.raises(AlignmentError):
        mag2.read((4, 4, 4), absolute_offset=(1, 0, 0))
    with pytest.raises(AlignmentError):
        mag2.read((3, 4, 4), absolute_offset=(0, 0, 0))
    mag1 = Dataset.open(path).get_layer("c").get_mag(1)
    for size in [(0, 4, 4), (4, -1, 4)]:
        with pytest.raises(GeometryError):
            mag1.read(size, absolute_offset=(8, 0, 16))
    # Negative offsets read the unwritten voxels there as 0, like every other read.
    part = mag1.read((24, 8, 8), absolute_offset=(-8, 0, 16))
    assert (part[:, :16] == 0).all()  # x -8..7: the layer starts at x 8
    np.testing.assert_array_equal(part[:, 16:], data[:, :8, :8, :8])


def test_int_reads_check_every_shard_file(tmp_path: Path) -> None:
    """A shard file truncated, or replaced by a corrupt one after it was read, is refused."""
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color").add_mag(1, chunk_shape=16, shard_shape=32, compress=False)
    mag.write(np.full((64, 64, 64), 9, np.uint8))
    assert (mag.read((40, 40, 40), absolute_offset=(10, 10, 10)) == 9).all()
    shard = mag.path / "z1" / "y1" / "x1.wkw"
    content = shard.read_bytes()
    shard.unlink()
    shard.write_bytes(content[: len(content) // 2])  # a new file where the checked one was
    with pytest.raises(CorruptChunkError, match=r"x1\.wkw"):
        mag.read((40, 40, 40), absolute_offset=(10, 10, 10))
    assert (mag.read((20, 20, 20), absolute_offset=(0, 0, 0)) == 9).all()  # other shards read


def test_int_reads_stay_correct_while_another_object_compresses(tmp_path: Path) -> None:
    """Reads from a thread racing an in-place compression (a folder swap) always see the data."""
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color").add_mag(1, chunk_shape=16, shard_shape=32, compress=False)
    data = np.random.default_rng(2).integers(1, 255, (128, 128, 64), dtype=np.uint8)
    mag.write(data)
    reader = Dataset.open(tmp_path / "ds").get_layer("c").get_mag(1)
    corners = np.random.default_rng(3).integers(0, 64, (100_000, 3))
    wrong: list[tuple[int, int, int]] = []
    done = threading.Event()
    reads = 0

    def read_until_done() -> None:
        nonlocal reads
        for x, y, z in corners:
            block = reader.read((32, 32, 16), absolute_offset=(int(x), int(y), int(z) % 48))
            if not np.array_equal(block[0], data[x : x + 32, y : y + 32, z % 48 : z % 48 + 16]):
                wrong.append((int(x), int(y), int(z)))
            reads += 1
            if done.is_set():
                return

    thread = threading.Thread(target=read_until_done)
    thread.start()
    Dataset.open(tmp_path / "ds").get_layer("c").get_mag(1).compress()
    done.set()
    thread.join()
    assert reads > 0 and not wrong
    assert reader.read((8, 8, 8), absolute_offset=(0, 0, 0)).any()
    assert reader.info.compressed  # the reader followed the swap
