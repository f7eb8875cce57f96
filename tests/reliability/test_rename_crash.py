"""Layer renames: a kill at any commit point is rolled forward by the next opener, and mag paths
in every form (`./color/1`, `color/1`, absolute) follow the folder."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset

from ._crash import run_killed

PRECOMPUTED = "neuroglancerPrecomputed"
DATA = np.arange(40 * 24 * 16, dtype=np.uint32).reshape(40, 24, 16) % 251


def _template(root: Path, data_format: str) -> Path:
    ds = Dataset(root, voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", data_format=data_format)
    layer.add_mag(1).write(DATA.astype(np.uint8), absolute_offset=(8, 0, 0))
    layer.downsample(coarsest_mag=2)
    ds.add_layer("other", "color").add_mag(1).write(np.ones((8, 8, 8), np.uint8))
    return root


def _check(path: Path, *, read_only: bool) -> str:
    """The name the layer has now; asserts its data and the other layer read back."""
    ds = Dataset.open(path, read_only=read_only)
    names = set(ds.layers) - {"other"}
    assert len(names) == 1, f"layers {sorted(ds.layers)}"
    (name,) = names
    assert name in ("color", "renamed")
    layer = ds.get_layer(name)
    got = layer.get_mag(1).read(absolute_offset=(8, 0, 0), size=DATA.shape)[0]
    assert np.array_equal(got, DATA.astype(np.uint8))
    assert layer.get_mag(2).read().any()
    assert ds.get_layer("other").get_mag(1).read().sum() == 8**3
    return name


def _rename(path: Path) -> None:
    Dataset.open(path).get_layer("color").name = "renamed"


@pytest.mark.regression(
    reason="bug: a kill between the folder rename and the properties save left the layer "
    "unreadable (header.wkw / info not found) until repaired by hand"
)
@pytest.mark.parametrize("data_format", ["wkw", PRECOMPUTED])
def test_kill_at_every_commit_of_a_rename(
    fast_tmp: Path, data_format: str, stats: Counter[str]
) -> None:
    template = _template(fast_tmp / "template", data_format)
    dry = fast_tmp / "dry"
    shutil.copytree(template, dry, symlinks=True)
    total, _ = run_killed(lambda: _rename(dry), None)
    assert _check(dry, read_only=False) == "renamed"
    for k in range(1, total + 1):
        path = fast_tmp / f"k{k}"
        shutil.copytree(template, path, symlinks=True)
        _, killed = run_killed(lambda p=path: _rename(p), k)  # type: ignore[misc]
        assert killed
        stats[f"crash points (layer rename, {data_format})"] += 1
        _check(path, read_only=True)  # read-only openers see the data, changing nothing
        name = _check(path, read_only=False)  # a writable opener finishes the rename
        assert not list(path.glob(".wkl-rename-*")), "journal left after recovery"
        assert _check(path, read_only=False) == name
        Dataset.open(path).get_layer(name).get_mag(1).write(
            np.zeros((8, 8, 8), np.uint8), absolute_offset=(100, 0, 0)
        )
        shutil.rmtree(path)


@pytest.mark.regression(
    reason="bug: renaming a layer rewrote only mag paths written './<layer>/...'; paths written "
    "'<layer>/1' or absolute (webknossos and hand edits write both) were left pointing at the old "
    "folder"
)
@pytest.mark.parametrize("form", ["./color/1", "color/1", "absolute"])
@pytest.mark.parametrize("data_format", ["wkw", PRECOMPUTED])
def test_rename_follows_every_mag_path_form(fast_tmp: Path, form: str, data_format: str) -> None:
    ds_path = _template(fast_tmp / "ds", data_format)
    props_file = ds_path / "datasource-properties.json"
    props = json.loads(props_file.read_text())
    layer = next(entry for entry in props["dataLayers"] if entry["name"] == "color")
    for mag in layer["mags"]:
        rel = mag["path"].removeprefix("./")
        mag["path"] = {"./color/1": f"./{rel}", "color/1": rel, "absolute": str(ds_path / rel)}[
            form
        ]
    props_file.write_text(json.dumps(props))
    _rename(ds_path)
    assert _check(ds_path, read_only=False) == "renamed"
    saved = json.loads(props_file.read_text())
    paths = [m["path"] for e in saved["dataLayers"] if e["name"] == "renamed" for m in e["mags"]]
    expected = {
        "./color/1": ["./renamed/1", "./renamed/2"],
        "color/1": ["renamed/1", "renamed/2"],
        "absolute": [str(ds_path / "renamed" / "1"), str(ds_path / "renamed" / "2")],
    }[form]
    assert sorted(paths) == expected
