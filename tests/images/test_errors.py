"""Bad input: errors name the file, and a failed import leaves no layer or dataset behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from webknossos_like import Dataset
from webknossos_like.dataset._incomplete import abandoned_mags
from webknossos_like.errors import ImageFileError, WebknossosLikeError

from ._stacks import write_tiff_slices

VOLUME = np.random.default_rng(3).integers(0, 255, (24, 20, 40), dtype=np.uint8)


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    return write_tiff_slices(tmp_path / "stack", VOLUME)


def _import_fails(dataset: Dataset, stack: Path, match: str) -> ImageFileError:
    with pytest.raises(ImageFileError, match=match) as info:
        dataset.add_layer_from_images(stack, "color", chunk_shape=8, shard_shape=8)
    assert "color" not in Dataset.open(dataset.path).layers  # rolled back
    assert not (dataset.path / "color").exists()
    return info.value


def test_unreadable_slice_names_the_file(tmp_path: Path, stack: Path) -> None:
    (stack / "slice_30.tif").write_bytes(b"II*\x00 this is not a tiff")
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    error = _import_fails(dataset, stack, "slice_30.tif")
    assert error.path == stack / "slice_30.tif"
    assert isinstance(error, OSError) and isinstance(error, WebknossosLikeError)


def test_slice_of_another_size_names_the_file(tmp_path: Path, stack: Path) -> None:
    tifffile.imwrite(stack / "slice_17.tif", np.zeros((20, 25), np.uint8))
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    _import_fails(dataset, stack, r"slice_17.tif is 25x20 pixels")


def test_slice_of_another_dtype_names_the_file(tmp_path: Path, stack: Path) -> None:
    tifffile.imwrite(stack / "slice_39.tif", np.zeros((20, 24), np.uint16))
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    error = _import_fails(dataset, stack, "slice_39.tif holds uint16")
    assert isinstance(error, ValueError)


def test_failed_from_images_leaves_nothing(tmp_path: Path, stack: Path) -> None:
    (stack / "slice_5.tif").write_bytes(b"garbage")
    with pytest.raises(ImageFileError, match=r"slice_5.tif"):
        Dataset.from_images(
            stack, tmp_path / "out", voxel_size=(1, 1, 1), shard_shape=8, chunk_shape=8
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack"]


def test_existing_output_is_refused(tmp_path: Path, stack: Path) -> None:
    Dataset(tmp_path / "out", voxel_size=(1, 1, 1))
    with pytest.raises(FileExistsError):
        Dataset.from_images(stack, tmp_path / "out", voxel_size=(1, 1, 1))


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageFileError, match=r"notes.txt"):
        Dataset.from_images(tmp_path / "notes.txt", tmp_path / "out", voxel_size=(1, 1, 1))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageFileError, match="No image files"):
        Dataset.from_images(empty, tmp_path / "out", voxel_size=(1, 1, 1))


def test_multipage_tiff_among_slices_is_refused(tmp_path: Path, stack: Path) -> None:
    tifffile.imwrite(
        stack / "slice_0.tif", np.zeros((3, 20, 24), np.uint8), photometric="minisblack"
    )
    with pytest.raises(ImageFileError, match=r"slice_0.tif holds 3 pages"):
        Dataset.from_images(stack, tmp_path / "out", voxel_size=(1, 1, 1))


def test_time_series_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, np.zeros((3, 4, 8, 8), np.uint8), imagej=True, metadata={"axes": "TZYX"})
    with pytest.raises(ImageFileError, match="time series"):
        Dataset.from_images(path, tmp_path / "out", voxel_size=(1, 1, 1))


def test_float_labels_are_refused_for_segmentation(tmp_path: Path) -> None:
    folder = write_tiff_slices(tmp_path / "labels", VOLUME.astype(np.float32))
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    with pytest.raises(ValueError, match="float32"):
        dataset.add_layer_from_images(folder, "seg", "segmentation")
    assert not dataset.layers


KILL_SCRIPT = """
import os, signal, sys
import webknossos_like.images.importer as importer
from webknossos_like import Dataset

done = []
original = importer._import_slab

def slab_then_die(slab):
    result = original(slab)
    done.append(slab)
    if len(done) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return result

importer._import_slab = slab_then_die
stack, target, mode = sys.argv[1:]
if mode == "from_images":
    Dataset.from_images(stack, target, voxel_size=(1, 1, 1), chunk_shape=8, shard_shape=8)
else:
    Dataset(target, voxel_size=(1, 1, 1)).add_layer_from_images(
        stack, "color", chunk_shape=8, shard_shape=8
    )
"""


@pytest.mark.parametrize("mode", ["from_images", "add_layer"])
def test_killed_import_leaves_no_complete_looking_layer(
    tmp_path: Path, stack: Path, mode: str
) -> None:
    import subprocess
    import sys

    target = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(stack), str(target), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr
    if mode == "from_images":
        assert not target.exists()  # only a hidden scratch folder beside it
        assert [
            p.name.startswith(".wkl-tmp-out-import-")
            for p in tmp_path.iterdir()
            if p.name != "stack"
        ] == [True]
    else:
        layer = Dataset.open(target).get_layer("color")
        assert [m.to_layer_name() for m in abandoned_mags(layer.path)] == ["1"]
