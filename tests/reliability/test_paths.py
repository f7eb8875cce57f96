"""Names and paths from metadata cannot make a write land outside the dataset folder.

Each scenario builds a sandbox: the dataset `ds/` and, beside it, `outside/` holding real
targets (a WKW mag, a precomputed volume with `info`, a dataset) so that an unguarded write
would succeed there. The properties JSON or `info` is then edited to point out of the dataset
(`../`, absolute paths, symlinks, a layer named `../...`, a scale key `../x`), a write is
attempted, and:
- it raises an exception of `webknossos_like.errors`;
- nothing outside `ds/` was created, changed or removed (all paths, mtimes and sizes compared);
- foreign data is still readable, read-only.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset, Vec3Int
from webknossos_like.errors import InvalidNameError, ReadOnlyError, WebknossosLikeError
from webknossos_like.storage.wkw.array import WKWArray

from ._plan import iter_files

PRECOMPUTED = "neuroglancerPrecomputed"
DATA = np.full((8, 8, 8), 9, np.uint8)


def outside_snapshot(sandbox: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder of the sandbox except the dataset's own (`ds/`)."""
    return {
        rel: (mtime, size)
        for rel, mtime, size in iter_files(sandbox)
        if rel != "ds" and not rel.startswith("ds" + os.sep)
    }


def edit_properties(ds_path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    file = ds_path / "datasource-properties.json"
    props = json.loads(file.read_text())
    change(props)
    file.write_text(json.dumps(props, indent=4))


def make_sandbox(root: Path) -> dict[str, Path]:
    """`ds/` with a WKW and a precomputed layer; `outside/` with foreign targets."""
    ds = Dataset(root / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", "color").add_mag(1, compress=False).write(DATA)
    ds.add_layer("pc", "color", data_format=PRECOMPUTED).add_mag(1).write(DATA)
    foreign = Dataset(root / "outside" / "foreign", voxel_size=(1, 1, 1))
    foreign.add_layer("color", "color").add_mag(1, compress=False).write(DATA + 1)
    foreign.add_layer("pc", "color", data_format=PRECOMPUTED).add_mag(1).write(DATA + 1)
    return {
        "root": root,
        "ds": ds.path,
        "wkw_mag": foreign.path / "color" / "1",
        "wkw_layer": foreign.path / "color",
        "pc_layer": foreign.path / "pc",
    }


# -- scenarios: each edits the sandbox and returns the attempted write -----------------------


def mag_path_relative_escape(s: dict[str, Path]) -> Callable[[], Any]:
    rel = os.path.relpath(s["wkw_mag"], s["ds"])  # ../outside/foreign/color/1
    edit_properties(s["ds"], lambda p: p["dataLayers"][0]["mags"][0].update(path=rel))
    return lambda: Dataset.open(s["ds"]).get_layer("color").get_mag(1).write(DATA)


def mag_path_dotdot_prefixed(s: dict[str, Path]) -> Callable[[], Any]:
    rel = "./" + os.path.relpath(s["wkw_mag"], s["ds"])  # ./../outside/...
    edit_properties(s["ds"], lambda p: p["dataLayers"][0]["mags"][0].update(path=rel))
    return lambda: Dataset.open(s["ds"]).get_layer("color").get_mag(1).write(DATA)


def mag_path_absolute(s: dict[str, Path]) -> Callable[[], Any]:
    edit_properties(s["ds"], lambda p: p["dataLayers"][0]["mags"][0].update(path=str(s["wkw_mag"])))
    return lambda: Dataset.open(s["ds"]).get_layer("color").get_mag(1).write(DATA)


def mag_folder_symlink(s: dict[str, Path]) -> Callable[[], Any]:
    mag = s["ds"] / "color" / "1"
    for child in sorted(mag.rglob("*"), reverse=True):
        child.unlink() if not child.is_dir() else child.rmdir()
    mag.rmdir()
    mag.symlink_to(s["wkw_mag"], target_is_directory=True)
    return lambda: Dataset.open(s["ds"]).get_layer("color").get_mag(1).write(DATA)


def mag_symlink_compress(s: dict[str, Path]) -> Callable[[], Any]:
    mag_folder_symlink(s)
    return lambda: Dataset.open(s["ds"]).get_layer("color").get_mag(1).compress()


def layer_named_dotdot_wkw(s: dict[str, Path]) -> Callable[[], Any]:
    """Layer named `../outside/foreign/color`, mags without a path: resolved outside."""

    def change(p: dict[str, Any]) -> None:
        layer = p["dataLayers"][0]
        layer["name"] = "../outside/foreign/color"
        for mag in layer["mags"]:
            mag.pop("path", None)

    edit_properties(s["ds"], change)
    return lambda: (
        Dataset.open(s["ds"]).get_layer("../outside/foreign/color").get_mag(1).write(DATA)
    )


def layer_named_dotdot_wkw_add_mag(s: dict[str, Path]) -> Callable[[], Any]:
    layer_named_dotdot_wkw(s)
    return lambda: Dataset.open(s["ds"]).get_layer("../outside/foreign/color").add_mag(2)


def layer_named_dotdot_precomputed(s: dict[str, Path]) -> Callable[[], Any]:
    """Precomputed layer renamed to `../outside/foreign/pc`, its mag path still inside `ds/`."""
    edit_properties(s["ds"], lambda p: p["dataLayers"][1].update(name="../outside/foreign/pc"))
    return lambda: (
        Dataset.open(s["ds"])
        .get_layer("../outside/foreign/pc")
        .get_mag(1)
        .write(DATA, absolute_offset=(64, 0, 0))
    )


def layer_named_dotdot_precomputed_inside_box(s: dict[str, Path]) -> Callable[[], Any]:
    edit_properties(s["ds"], lambda p: p["dataLayers"][1].update(name="../outside/foreign/pc"))
    return lambda: Dataset.open(s["ds"]).get_layer("../outside/foreign/pc").get_mag(1).write(DATA)


def layer_folder_symlink(s: dict[str, Path]) -> Callable[[], Any]:
    """`ds/linked` -> the foreign WKW layer (how webknossos links layers of other datasets)."""
    (s["ds"] / "linked").symlink_to(s["wkw_layer"], target_is_directory=True)

    def change(p: dict[str, Any]) -> None:
        layer = json.loads(json.dumps(p["dataLayers"][0]))
        layer["name"] = "linked"
        for mag in layer["mags"]:
            mag["path"] = "./linked/1"
        p["dataLayers"].append(layer)

    edit_properties(s["ds"], change)
    return lambda: Dataset.open(s["ds"]).get_layer("linked").get_mag(1).write(DATA)


def layer_folder_symlink_add_mag(s: dict[str, Path]) -> Callable[[], Any]:
    layer_folder_symlink(s)
    return lambda: Dataset.open(s["ds"]).get_layer("linked").add_mag(2)


def layer_folder_symlink_downsample(s: dict[str, Path]) -> Callable[[], Any]:
    layer_folder_symlink(s)
    return lambda: Dataset.open(s["ds"]).get_layer("linked").downsample(coarsest_mag=2)


def layer_folder_symlink_delete_mag(s: dict[str, Path]) -> Callable[[], Any]:
    layer_folder_symlink(s)
    return lambda: Dataset.open(s["ds"]).get_layer("linked").delete_mag(1)


def precomputed_mag_path_escape(s: dict[str, Path]) -> Callable[[], Any]:
    rel = os.path.relpath(s["pc_layer"] / "1", s["ds"])
    edit_properties(s["ds"], lambda p: p["dataLayers"][1]["mags"][0].update(path=rel))
    return lambda: Dataset.open(s["ds"]).get_layer("pc").get_mag(1).write(DATA)


def precomputed_scale_key_dotdot(s: dict[str, Path]) -> Callable[[], Any]:
    """The layer's `info` names its scale `../../outside/...`; the mag path follows it."""
    key = os.path.relpath(s["pc_layer"] / "1", s["ds"] / "pc")
    info_file = s["ds"] / "pc" / "info"
    info = json.loads(info_file.read_text())
    info["scales"][0]["key"] = key
    info_file.write_text(json.dumps(info))
    edit_properties(s["ds"], lambda p: p["dataLayers"][1]["mags"][0].update(path=f"./pc/{key}"))
    return lambda: Dataset.open(s["ds"]).get_layer("pc").get_mag(1).write(DATA)


def precomputed_scale_key_dotdot_inside(s: dict[str, Path]) -> Callable[[], Any]:
    """Scale key `../x`: resolves inside the dataset but outside the layer (`ds/x`)."""
    info_file = s["ds"] / "pc" / "info"
    info = json.loads(info_file.read_text())
    info["scales"][0]["key"] = "../x"
    info_file.write_text(json.dumps(info))
    edit_properties(s["ds"], lambda p: p["dataLayers"][1]["mags"][0].update(path="./pc/../x"))
    return lambda: Dataset.open(s["ds"]).get_layer("pc").get_mag(1).write(DATA)


def bare_scale_key_dotdot(s: dict[str, Path]) -> Callable[[], Any]:
    """A bare precomputed folder whose scale key is `../outside/foreign/pc/1`."""
    bare = s["ds"] / "bare"
    bare.mkdir()
    info = json.loads((s["pc_layer"] / "info").read_text())
    info["scales"][0]["key"] = os.path.relpath(s["pc_layer"] / "1", bare)
    (bare / "info").write_text(json.dumps(info))
    return lambda: next(iter(Dataset.open(bare).layers.values())).get_mag(1).write(DATA)


def bare_scale_key_absolute(s: dict[str, Path]) -> Callable[[], Any]:
    bare = s["ds"] / "bare"
    bare.mkdir()
    info = json.loads((s["pc_layer"] / "info").read_text())
    info["scales"][0]["key"] = str(s["pc_layer"] / "1")
    (bare / "info").write_text(json.dumps(info))
    return lambda: next(iter(Dataset.open(bare).layers.values())).get_mag(1).write(DATA)


def add_layer_dotdot(s: dict[str, Path]) -> Callable[[], Any]:
    return lambda: Dataset.open(s["ds"]).add_layer("../outside/new", "color")


def add_layer_absolute(s: dict[str, Path]) -> Callable[[], Any]:
    return lambda: Dataset.open(s["ds"]).add_layer(str(s["root"] / "outside" / "new"), "color")


def rename_layer_dotdot(s: dict[str, Path]) -> Callable[[], Any]:
    def rename() -> None:
        Dataset.open(s["ds"]).get_layer("color").name = "../outside/renamed"

    return rename


SYMLINKED_LAYER_BUG = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: Layer.add_mag / downsample do not check that the layer folder resolves inside "
    "the dataset: through a symlinked (foreign) layer they create mags outside it",
)
PRECOMPUTED_LAYER_NAME_BUG = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: MagView writes of a precomputed layer go to FileKVStore(layer.path) fenced at the "
    "layer folder, and the layer name from the properties (`../outside/...`) is never validated on "
    "that path: chunks and info are written outside the dataset",
)
SCENARIOS = [
    mag_path_relative_escape,
    mag_path_dotdot_prefixed,
    mag_path_absolute,
    mag_folder_symlink,
    mag_symlink_compress,
    layer_named_dotdot_wkw,
    layer_named_dotdot_wkw_add_mag,
    pytest.param(layer_named_dotdot_precomputed, marks=PRECOMPUTED_LAYER_NAME_BUG),
    pytest.param(layer_named_dotdot_precomputed_inside_box, marks=PRECOMPUTED_LAYER_NAME_BUG),
    layer_folder_symlink,
    pytest.param(layer_folder_symlink_add_mag, marks=SYMLINKED_LAYER_BUG),
    pytest.param(layer_folder_symlink_downsample, marks=SYMLINKED_LAYER_BUG),
    precomputed_mag_path_escape,
    precomputed_scale_key_dotdot,
    precomputed_scale_key_dotdot_inside,
    bare_scale_key_dotdot,
    bare_scale_key_absolute,
    add_layer_dotdot,
    add_layer_absolute,
    rename_layer_dotdot,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_write_cannot_leave_the_dataset(
    scenario: Callable[[dict[str, Path]], Callable[[], Any]], fast_tmp: Path
) -> None:
    sandbox = make_sandbox(fast_tmp)
    attempt = scenario(sandbox)
    before = outside_snapshot(fast_tmp)
    raised: BaseException | None = None
    try:
        attempt()
    except WebknossosLikeError as exc:
        raised = exc
    except Exception as exc:  # reported below, after the file check
        raised = exc
    after = outside_snapshot(fast_tmp)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"files outside the dataset changed: {changed[:8]}"
    assert isinstance(raised, WebknossosLikeError), (
        f"expected an error of webknossos_like.errors, got {raised!r}"
    )


@pytest.mark.parametrize(
    "scenario",
    [
        mag_path_relative_escape,
        mag_path_absolute,
        mag_folder_symlink,
        layer_folder_symlink,
        pytest.param(
            precomputed_mag_path_escape,
            marks=pytest.mark.regression(
                strict=True,
                raises=AssertionError,
                reason="bug: _precomputed.scale_key() reduces a mag path outside the layer to its "
                "basename, so the (read-only) mag silently reads the local scale of that name "
                "instead of the referenced foreign one",
            ),
        ),
        bare_scale_key_dotdot,
    ],
    ids=lambda f: getattr(f, "__name__", str(f)),
)
def test_foreign_data_reads_read_only(
    scenario: Callable[[dict[str, Path]], Callable[[], Any]], fast_tmp: Path
) -> None:
    sandbox = make_sandbox(fast_tmp)
    scenario(sandbox)
    name = scenario.__name__
    if name.startswith("bare"):
        mag = next(iter(Dataset.open(sandbox["ds"] / "bare").layers.values())).get_mag(1)
    else:
        layer = {"precomputed_mag_path_escape": "pc", "layer_folder_symlink": "linked"}.get(
            name, "color"
        )
        mag = Dataset.open(sandbox["ds"]).get_layer(layer).get_mag(1)
    assert mag.read_only
    assert (mag.read(absolute_bounding_box=BoundingBox((0, 0, 0), (8, 8, 8))) == DATA + 1).all()
    with pytest.raises(ReadOnlyError):
        mag.get_view(read_only=False)


def test_foreign_delete_mag_keeps_foreign_files(fast_tmp: Path) -> None:
    """Deleting a foreign mag (or a symlinked layer) drops the reference, not the data."""
    sandbox = make_sandbox(fast_tmp)
    layer_folder_symlink_delete_mag(sandbox)
    mag_path_absolute(sandbox)
    before = outside_snapshot(fast_tmp)
    ds = Dataset.open(sandbox["ds"])
    ds.get_layer("color").delete_mag(1)
    ds.delete_layer("linked")
    assert outside_snapshot(fast_tmp) == before
    assert (sandbox["wkw_mag"] / "header.wkw").exists()


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../x", "/abs", "a\\b", "", ".hidden", "a\x00"])
def test_invalid_layer_names_refused_before_any_write(name: str, fast_tmp: Path) -> None:
    sandbox = make_sandbox(fast_tmp)
    before = {rel: (m, s) for rel, m, s in iter_files(fast_tmp)}
    with pytest.raises(InvalidNameError):
        Dataset.open(sandbox["ds"]).add_layer(name, "color")
    assert {rel: (m, s) for rel, m, s in iter_files(fast_tmp)} == before


# -- symlinks inside a mag (`cp -rs`): shard files, `z*` and `y*` folders ---------------------

SHARD_LINKS = {"shard_file": "z0/y0/x0.wkw", "y_folder": "z0/y0", "z_folder": "z0"}


def outside_bytes(sandbox: Path) -> dict[str, bytes]:
    """Content of every file outside `ds/` (a same-size in-place write keeps size and may keep
    the mtime within its resolution)."""
    return {
        str(p.relative_to(sandbox)): p.read_bytes()
        for p in sorted((sandbox / "outside").rglob("*"))
        if p.is_file()
    }


def link_into_foreign(root: Path, compress: bool, level: str) -> tuple[Path, Path]:
    """`ds/color/1` and `outside/foreign/color/1` with one shard level of the first replaced by
    a symlink to the second (what `cp -rs` makes, one level at a time)."""
    ds = Dataset(root / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", "color").add_mag(1, compress=compress).write(DATA)
    foreign = Dataset(root / "outside" / "foreign", voxel_size=(1, 1, 1))
    foreign.add_layer("color", "color").add_mag(1, compress=compress).write(DATA + 1)
    mine, theirs = ds.path / "color" / "1", foreign.path / "color" / "1"
    rel = SHARD_LINKS[level]
    (mine / rel).unlink() if level == "shard_file" else shutil.rmtree(mine / rel)
    (mine / rel).symlink_to(theirs / rel, target_is_directory=level != "shard_file")
    return mine, theirs


@pytest.mark.regression(
    reason="bug: WKWArray.write (used directly, without the SwappableWKWArray copy-on-write) "
    "wrote through a symlinked shard file or `z*`/`y*` folder into files outside the dataset"
)
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "compressed"])
@pytest.mark.parametrize("level", list(SHARD_LINKS))
def test_plain_wkw_array_refuses_writes_through_foreign_symlinks(
    level: str, compress: bool, fast_tmp: Path
) -> None:
    mine, _ = link_into_foreign(fast_tmp, compress, level)
    before, content = outside_snapshot(fast_tmp), outside_bytes(fast_tmp)
    array = WKWArray(mine)
    try:
        with pytest.raises(ReadOnlyError, match="symlink"):
            array.write(Vec3Int.zeros(), DATA[None] + 5)  # into the linked shard
        if level != "shard_file":  # a new shard in the linked folder: created in the target
            with pytest.raises(ReadOnlyError, match="symlink"):
                array.write(Vec3Int(array.info.shard_shape.x, 0, 0), DATA[None] + 5)
        assert (array.read(BoundingBox((0, 0, 0), (8, 8, 8)))[0] == DATA + 1).all()
    finally:
        array.close()
    assert outside_snapshot(fast_tmp) == before
    assert outside_bytes(fast_tmp) == content


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "compressed"])
@pytest.mark.parametrize("level", list(SHARD_LINKS))
@pytest.mark.parametrize("operation", ["write", "write_partial", "compress", "downsample"])
def test_dataset_writes_into_cp_rs_mags_stay_inside(
    operation: str, level: str, compress: bool, fast_tmp: Path
) -> None:
    """Through a Dataset, a symlinked shard file is copied on write, a symlinked folder refuses
    writes (ReadOnlyError); compress() and downsampling rebuild private files. Either way no
    file outside the dataset changes and reads through the links keep working."""
    mine, _ = link_into_foreign(fast_tmp, compress, level)
    before, content = outside_snapshot(fast_tmp), outside_bytes(fast_tmp)
    layer = Dataset.open(mine.parent.parent).get_layer("color")
    expected = DATA + 1
    try:
        if operation == "write":
            layer.get_mag(1).write(DATA + 5)
            expected = DATA + 5
        elif operation == "write_partial":
            layer.get_mag(1).write(DATA[:2] + 5)
            expected = (DATA + 1).copy()
            expected[:2] = 5 + 9
        elif operation == "compress":
            layer.get_mag(1).compress()
        else:
            layer.downsample(coarsest_mag=2)
    except ReadOnlyError as exc:
        assert level != "shard_file" and operation.startswith("write"), exc
        assert "symlink" in str(exc)
    got = Dataset.open(mine.parent.parent).get_layer("color").get_mag(1)
    assert (
        got.read(absolute_bounding_box=BoundingBox((0, 0, 0), (8, 8, 8)))[0] == expected
    ).all() or (level != "shard_file" and operation.startswith("write"))
    assert outside_snapshot(fast_tmp) == before
    assert outside_bytes(fast_tmp) == content
