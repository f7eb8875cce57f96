"""The main job on the built-in sample data: build a WKW dataset and its pyramid, check, summarise."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from .dataset import COLOR_CATEGORY, SEGMENTATION_CATEGORY, Dataset
from .errors import DatasetExistsError
from .geometry import Vec3Int
from .sample_data import DEFAULT_SHAPE, make_sample

VOXEL_SIZE = (11.24, 11.24, 25.0)
OFFSET = Vec3Int(64, 32, 0)


def _prepare(folder: Path) -> None:
    """Remove a previous demo output (only if it is one of ours) so the demo can run again."""
    if not folder.exists():
        return
    if (folder / "datasource-properties.json").exists():
        shutil.rmtree(folder)
    elif any(folder.iterdir()):
        raise DatasetExistsError(f"{folder} exists and is not a dataset; choose another folder.")


def _disk_usage(path: Path) -> int:
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


def run_demo(
    folder: str | Path = "demo_output/sample_dataset", shape: tuple[int, int, int] = DEFAULT_SHAPE
) -> Dataset:
    """Create the sample dataset as WKW in `folder`, verify it and print a summary table."""
    target = Path(folder)
    _prepare(target)
    started = time.perf_counter()
    image, segmentation = make_sample(shape)
    made = time.perf_counter()

    dataset = Dataset(target, voxel_size=VOXEL_SIZE, name="sample_dataset")
    color = dataset.add_layer("color", COLOR_CATEGORY, dtype="uint8")
    color.add_mag(1, compress=True).write(image, absolute_offset=OFFSET)
    labels = dataset.add_layer("segmentation", SEGMENTATION_CATEGORY, dtype="uint32")
    labels.add_mag(1, compress=True).write(segmentation, absolute_offset=OFFSET)
    written = time.perf_counter()
    dataset.downsample()  # anisotropic pyramid: average for color, mode for labels
    downsampled = time.perf_counter()

    reopened = Dataset.open(target, read_only=True)
    same_image = np.array_equal(reopened.get_layer("color").get_mag(1).read()[0], image)
    same_labels = np.array_equal(
        reopened.get_layer("segmentation").get_mag(1).read()[0], segmentation
    )
    checked = time.perf_counter()
    if not (same_image and same_labels):
        raise RuntimeError("The sample data did not read back identically.")

    print(f"Sample dataset at {target.resolve()}")
    print(f"  voxel size {dataset.voxel_size} {dataset.voxel_size_unit}")
    print(
        f"  {'layer':<14}{'category':<14}{'dtype':<8}{'mags':<16}{'bounding box':<44}{'on disk':>10}"
    )
    for layer in reopened.layers.values():
        box = layer.bounding_box
        mags = ",".join(m.to_layer_name() for m in layer.mags)
        size_mib = _disk_usage(layer.path) / 2**20
        print(
            f"  {layer.name:<14}{layer.category:<14}{layer.dtype!s:<8}{mags:<16}"
            f"{f'{box.topleft.to_tuple()} + {box.size.to_tuple()}':<44}{size_mib:>8.1f} MiB"
        )
    largest = reopened.get_segmentation_layer("segmentation").largest_segment_id
    print(f"  segments: {len(np.unique(segmentation))} labels, largest id {largest}")
    print(
        f"  timings: sample {made - started:.2f} s, write {written - made:.2f} s, "
        f"pyramid {downsampled - written:.2f} s, read+verify {checked - downsampled:.2f} s; "
        "read back identical: yes"
    )
    return reopened
