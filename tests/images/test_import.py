"""Round trips: every input kind, written by tifffile, Pillow or nibabel, imported and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from webknossos_like import Dataset, executors
from webknossos_like.errors import InvalidArgumentError

from ._stacks import write_multipage, write_nifti, write_pillow_slices, write_tiff_slices

SHAPE = (37, 29, 23)  # x, y, z: odd sizes, more than one 16-deep slab


def random_volume(dtype: str, shape: tuple[int, ...] = SHAPE, high: int = 250) -> np.ndarray:
    rng = np.random.default_rng(7)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, high, shape).astype(dtype)


def read_all(dataset: Dataset, layer: str = "color") -> np.ndarray:
    data = dataset.get_layer(layer).get_mag(1).read()
    return data[0] if data.shape[0] == 1 else data


@pytest.mark.parametrize("data_format", ["wkw", "zarr3", "neuroglancerPrecomputed"])
def test_tiff_slices_round_trip_in_every_format(tmp_path: Path, data_format: str) -> None:
    volume = random_volume("uint8")
    folder = write_tiff_slices(tmp_path / "stack", volume)
    # Small shards (WKW, Zarr v3) so that the stack spans several slabs.
    shapes = (
        {} if data_format == "neuroglancerPrecomputed" else {"chunk_shape": 8, "shard_shape": 16}
    )
    dataset = Dataset.from_images(
        folder, tmp_path / "ds", voxel_size=(5, 5, 50), data_format=data_format, **shapes
    )
    layer = dataset.get_layer("color")
    assert layer.data_format == data_format
    assert layer.bounding_box.size.to_tuple() == SHAPE
    assert dataset.voxel_size == (5, 5, 50)
    assert dataset.name == "ds"
    np.testing.assert_array_equal(read_all(dataset), volume)
    assert not list(tmp_path.glob(".wkl-tmp-*"))  # the scratch folder was moved into place


@pytest.mark.parametrize("dtype", ["uint16", "float32", "int16"])
def test_tiff_slices_keep_their_dtype(tmp_path: Path, dtype: str) -> None:
    volume = random_volume(dtype, high=60000 if dtype == "uint16" else 3000)
    folder = write_tiff_slices(tmp_path / "stack", volume)
    dataset = Dataset.from_images(folder, tmp_path / "ds", voxel_size=(1, 1, 1))
    assert dataset.get_layer("color").dtype == np.dtype(dtype)
    np.testing.assert_array_equal(read_all(dataset), volume)


def test_rgb_tiff_slices_make_three_channels(tmp_path: Path) -> None:
    volume = random_volume("uint8", (3, *SHAPE))
    folder = write_tiff_slices(tmp_path / "stack", volume)
    dataset = Dataset.from_images(folder, tmp_path / "ds", voxel_size=(1, 1, 1))
    assert dataset.get_layer("color").num_channels == 3
    np.testing.assert_array_equal(read_all(dataset), volume)


@pytest.mark.parametrize("kind", ["L", "I;16", "RGB", "RGBA"])
def test_png_slices(tmp_path: Path, kind: str) -> None:
    channels = {"L": 1, "I;16": 1, "RGB": 3, "RGBA": 4}[kind]
    dtype = "uint16" if kind == "I;16" else "uint8"
    shape = SHAPE if channels == 1 else (channels, *SHAPE)
    volume = random_volume(dtype, shape, high=60000 if dtype == "uint16" else 250)
    folder = write_pillow_slices(tmp_path / "stack", volume)
    dataset = Dataset.from_images(folder, tmp_path / "ds", voxel_size=(1, 1, 1))
    expected = volume[:3] if kind == "RGBA" else volume  # alpha is dropped, as webknossos does
    np.testing.assert_array_equal(read_all(dataset), expected)


def test_jpeg_slices_hold_what_pillow_decodes(tmp_path: Path) -> None:
    volume = random_volume("uint8")
    folder = write_pillow_slices(tmp_path / "stack", volume, suffix=".jpg")
    dataset = Dataset.from_images(folder, tmp_path / "ds", voxel_size=(1, 1, 1))
    decoded = np.stack(
        [np.asarray(Image.open(folder / f"img{z}.jpg")).T for z in range(SHAPE[2])], axis=-1
    )
    np.testing.assert_array_equal(read_all(dataset), decoded)


def test_multipage_tiff(tmp_path: Path) -> None:
    volume = random_volume("uint16", high=4000)
    path = write_multipage(tmp_path / "stack.tif", volume)
    dataset = Dataset.from_images(path, tmp_path / "ds", voxel_size=(2, 2, 2))
    np.testing.assert_array_equal(read_all(dataset), volume)


def test_imagej_hyperstack_with_channels_and_voxel_size(tmp_path: Path) -> None:
    volume = random_volume("uint16", (2, *SHAPE), high=4000)
    path = write_multipage(
        tmp_path / "hyper.tif",
        volume,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.25),
        metadata={"axes": "ZCYX", "spacing": 1.5, "unit": "um"},
    )
    dataset = Dataset.from_images(path, tmp_path / "ds")
    assert dataset.voxel_size_with_unit.factor == pytest.approx((0.25, 0.25, 1.5))
    assert dataset.voxel_size_unit == "micrometer"
    assert dataset.get_layer("color").num_channels == 2
    np.testing.assert_array_equal(read_all(dataset), volume)


def test_ome_tiff_voxel_size_and_channels(tmp_path: Path) -> None:
    volume = random_volume("uint8", (2, *SHAPE))
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        path,
        volume.transpose(0, 3, 2, 1),  # CZYX
        metadata={
            "axes": "CZYX",
            "PhysicalSizeX": 0.1,
            "PhysicalSizeXUnit": "µm",
            "PhysicalSizeY": 0.1,
            "PhysicalSizeYUnit": "µm",
            "PhysicalSizeZ": 300,
            "PhysicalSizeZUnit": "nm",
        },
    )
    dataset = Dataset.from_images(path, tmp_path / "ds", data_format="zarr3")
    assert dataset.voxel_size_with_unit.factor == pytest.approx((0.1, 0.1, 0.3))
    assert dataset.voxel_size_unit == "micrometer"
    np.testing.assert_array_equal(read_all(dataset), volume)


def test_given_voxel_size_wins_over_metadata(tmp_path: Path) -> None:
    path = tmp_path / "v.ome.tif"
    tifffile.imwrite(path, random_volume("uint8").T, metadata={"axes": "ZYX", "PhysicalSizeX": 0.5})
    dataset = Dataset.from_images(path, tmp_path / "ds", voxel_size=(7, 7, 9))
    assert dataset.voxel_size == (7, 7, 9)
    assert dataset.voxel_size_unit == "nanometer"


def test_rgb_multipage_tiff(tmp_path: Path) -> None:
    volume = random_volume("uint8", (3, *SHAPE))
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, volume.transpose(3, 2, 1, 0), photometric="rgb")  # ZYXS
    dataset = Dataset.from_images(path, tmp_path / "ds", voxel_size=(1, 1, 1))
    np.testing.assert_array_equal(read_all(dataset), volume)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_voxels_and_voxel_size(tmp_path: Path, suffix: str) -> None:
    volume = random_volume("int16", high=3000)
    path = write_nifti(tmp_path / f"brain{suffix}", volume, (0.5, 0.5, 1.2))
    dataset = Dataset.from_images(path, tmp_path / "ds")
    assert dataset.voxel_size_with_unit.factor == pytest.approx((0.5, 0.5, 1.2))
    assert dataset.voxel_size_unit == "millimeter"
    assert dataset.get_layer("color").dtype == np.int16
    np.testing.assert_array_equal(read_all(dataset), volume)


def test_nifti_float64_micron_and_channels(tmp_path: Path) -> None:
    volume = random_volume("float64", (2, *SHAPE))
    path = write_nifti(tmp_path / "vec.nii.gz", volume, (2.0, 2.0, 4.0), unit="micron")
    dataset = Dataset.from_images(path, tmp_path / "ds")
    assert dataset.voxel_size_unit == "micrometer"
    layer = dataset.get_layer("color")
    assert (layer.dtype, layer.num_channels) == (np.float32, 2)
    np.testing.assert_array_equal(read_all(dataset), volume.astype(np.float32))


def test_label_images_become_a_segmentation_layer(tmp_path: Path) -> None:
    labels = random_volume("uint32", high=1000)
    labels[0, 0, 0] = 4321
    folder = write_tiff_slices(tmp_path / "labels", labels)
    dataset = Dataset.from_images(folder, tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = dataset.get_segmentation_layer("segmentation")  # guessed from the folder name
    assert layer.largest_segment_id == 4321
    np.testing.assert_array_equal(read_all(dataset, "segmentation"), labels)


def test_category_option_and_layer_name(tmp_path: Path) -> None:
    labels = random_volume("uint16", high=50)
    path = write_nifti(tmp_path / "atlas.nii.gz", labels, (1, 1, 1))
    dataset = Dataset.from_images(
        path, tmp_path / "ds", layer_name="atlas", layer_category="segmentation"
    )
    layer = dataset.get_segmentation_layer("atlas")
    assert layer.largest_segment_id == int(labels.max())


def test_add_layer_from_images_in_a_mag_at_an_offset_with_threads(tmp_path: Path) -> None:
    volume = random_volume("uint8")
    folder = write_tiff_slices(tmp_path / "stack", volume)
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    with executors.threads(2) as executor:
        layer = dataset.add_layer_from_images(
            folder,
            "second",
            mag=(2, 2, 1),
            topleft=(64, 32, 5),
            chunk_shape=8,
            shard_shape=16,
            executor=executor,
        )
    assert layer.bounding_box.topleft.to_tuple() == (64, 32, 5)
    assert layer.bounding_box.size.to_tuple() == (74, 58, 23)
    np.testing.assert_array_equal(layer.get_mag((2, 2, 1)).read()[0], volume)


def test_dtype_casts_and_batch_size(tmp_path: Path) -> None:
    volume = random_volume("uint16", high=200)
    folder = write_tiff_slices(tmp_path / "stack", volume)
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = dataset.add_layer_from_images(
        folder, "c", dtype="uint8", batch_size=20, chunk_shape=8, shard_shape=8
    )
    assert layer.dtype == np.uint8
    np.testing.assert_array_equal(layer.get_mag(1).read()[0], volume.astype(np.uint8))


def test_downsample_builds_the_pyramid(tmp_path: Path) -> None:
    folder = write_tiff_slices(tmp_path / "stack", random_volume("uint8", (64, 64, 16)))
    dataset = Dataset.from_images(folder, tmp_path / "ds", voxel_size=(1, 1, 1), downsample=True)
    assert len(dataset.get_layer("color").mags) > 1


def test_a_list_of_files_keeps_its_order_and_a_glob_works(tmp_path: Path) -> None:
    volume = random_volume("uint8")
    folder = write_tiff_slices(tmp_path / "stack", volume)
    files = [folder / f"slice_{z}.tif" for z in reversed(range(SHAPE[2]))]
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = dataset.add_layer_from_images(files, "reversed")
    np.testing.assert_array_equal(layer.get_mag(1).read()[0], volume[..., ::-1])
    globbed = dataset.add_layer_from_images(str(folder / "slice_*.tif"), "globbed")
    np.testing.assert_array_equal(globbed.get_mag(1).read()[0], volume)


def test_missing_voxel_size_is_asked_for(tmp_path: Path) -> None:
    folder = write_tiff_slices(tmp_path / "stack", random_volume("uint8"))
    with pytest.raises(InvalidArgumentError, match="voxel_size"):
        Dataset.from_images(folder, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_metadata_voxel_size_in_the_unit_asked_for(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "brain.nii", random_volume("uint8"), (0.5, 0.5, 1.0))
    dataset = Dataset.from_images(path, tmp_path / "ds", voxel_size_unit="micrometer")
    assert dataset.voxel_size_with_unit.factor == pytest.approx((500, 500, 1000))
    assert dataset.voxel_size_unit == "micrometer"


@pytest.mark.slow
def test_process_pool(tmp_path: Path) -> None:
    volume = random_volume("uint16", high=5000)
    path = write_multipage(tmp_path / "stack.tif", volume)
    with executors.processes(2) as executor:
        dataset = Dataset.from_images(
            path,
            tmp_path / "ds",
            voxel_size=(1, 1, 1),
            shard_shape=8,
            chunk_shape=8,
            executor=executor,
        )
    np.testing.assert_array_equal(read_all(dataset), volume)
