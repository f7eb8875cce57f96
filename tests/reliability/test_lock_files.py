"""Lock files planted as symlinks (or folders) are refused: locking never writes where they point."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.errors import StorageError

PRECOMPUTED = "neuroglancerPrecomputed"
SECRET = b"private key: do not touch\n"


def _dataset(root: Path) -> Dataset:
    ds = Dataset(root / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", "color").add_mag(1, compress=False).write(np.ones((8, 8, 8), np.uint8))
    ds.add_layer("pc", "color", data_format=PRECOMPUTED).add_mag(1).write(
        np.ones((8, 8, 8), np.uint8)
    )
    return ds


def _add_layer(ds: Dataset) -> Any:
    return Dataset.open(ds.path).add_layer("new", "color")


def _grow_precomputed(ds: Dataset) -> Any:
    mag = Dataset.open(ds.path).get_layer("pc").get_mag(1)
    return mag.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(64, 0, 0))


def _compress(ds: Dataset) -> Any:
    return Dataset.open(ds.path).get_layer("color").get_mag(1).compress()


CASES: dict[str, tuple[str, Callable[[Dataset], Any]]] = {
    "properties lock": (".datasource-properties.json.lock", _add_layer),
    "precomputed info lock": ("pc/.info.lock", _grow_precomputed),
    "WKW mag lock": ("color/.1.lock", _compress),
}


@pytest.mark.regression(
    reason="bug: a lock file that is a symlink truncated the file it points to (filelock 3.x) "
    "or raised a bare OSError (ELOOP, filelock 4.x)"
)
@pytest.mark.parametrize("kind", ["symlink", "dangling symlink", "folder"])
@pytest.mark.parametrize("case", list(CASES))
def test_planted_lock_file_is_refused(fast_tmp: Path, case: str, kind: str) -> None:
    ds = _dataset(fast_tmp)
    name, change = CASES[case]
    victim = fast_tmp / "victim"
    if kind == "symlink":
        victim.write_bytes(SECRET)
    lock = ds.path / name
    lock.unlink(missing_ok=True)
    if kind == "folder":
        lock.mkdir()
    else:
        os.symlink(victim, lock)
    props_before = (ds.path / "datasource-properties.json").read_bytes()

    with pytest.raises(StorageError, match="not a plain file"):
        change(ds)

    if kind == "symlink":
        assert victim.read_bytes() == SECRET
    else:
        assert not victim.exists()
    if case != "precomputed info lock":  # there the layer box is saved before `info` is locked
        assert (ds.path / "datasource-properties.json").read_bytes() == props_before
    # Once the planted file is gone, the same change goes through.
    if kind == "folder":
        lock.rmdir()
    else:
        lock.unlink()
    change(ds)
