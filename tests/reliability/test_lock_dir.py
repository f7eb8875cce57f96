"""`WKL_LOCK_DIR`: lock files live outside the dataset, so copies and syncs never ship them."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset


def _add_layer(args: tuple[str, str]) -> None:
    path, name = args
    Dataset.open(path).add_layer(name, "color", data_format="zarr3")


def _lock_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".lock")]


def test_no_lock_files_in_datasets_or_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wkw")
    locks = tmp_path / "locks"
    monkeypatch.setenv("WKL_LOCK_DIR", str(locks))
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    data = np.ones((64, 64, 64), np.uint8)
    ds.add_layer("w", "color", data_format="wkw").add_mag(1).write(data)
    ds.get_layer("w").get_mag(1).compress()
    pc = ds.add_layer("pc", "color", data_format="neuroglancerPrecomputed").add_mag(1, sharded=True)
    pc.write(data)
    pc.write(data, absolute_offset=(64, 0, 0))  # grows: the info lock is taken exclusive
    ds.get_layer("pc").downsample()
    copy = ds.copy_dataset(tmp_path / "copy", data_format="zarr3")
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_add_layer, [(str(ds.path), "a"), (str(ds.path), "b")]))
    assert {"a", "b"} <= set(Dataset.open(tmp_path / "ds").layers)
    assert _lock_files(tmp_path / "ds") == []
    assert _lock_files(copy.path) == []
    assert any(locks.iterdir())  # the locks were taken, just elsewhere
