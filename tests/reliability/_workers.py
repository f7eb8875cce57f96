"""Process bodies for the concurrency tests (module-level, so `spawn` children can import them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from webknossos_like import BoundingBox, Dataset

Box = tuple[tuple[int, int, int], tuple[int, int, int]]


def box_data(seed: int, index: int, size: tuple[int, int, int], dtype: str) -> np.ndarray:
    """The voxels a writer puts into box number `index` (never 0)."""
    rng = np.random.default_rng([seed, index])
    return rng.integers(1, 250, size).astype(dtype)


def write_boxes(
    barrier: Any, path: str, layer: str, boxes: list[tuple[int, Box]], seed: int, dtype: str
) -> None:
    """Write each `(index, (topleft, size))` box of mag 1, one `write` call per box."""
    mag = Dataset.open(path).get_layer(layer).get_mag(1)
    barrier.wait()
    for index, (topleft, size) in boxes:
        mag.write(box_data(seed, index, size, dtype), absolute_offset=topleft)


def add_layers(barrier: Any, path: str, prefix: str, count: int, data_format: str) -> None:
    """Add `count` layers, each with mag 1 (holding one small write) and mag 2."""
    ds = Dataset.open(path)
    barrier.wait()
    for k in range(count):
        layer = ds.add_layer(f"{prefix}{k}", "color", data_format=data_format)
        layer.add_mag(1).write(np.full((8, 8, 8), k + 1, np.uint8), absolute_offset=(8 * k, 0, 0))
        layer.add_mag(2)


def add_mags(barrier: Any, path: str, layer: str, mags: list[str]) -> None:
    """Add the given mags to an existing layer (while others write its mag 1)."""
    ds = Dataset.open(path)
    barrier.wait()
    for mag in mags:
        ds.get_layer(layer).add_mag(mag)


def refresh_largest_segment_id(barrier: Any, path: str, layer: str) -> None:
    """Scan a segmentation layer and store its largest id."""
    barrier.wait()
    Dataset.open(path).get_segmentation_layer(layer).refresh_largest_segment_id()


def union(boxes: list[Box]) -> BoundingBox:
    """The smallest box holding all `boxes`."""
    out = BoundingBox.empty()
    for topleft, size in boxes:
        out = out.extended_by(BoundingBox(topleft, size))
    return out
