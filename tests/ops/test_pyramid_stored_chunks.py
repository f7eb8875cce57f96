"""The pyramid fast path that reduces uncompressed WKW chunks where they are stored."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webknossos_like import Dataset
from webknossos_like.errors import CorruptChunkError, UnsupportedFormatError
from webknossos_like.geometry import BoundingBox, Vec3Int
from webknossos_like.ops import interpolation, pyramid
from webknossos_like.storage.wkw.array import WKWArray, morton_corners

needs_numba = pytest.mark.skipif(
    interpolation.compiled_kernels() is None, reason="the fast path needs the numba kernels"
)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("chunks_per_edge", [1, 2, 4])
def test_stored_chunks_sit_at_their_morton_corners(
    tmp_path: Path, channels: int, chunks_per_edge: int
) -> None:
    edge = 4
    shard = edge * chunks_per_edge
    array = WKWArray.create(
        tmp_path / "mag",
        dtype="uint16",
        num_channels=channels,
        chunk_shape=Vec3Int(edge),
        shard_shape=Vec3Int(shard),
        compressed=False,
    )
    data = np.arange(channels * shard**3, dtype=np.uint16).reshape(channels, shard, shard, shard)
    array.write(Vec3Int(shard, 0, shard), np.asfortranarray(data))  # shard (1, 0, 1)
    batches = [
        (first, chunks.copy())
        for first, chunks in array.iter_stored_chunks(Vec3Int(1, 0, 1), batch_bytes=3 * 2 * 64)
    ]  # three chunks of 4^3 uint16 per batch (fewer if there are fewer channels)
    assert [first for first, _ in batches] == list(range(0, chunks_per_edge**3, 3 // channels or 1))
    chunks = np.concatenate([c for _, c in batches])
    assert chunks.shape == (chunks_per_edge**3, edge, edge, edge, channels)
    corners = morton_corners(chunks_per_edge, edge)
    assert sorted(map(tuple, corners.tolist())) == sorted(
        (x, y, z)
        for x in range(0, shard, edge)
        for y in range(0, shard, edge)
        for z in range(0, shard, edge)
    )
    for stored, (x, y, z) in zip(chunks, corners, strict=True):
        expected = data[:, x : x + edge, y : y + edge, z : z + edge]
        np.testing.assert_array_equal(stored.transpose(3, 2, 1, 0), expected)
    assert list(array.iter_stored_chunks(Vec3Int(0, 0, 0))) == []  # never written
    # a caller's buffer is reused when it fits (same result), replaced when it does not
    for buffer in (array.chunk_buffer(3 * 2 * 64), np.empty((2, 3, 3, 3, channels), np.uint16)):
        again = np.concatenate(
            [c.copy() for _, c in array.iter_stored_chunks(Vec3Int(1, 0, 1), buffer=buffer)]
        )
        np.testing.assert_array_equal(again, chunks)


def test_stored_chunks_refuse_compressed_and_corrupt_shards(tmp_path: Path) -> None:
    settings_ = dict(dtype="uint8", num_channels=1, chunk_shape=Vec3Int(4), shard_shape=Vec3Int(8))
    packed = WKWArray.create(tmp_path / "lz4", compressed=True, **settings_)
    with pytest.raises(UnsupportedFormatError):
        next(packed.iter_stored_chunks(Vec3Int(0, 0, 0)))
    raw = WKWArray.create(tmp_path / "raw", compressed=False, **settings_)
    raw.write(Vec3Int(0, 0, 0), np.ones((1, 8, 8, 8), np.uint8, order="F"))
    shard_file = raw.shard_path(Vec3Int(0, 0, 0))
    shard_file.write_bytes(bytes(16) + shard_file.read_bytes()[16:])  # zeroed header
    with pytest.raises(CorruptChunkError) as info:
        next(raw.iter_stored_chunks(Vec3Int(0, 0, 0)))
    assert isinstance(info.value, OSError) and str(shard_file) in str(info.value)


def _pyramid(path: Path, data: np.ndarray, category: str, mode: str, sampling: str) -> Dataset:
    dataset = Dataset(path, voxel_size=(1, 1, 2))
    layer = dataset.add_layer("layer", category, dtype=data.dtype, num_channels=data.shape[0])
    mag = layer.add_mag(1, chunk_shape=4, shard_shape=8, compress=False)
    mag.write(data, absolute_offset=(0, 0, 0))
    # leave one shard of the box unwritten: the fast path must read it as zeros
    hole = np.zeros((data.shape[0], 8, 8, 8), dtype=data.dtype, order="F")
    mag.write(hole, absolute_offset=(8, 0, 0))
    for shard_file in (mag.path / "z0" / "y0").glob("x1.wkw"):
        shard_file.unlink()
    layer.downsample(coarsest_mag=4, interpolation_mode=mode, sampling_mode=sampling)
    return dataset


@needs_numba
@settings(max_examples=25, deadline=None)
@given(
    dtype=st.sampled_from(["uint8", "uint16", "uint32", "uint64", "int16"]),
    mode=st.sampled_from(["mode", "median", "average", "max"]),
    channels=st.sampled_from([1, 2]),
    sampling=st.sampled_from(["isotropic", "anisotropic"]),
    seed=st.integers(0, 2**16),
)
def test_fast_path_matches_reading_the_source(
    tmp_path_factory: pytest.TempPathFactory,
    dtype: str,
    mode: str,
    channels: int,
    sampling: str,
    seed: int,
) -> None:
    if channels > 1 and dtype == "uint64":
        dtype = "uint32"  # color layers stop at 32 bits
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    palette = rng.integers(max(int(info.min), -1000), min(int(info.max), 2**40), size=5)
    data = np.asfortranarray(rng.choice(palette, size=(channels, 16, 24, 16)).astype(dtype))
    category = "segmentation" if channels == 1 else "color"
    calls = []
    real = WKWArray.iter_stored_chunks

    def spy(self: WKWArray, index: Vec3Int, **options: object) -> object:
        calls.append(index)
        return real(self, index, **options)

    with mock.patch.object(WKWArray, "iter_stored_chunks", spy):
        fast = _pyramid(tmp_path_factory.mktemp("fast"), data, category, mode, sampling)
    with mock.patch.object(pyramid, "compiled_kernels", lambda: None):
        slow = _pyramid(tmp_path_factory.mktemp("slow"), data, category, mode, sampling)
    fast_layer, slow_layer = fast.get_layer("layer"), slow.get_layer("layer")
    assert list(fast_layer.mags) == list(slow_layer.mags)
    for mag in fast_layer.mags:
        np.testing.assert_array_equal(
            fast_layer.get_mag(mag).read(), slow_layer.get_mag(mag).read()
        )
    # the steps' factors for voxel size (1, 1, 2): 2-2-2 and 4-4-4, or 2-2-1 and 4-4-2
    factors = [(2, 2, 2)] * 2 if sampling == "isotropic" else [(2, 2, 1), (2, 2, 2)]
    kernels = interpolation.compiled_kernels()
    supported = [kernels.supports(mode, np.dtype(dtype), factor) for factor in factors]
    if supported[0]:
        assert calls  # the first step reads whole mag-1 shards: the fast path must run
    if not any(supported):
        assert not calls


@needs_numba
def test_fast_path_reports_a_corrupt_source_shard(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = dataset.add_layer("seg", "segmentation", dtype="uint32")
    mag = layer.add_mag(1, chunk_shape=4, shard_shape=8, compress=False)
    mag.write(np.ones((16, 16, 16), np.uint32), absolute_offset=(0, 0, 0))
    shard_file = mag.path / "z0" / "y0" / "x1.wkw"
    shard_file.write_bytes(shard_file.read_bytes()[:-1])  # truncated by one byte
    with pytest.raises(CorruptChunkError, match=r"x1\.wkw"):
        layer.downsample(coarsest_mag=2, sampling_mode="isotropic")
    assert list(layer.mags) == [mag.mag]  # the half-built mag 2 was rolled back
    out = np.zeros((1, 4, 4, 4), np.uint32, order="F")
    region = BoundingBox((0, 0, 0), (8, 8, 8))
    view = layer.get_mag(1).get_view(read_only=True)
    assert pyramid._reduce_stored(view, region, Vec3Int(2), "mode", out)
    assert (out == 1).all()  # the intact first shard is still reduced


@settings(max_examples=100, deadline=None)
@given(
    corner=st.tuples(*[st.integers(-100, 100)] * 3),
    size=st.tuples(*[st.integers(1, 200)] * 3),
    grid=st.sampled_from([Vec3Int(8), Vec3Int(32), Vec3Int(16, 16, 4)]),
)
def test_halving_cuts_on_the_grid_and_covers_the_box(
    corner: tuple[int, int, int], size: tuple[int, int, int], grid: Vec3Int
) -> None:
    box = BoundingBox(corner, size)
    halves = pyramid._halve(box, grid)
    assert sum(half.volume() for half in halves) == box.volume()
    assert all(box.contains_bbox(half) and not half.is_empty() for half in halves)
    if len(halves) == 2:
        first, second = halves
        assert first.intersected_with(second).is_empty()
        cut = [a for a in range(3) if first.bottomright[a] != box.bottomright[a]]
        assert len(cut) == 1 and first.bottomright[cut[0]] % grid[cut[0]] == 0
    else:  # no grid line strictly inside the box on any axis
        assert halves == [box]
        assert all(
            (box.topleft[a] // grid[a] + 1) * grid[a] >= box.bottomright[a] for a in range(3)
        )


def test_coarse_raw_mags_are_split_into_chunk_aligned_tasks(tmp_path: Path) -> None:
    from webknossos_like import executors

    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = dataset.add_layer("seg", "segmentation", dtype="uint32")
    mag = layer.add_mag(1, chunk_shape=8, shard_shape=32, compress=False)
    labels = np.random.default_rng(3).integers(1, 5, size=(64, 64, 40)).astype(np.uint32)
    mag.write(labels, absolute_offset=(0, 0, 0))
    target = layer.add_mag(2, chunk_shape=8, shard_shape=32, compress=False)
    boxes = [t.bounding_box for _, t in pyramid._target_tasks(mag, target)]
    assert len(boxes) >= pyramid._MIN_TASKS  # although the mag-2 region fits in one shard
    assert all(c % 16 == 0 for box in boxes for c in box.topleft)  # mag-2 chunk lines
    assert sum(b.volume() for b in boxes) == layer.bounding_box.volume()
    layer.delete_mag(2)
    with executors.threads(2) as pool:
        layer.downsample(coarsest_mag=4, sampling_mode="isotropic", executor=pool)
    mag2 = interpolation.downsample_data(labels[None], Vec3Int(2), "mode")
    np.testing.assert_array_equal(layer.get_mag(2).read(), mag2)
    mag4 = interpolation.downsample_data(mag2, Vec3Int(2), "mode")
    np.testing.assert_array_equal(layer.get_mag(4).read(), mag4)
    packed = layer.add_mag(8, chunk_shape=8, shard_shape=32, compress=True)
    assert len(pyramid._target_tasks(layer.get_mag(4), packed)) == 1  # compressed: whole shards


@settings(max_examples=30, deadline=None)
@given(
    offset=st.tuples(*[st.integers(0, 40)] * 3),
    size=st.tuples(st.integers(1, 70), st.integers(1, 70), st.integers(1, 40)),
    mode=st.sampled_from(["mode", "average", "median", "max"]),
    sampling=st.sampled_from(["isotropic", "anisotropic"]),
    threads=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_chained_levels_match_building_mag_by_mag(
    tmp_path_factory: pytest.TempPathFactory,
    offset: tuple[int, int, int],
    size: tuple[int, int, int],
    mode: str,
    sampling: str,
    threads: bool,
    seed: int,
) -> None:
    """`layer.downsample` builds several mags per task from memory where it can; the result must
    equal computing each mag from the stored one before it (`downsample_mag`, one level a pass)."""
    from webknossos_like import executors

    data = np.random.default_rng(seed).integers(0, 6, size=size).astype(np.uint16)
    layers = []
    for name in ("chained", "stepwise"):
        dataset = Dataset(tmp_path_factory.mktemp(name), voxel_size=(1, 1, 2))
        layer = dataset.add_layer("img", "color", dtype="uint16")
        layer.add_mag(1, chunk_shape=4, shard_shape=8, compress=False).write(
            data, absolute_offset=offset
        )
        layers.append(layer)
    chained, stepwise = layers
    calls = []
    real = pyramid._reduce_level

    def spy(*args: object) -> object:
        calls.append(args)
        return real(*args)  # type: ignore[arg-type]

    with mock.patch.object(pyramid, "_reduce_level", spy), executors.threads(2) as pool:
        made = chained.downsample(
            coarsest_mag=16,
            interpolation_mode=mode,
            sampling_mode=sampling,
            executor=pool if threads else None,
        )
    previous = stepwise.get_mag(1)
    for mag in made:
        previous = stepwise.downsample_mag(previous.mag, mag.mag, interpolation_mode=mode)
    assert list(chained.mags) == list(stepwise.mags)
    for key in chained.mags:
        box = chained.get_mag(key).bounding_box
        np.testing.assert_array_equal(
            chained.get_mag(key).read(absolute_bounding_box=box),
            stepwise.get_mag(key).read(absolute_bounding_box=box),
        )
    # Whether a level can be built from memory depends on how the task boxes meet the chunk
    # grid (sizes such as 16x16x17 cannot); `test_levels_are_built_from_memory` checks it does.


@pytest.mark.parametrize("sampling", ["isotropic", "anisotropic"])
@pytest.mark.parametrize("size", [(32, 32, 32), (64, 64, 32), (70, 70, 40)])
def test_levels_are_built_from_memory(
    tmp_path: Path, size: tuple[int, int, int], sampling: str
) -> None:
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 2))
    layer = dataset.add_layer("img", "color", dtype="uint16")
    data = np.random.default_rng(1).integers(0, 6, size=size).astype(np.uint16)
    layer.add_mag(1, chunk_shape=4, shard_shape=8, compress=False).write(data)
    calls = []
    real = pyramid._reduce_level

    def spy(*args: object) -> object:
        calls.append(args)
        return real(*args)  # type: ignore[arg-type]

    with mock.patch.object(pyramid, "_reduce_level", spy):
        layer.downsample(coarsest_mag=16, sampling_mode=sampling)
    assert calls  # some level was built from memory, not read back


def test_a_failing_chain_removes_all_its_mags(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = dataset.add_layer("seg", "segmentation", dtype="uint32")
    layer.add_mag(1, chunk_shape=4, shard_shape=8, compress=False).write(
        np.ones((64, 64, 64), np.uint32)
    )
    layer.downsample(coarsest_mag=2, sampling_mode="isotropic")  # an existing mag 2 is reused

    def broken(*args: object) -> object:
        raise OSError("disk full while building a coarser level")

    with mock.patch.object(pyramid, "_reduce_level", broken), pytest.raises(OSError, match="full"):
        layer.downsample(coarsest_mag=16, sampling_mode="isotropic")
    assert [m.to_layer_name() for m in layer.mags] == ["1", "2"]
    assert sorted(p.name for p in layer.path.iterdir() if p.is_dir()) == ["1", "2"]
    made = layer.downsample(coarsest_mag=16, sampling_mode="isotropic")
    assert [m.mag.to_layer_name() for m in made] == ["4", "8", "16"]
    assert (layer.get_mag(16).read() == 1).all()
