"""Layer.downsample / downsample_mag / redownsample / upsample on WKW layers."""

from __future__ import annotations

import numpy as np
import pytest

from webknossos_like import Dataset, Mag, executors
from webknossos_like.errors import MagExistsError
from webknossos_like.geometry import Vec3Int
from webknossos_like.ops.interpolation import downsample_data


def test_downsample_builds_pyramid_without_growing_bbox(
    dataset: Dataset, rng: np.random.Generator
) -> None:
    layer = dataset.add_layer("color", "color")
    data = rng.integers(0, 255, size=(203, 150, 37), dtype=np.uint8)
    layer.add_mag(1).write(data, absolute_offset=(3, 5, 1))
    box = layer.bounding_box
    created = layer.downsample(coarsest_mag=Mag(4))
    assert [m.mag.to_layer_name() for m in created] == ["2-2-1", "4-4-2"]
    assert layer.bounding_box == box
    mag2 = layer.get_mag("2-2-1")
    aligned = box.align_with_mag(Mag("2-2-1"), ceil=True)
    # reference: pad the mag-1 data inside the layer box with its edge values, then take the median (the color default)
    source = layer.get_mag(1).read(absolute_bounding_box=box)
    front = (box.topleft - aligned.topleft).to_list()
    back = (aligned.bottomright - box.bottomright).to_list()
    padded = np.pad(source, [(0, 0), *zip(front, back, strict=True)], mode="edge")
    expected = downsample_data(
        padded, Vec3Int(2, 2, 1), "median"
    )  # the color default, as webknossos
    np.testing.assert_array_equal(mag2.read(absolute_bounding_box=aligned), expected)


def test_segmentation_downsample_uses_mode_in_parallel(dataset: Dataset) -> None:
    from webknossos_like.sample_data import make_segmentation

    seg = dataset.add_layer("seg", "segmentation", dtype="uint32")
    labels = make_segmentation((128, 128, 64), cell_size=8)
    seg.add_mag(1, shard_shape=32).write(labels)
    with executors.threads(2) as pool:
        seg.downsample(coarsest_mag=Mag(2), sampling_mode="isotropic", executor=pool)
    expected = downsample_data(labels[np.newaxis], Vec3Int(2), "mode")
    np.testing.assert_array_equal(seg.get_mag(2).read(), expected)
    assert set(np.unique(seg.get_mag(2).read())) <= set(np.unique(labels))


def test_downsample_mag_with_process_pool_and_overwrite(
    dataset: Dataset, rng: np.random.Generator
) -> None:
    layer = dataset.add_layer("color", "color", dtype="uint16")
    data = rng.integers(0, 60000, size=(128, 128, 64), dtype=np.uint16)
    layer.add_mag(1, shard_shape=64).write(data)
    with executors.processes(2) as pool:
        layer.downsample_mag(1, 2, interpolation_mode="max", executor=pool)
    np.testing.assert_array_equal(
        layer.get_mag(2).read(), downsample_data(data[None], Vec3Int(2), "max")
    )
    with pytest.raises(MagExistsError):
        layer.downsample_mag(1, 2)
    layer.downsample_mag(1, 2, interpolation_mode="min", allow_overwrite=True)
    np.testing.assert_array_equal(
        layer.get_mag(2).read(), downsample_data(data[None], Vec3Int(2), "min")
    )


def test_redownsample_refreshes_all_mags(dataset: Dataset) -> None:
    layer = dataset.add_layer("color", "color")
    mag1 = layer.add_mag(1)
    mag1.write(np.zeros((64, 64, 64), np.uint8))
    layer.downsample(coarsest_mag=Mag(4), sampling_mode="isotropic")
    mag1.write(np.full((64, 64, 64), 200, np.uint8))
    assert layer.get_mag(4).read().max() == 0
    layer.redownsample()
    assert (layer.get_mag(4).read() == 200).all()


def test_upsample_repeats_and_rolls_back(
    dataset: Dataset, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = dataset.add_layer("seg", "segmentation", dtype="uint32")
    coarse = rng.integers(1, 100, size=(32, 32, 16), dtype=np.uint32)
    layer.add_mag(4, shard_shape=32).write(coarse)
    created = layer.upsample(from_mag=4, finest_mag=1, sampling_mode="isotropic")
    assert sorted(m.mag.to_layer_name() for m in created) == ["1", "2"]
    fine = layer.get_mag(1).read()[0]
    assert fine.shape == (128, 128, 64)
    np.testing.assert_array_equal(fine[::4, ::4, ::4], coarse)
    np.testing.assert_array_equal(fine[3::4, 1::4, 2::4], coarse)

    # a failure half-way leaves no half-created mag behind
    other = dataset.add_layer("other", "color")
    other.add_mag(2).write(np.ones((64, 64, 64), np.uint8))
    from webknossos_like.ops import pyramid

    def explode(task: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pyramid, "_upsample_task", explode)
    with pytest.raises(OSError, match="disk full"):
        other.upsample(from_mag=2)
    assert list(other.mags) == [Mag(2)]
    assert not (other.path / "1").exists()


def test_dataset_downsample_keeps_layers_aligned(tmp_path: object) -> None:
    ds = Dataset(tmp_path / "ds", voxel_size=(4, 4, 40))  # type: ignore[operator]
    ds.add_layer("color", "color").add_mag(1).write(np.ones((256, 256, 16), np.uint8))
    ds.add_layer("seg", "segmentation", dtype="uint32").add_mag(1).write(
        np.ones((256, 256, 16), np.uint32)
    )
    ds.downsample()
    assert list(ds.get_layer("color").mags) == list(ds.get_layer("seg").mags)
    assert [m.to_layer_name() for m in ds.get_layer("color").mags] == ["1", "2-2-1", "4-4-1"]
