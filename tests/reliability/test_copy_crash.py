"""`copy_dataset()` killed at its commit points: the source is untouched, no copied mag that lacks
data is trusted, and `copy_dataset(..., exist_ok=True)` finishes the copy."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.dataset._incomplete import abandoned_mags

from ._crash import run_killed
from ._plan import FORMATS, iter_files, region_data, regions

MAX_POINTS = 30
SEED = 77
PRECOMPUTED = "neuroglancerPrecomputed"


def _source(path: Path) -> Dataset:
    ds = Dataset(path, voxel_size=(1, 1, 1))
    color = ds.add_layer("color", "color").add_mag(1, compress=False)
    seg = ds.add_layer("seg", "segmentation", dtype="uint32", data_format=PRECOMPUTED).add_mag(1)
    for region in regions(SEED, 4):
        color.write(region_data(SEED, region, FORMATS["wkw_raw"]), absolute_offset=region.offset)
        seg.write(
            region_data(SEED, region, FORMATS["precomputed_cseg"]), absolute_offset=region.offset
        )
    color.layer.downsample(coarsest_mag=2)
    return ds


def _same_data(target: Path, source: Path, *, trust_all: bool) -> list[str]:
    """Problems: copied mags (except unfinished ones, unless `trust_all`) that differ."""
    problems = []
    src = Dataset.open(source, read_only=True)
    dst = Dataset.open(target, read_only=True)
    for name, layer in dst.layers.items():
        unfinished = set() if trust_all else set(abandoned_mags(target / name))
        for mag, view in layer.mags.items():
            if mag in unfinished:
                continue
            theirs = src.get_layer(name).get_mag(mag)
            box = theirs.bounding_box
            if not np.array_equal(view.read(absolute_bounding_box=box), theirs.read()):
                problems.append(f"{name} mag {mag} differs from the source")
    if trust_all and set(dst.layers) != set(src.layers):
        problems.append(f"layers {sorted(dst.layers)} instead of {sorted(src.layers)}")
    return problems


@pytest.mark.parametrize("data_format", [None, PRECOMPUTED])
def test_kill_at_commit_points_of_copy_dataset(
    fast_tmp: Path, data_format: str | None, stats: Counter[str]
) -> None:
    source = _source(fast_tmp / "src").path
    before = sorted(iter_files(source))

    def copy(target: Path) -> None:
        Dataset.open(source).copy_dataset(target, data_format=data_format, exist_ok=True)

    total, _ = run_killed(lambda: copy(fast_tmp / "dry"), None)
    step = max(1, total // MAX_POINTS)
    failures = []
    for k in sorted({*range(1, total + 1, step), total}):
        target = fast_tmp / f"k{k}"
        _, killed = run_killed(lambda t=target: copy(t), k)  # type: ignore[misc]
        assert killed
        stats[f"crash points (copy_dataset, {data_format or 'same format'})"] += 1
        if (target / "datasource-properties.json").exists():
            failures += [f"k={k}/{total}: {p}" for p in _same_data(target, source, trust_all=False)]
        copy(target)  # finishes the interrupted copy
        failures += [
            f"k={k}/{total} retried: {p}" for p in _same_data(target, source, trust_all=True)
        ]
        shutil.rmtree(target)
    assert sorted(iter_files(source)) == before, "the source changed"
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:6])
