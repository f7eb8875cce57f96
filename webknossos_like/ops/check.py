"""Whole-dataset checks: everything stored reads back, or two datasets hold the same voxels."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import TYPE_CHECKING

import numpy as np

from ..parallel import run_tasks

if TYPE_CHECKING:
    from ..dataset.dataset import Dataset
    from ..dataset.view import View


def _read_view(view: View) -> int:
    """Read one stored region (decoding every chunk); module-level so it pickles."""
    data = view.read()
    return int(np.asarray(data.shape).prod())


def check_dataset_readable(dataset: Dataset, executor: Executor | None = None) -> int:
    """Read every stored region of every mag; returns how many regions were read."""
    count = 0
    for layer in dataset.layers.values():
        for mag, view in layer.mags.items():
            views = [
                view.get_view(absolute_bounding_box=box, read_only=True)
                for box in view.get_bounding_boxes_on_disk()
            ]
            desc = f"Checking {layer.name} mag {mag.to_layer_name()}"
            run_tasks(_read_view, views, executor, desc=desc)
            count += len(views)
    return count


def compare_datasets(
    first: Dataset, second: Dataset, executor: Executor | None = None
) -> list[str]:
    """Human-readable differences in layers, metadata, mags and voxels (empty when equal)."""
    differences: list[str] = []
    names = set(first.layers) | set(second.layers)
    for name in sorted(names):
        if name not in first.layers or name not in second.layers:
            differences.append(f"layer {name!r} exists in only one dataset")
            continue
        a, b = first.layers[name], second.layers[name]
        for label, left, right in (
            ("category", a.category, b.category),
            ("dtype", a.dtype, b.dtype),
            ("num_channels", a.num_channels, b.num_channels),
            ("bounding box", a.bounding_box, b.bounding_box),
            ("mags", list(a.mags), list(b.mags)),
        ):
            if left != right:
                differences.append(f"layer {name!r}: {label} {left} != {right}")
        for mag in set(a.mags) & set(b.mags):
            if not a.mags[mag].content_is_equal(b.mags[mag], executor=executor):
                differences.append(f"layer {name!r} mag {mag.to_layer_name()}: voxels differ")
    return differences
