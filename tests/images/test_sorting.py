"""Slice order: natural by the number in the name by default, or any sort key."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from webknossos_like import Dataset
from webknossos_like.cli import main
from webknossos_like.images import name_sort_key, natural_sort_key

from ._stacks import write_tiff_slices


def test_natural_sort_key_orders_numbers_by_value() -> None:
    names = ["img10.tif", "img2.tif", "img1.tif", "IMG3.tif", "img2b.tif", "img002.tif"]
    assert sorted(names, key=natural_sort_key) == [
        "img1.tif",
        "img002.tif",
        "img2.tif",
        "img2b.tif",
        "IMG3.tif",
        "img10.tif",
    ]
    assert sorted(["z_9_a.png", "z_10_a.png"], key=natural_sort_key) == ["z_9_a.png", "z_10_a.png"]


def test_folder_import_uses_natural_order(tmp_path: Path) -> None:
    volume = np.arange(12, dtype=np.uint8)[np.newaxis, np.newaxis, :].repeat(4, 0).repeat(3, 1)
    folder = write_tiff_slices(tmp_path / "stack", volume, pattern="s{}.tif")
    dataset = Dataset.from_images(folder, tmp_path / "ds", voxel_size=(1, 1, 1))
    assert dataset.get_layer("color").get_mag(1).read()[0, 0, 0].tolist() == list(range(12))


def test_sort_key_option(tmp_path: Path) -> None:
    volume = np.arange(12, dtype=np.uint8)[np.newaxis, np.newaxis, :].repeat(4, 0).repeat(3, 1)
    folder = write_tiff_slices(tmp_path / "stack", volume, pattern="s{}.tif")
    dataset = Dataset.from_images(
        folder, tmp_path / "ds", voxel_size=(1, 1, 1), z_slices_sort_key=name_sort_key
    )
    expected = sorted(range(12), key=lambda z: f"s{z}.tif")  # s0, s1, s10, s11, s2, ...
    assert dataset.get_layer("color").get_mag(1).read()[0, 0, 0].tolist() == expected


def test_cli_sort_by_mtime(tmp_path: Path) -> None:
    volume = np.arange(5, dtype=np.uint8)[np.newaxis, np.newaxis, :].repeat(2, 0).repeat(2, 1)
    folder = write_tiff_slices(tmp_path / "stack", volume, pattern="s{}.tif")
    for age, z in enumerate([3, 1, 4, 0, 2]):  # acquisition order differs from the numbers
        os.utime(folder / f"s{z}.tif", (1_000_000 + age, 1_000_000 + age))
    code = main(
        ["import", str(folder), str(tmp_path / "ds"), "--voxel-size", "1", "--sort", "mtime"]
    )
    assert code == 0
    data = Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1).read()[0, 0, 0]
    assert data.tolist() == [3, 1, 4, 0, 2]


def test_category_guess_looks_at_the_input_name_only() -> None:
    from webknossos_like.images.naming import guess_category

    assert guess_category("/data/run1/labels") == "segmentation"
    assert guess_category("/data/cell_segmentation.ome.tif") == "segmentation"
    assert guess_category("/home/labelle/raw") == "color"
