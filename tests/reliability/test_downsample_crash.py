"""`downsample()` killed at its commit points: no mag that lacks data is trusted, and the next
`downsample()` rebuilds exactly what an uninterrupted run builds."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset, Mag
from webknossos_like.dataset._incomplete import abandoned_mags

from ._crash import run_killed
from ._plan import FORMATS, LAYER, region_data, regions, setup_dataset

MAX_POINTS = 30
SEED = 4242
COARSEST = 4


def _downsample(path: Path) -> None:
    Dataset.open(path).get_layer(LAYER).downsample(coarsest_mag=COARSEST)


def _mags(path: Path) -> dict[Mag, np.ndarray]:
    layer = Dataset.open(path, read_only=True).get_layer(LAYER)
    return {mag: view.read() for mag, view in layer.mags.items()}


@pytest.mark.regression(
    reason="bug: a kill after downsample() registered mag 2 and before it was filled left a "
    "pyramid whose mags held zeros, and a new downsample() did not repair it"
)
@pytest.mark.parametrize("fmt_name", ["wkw_raw", "wkw_lz4", "precomputed_raw", "precomputed_cseg"])
def test_kill_at_commit_points_of_downsample(
    fmt_name: str, fast_tmp: Path, stats: Counter[str]
) -> None:
    fmt = FORMATS[fmt_name]
    template = fast_tmp / "template"
    mag = setup_dataset(template, fmt)
    for region in regions(SEED, 6):
        mag.write(region_data(SEED, region, fmt), absolute_offset=region.offset)
    dry = fast_tmp / "dry"
    shutil.copytree(template, dry, symlinks=True)
    total, _ = run_killed(lambda: _downsample(dry), None)
    reference = _mags(dry)
    assert len(reference) == 3, sorted(reference)
    step = max(1, total // MAX_POINTS)
    points = sorted({*range(1, total + 1, step), total})
    failures = []
    for k in points:
        path = fast_tmp / f"k{k}"
        shutil.copytree(template, path, symlinks=True)
        _, killed = run_killed(lambda p=path: _downsample(p), k)  # type: ignore[misc]
        assert killed
        stats[f"crash points (downsample, {fmt_name})"] += 1
        unfinished = set(abandoned_mags(path / LAYER))
        for mag_key, data in _mags(path).items():
            if mag_key not in unfinished and not np.array_equal(data, reference[mag_key]):
                failures.append(
                    f"k={k}/{total}: mag {mag_key} differs and is not marked unfinished"
                )
        _downsample(path)
        rebuilt = _mags(path)
        if rebuilt.keys() != reference.keys():
            failures.append(f"k={k}/{total}: mags {sorted(rebuilt)} after a new downsample()")
        else:
            failures += [
                f"k={k}/{total}: mag {m} differs after a new downsample()"
                for m in reference
                if not np.array_equal(rebuilt[m], reference[m])
            ]
        if abandoned_mags(path / LAYER) or list((path / LAYER).glob(".wkl-incomplete-*")):
            failures.append(f"k={k}/{total}: markers left after a new downsample()")
        shutil.rmtree(path)
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:6])
