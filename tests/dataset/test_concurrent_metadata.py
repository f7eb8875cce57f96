"""Several processes change one dataset's metadata at once: nothing is lost."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np

from webknossos_like import BoundingBox, Dataset


def _add_layers_and_write(args: tuple[str, int]) -> None:
    path, worker = args
    ds = Dataset.open(path)
    for i in range(5):
        layer = ds.add_layer(f"w{worker}_{i}", "color")
        layer.add_mag(1, compress=False)
    shared = ds.get_layer("shared").get_mag(1)
    # Each worker grows the shared layer's bounding box in its own direction, shard-aligned.
    for step in range(4):
        shared.write(
            np.full((32, 32, 32), worker + 1, np.uint8),
            absolute_offset=(128 * worker, 32 * step, 0),
        )


def test_parallel_layer_adds_and_bbox_growth_all_survive(tmp_path: Path) -> None:
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("shared", "color").add_mag(1, compress=False)
    workers = 4
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        pool.map(_add_layers_and_write, [(str(ds.path), w) for w in range(workers)])
    reopened = Dataset.open(ds.path)
    expected = {"shared"} | {f"w{w}_{i}" for w in range(workers) for i in range(5)}
    assert set(reopened.layers) == expected
    for name in expected - {"shared"}:
        assert [m.to_layer_name() for m in reopened.get_layer(name).mags] == ["1"]
    shared = reopened.get_layer("shared")
    assert shared.bounding_box == BoundingBox((0, 0, 0), (128 * (workers - 1) + 32, 128, 32))
    for w in range(workers):
        block = shared.get_mag(1).read(absolute_offset=(128 * w, 0, 0), size=(32, 128, 32))
        assert (block == w + 1).all()
