"""`except` clauses written for webknossos 4.3.3 catch what we raise for the same mistake.

Each case runs one faulty call through `webknossos` and through ours. Where webknossos raises a
built-in type other than `AssertionError`, our error must be an instance of that type (ours is
a subclass of `WebknossosLikeError` as well). `AssertionError`s are not matched on purpose: they
vanish under `python -O` (docs/migrating-from-webknossos.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webknossos_like as wl
from webknossos_like.errors import WebknossosLikeError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    wk = pytest.importorskip("webknossos")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def _dataset(lib: Any, path: Path) -> Any:
    """A dataset with a 32^3 uint8 color layer `c` (mag 1) and a uint32 segmentation layer `s`."""
    ds = lib.Dataset(path / "ds", voxel_size=(1, 1, 1))
    color = ds.add_layer("c", "color", dtype="uint8", data_format="wkw")
    color.add_mag(1).write(np.zeros((32, 32, 32), np.uint8), allow_resize=True)
    ds.add_layer("s", "segmentation", dtype="uint32", data_format="wkw").add_mag(1)
    return ds


def _file_instead_of_folder(lib: Any, path: Path) -> Any:
    (path / "file").write_text("x")
    return lib.Dataset(path / "file", voxel_size=(1, 1, 1))


CASES: dict[str, Callable[[Any, Any, Path], Any]] = {
    "dataset exists": lambda lib, ds, p: lib.Dataset(p / "ds", voxel_size=(1, 1, 1)),
    "voxel size mismatch with exist_ok": lambda lib, ds, p: lib.Dataset(
        p / "ds", voxel_size=(2, 1, 1), exist_ok=True
    ),
    "dataset path is a file": lambda lib, ds, p: _file_instead_of_folder(lib, p),
    "new dataset without voxel size": lambda lib, ds, p: lib.Dataset(p / "new"),
    "open a missing dataset": lambda lib, ds, p: lib.Dataset.open(p / "missing"),
    "duplicate layer": lambda lib, ds, p: ds.add_layer("c", "color"),
    "get a missing layer": lambda lib, ds, p: ds.get_layer("nope"),
    "delete a missing layer": lambda lib, ds, p: ds.delete_layer("nope"),
    "segmentation layer that is color": lambda lib, ds, p: ds.get_segmentation_layer("c"),
    "unknown category": lambda lib, ds, p: ds.add_layer("x", "foo"),
    "float64 color layer": lambda lib, ds, p: ds.add_layer("x", "color", dtype="float64"),
    "float32 segmentation layer": lambda lib, ds, p: ds.add_layer(
        "x", "segmentation", dtype="float32"
    ),
    "dtype and dtype_per_channel": lambda lib, ds, p: ds.add_layer(
        "x", "color", dtype="uint8", dtype_per_channel="uint8"
    ),
    "invalid layer name": lambda lib, ds, p: ds.add_layer("a b", "color"),
    "rename onto another layer": lambda lib, ds, p: setattr(ds.get_layer("c"), "name", "s"),
    "get a missing mag": lambda lib, ds, p: ds.get_layer("c").get_mag(2),
    "add a mag twice": lambda lib, ds, p: ds.get_layer("c").add_mag(1),
    "delete a missing mag": lambda lib, ds, p: ds.get_layer("c").delete_mag(4),
    "mag string of two values": lambda lib, ds, p: lib.Mag("1-1"),
    "mag zero": lambda lib, ds, p: lib.Mag(0),
    "write 5-D data": lambda lib, ds, p: (
        ds.get_layer("c").get_mag(1).write(np.zeros((1, 1, 32, 32, 32), np.uint8))
    ),
    "write into a read-only view": lambda lib, ds, p: (
        ds.get_layer("c")
        .get_mag(1)
        .get_view(absolute_offset=(0, 0, 0), size=(16, 16, 16), read_only=True)
        .write(np.zeros((16, 16, 16), np.uint8))
    ),
    "write through a read-only dataset": lambda lib, ds, p: (
        lib.Dataset.open(p / "ds", read_only=True)
        .get_layer("c")
        .get_mag(1)
        .write(np.zeros((32, 32, 32), np.uint8))
    ),
    "add a layer to a read-only dataset": lambda lib, ds, p: lib.Dataset.open(
        p / "ds", read_only=True
    ).add_layer("z", "color"),
    "unknown interpolation mode": lambda lib, ds, p: ds.get_layer("c").downsample(
        interpolation_mode="FOO"
    ),
    "chunks_per_shard and shard_shape": lambda lib, ds, p: ds.get_layer("c").add_mag(
        2, shard_shape=64, chunks_per_shard=2
    ),
}


def _raised(lib: Any, case: str, path: Path) -> BaseException:
    """The exception `case` raises with `lib` (the test fails if it raises none)."""
    path.mkdir()
    ds = _dataset(lib, path)
    with pytest.raises(Exception) as info:
        CASES[case](lib, ds, path)
    return info.value


@pytest.mark.parametrize("case", sorted(CASES))
def test_except_clauses_for_webknossos_catch_ours(case: str, tmp_path: Path) -> None:
    theirs = _raised(wk, case, tmp_path / "wk")
    ours = _raised(wl, case, tmp_path / "ours")
    assert isinstance(ours, WebknossosLikeError), repr(ours)
    if type(theirs) is AssertionError:  # pragma: no cover - the list above has none
        pytest.fail(f"{case}: webknossos raises AssertionError; move this case to the docs")
    caught_by = next(t for t in type(theirs).__mro__ if t.__module__ == "builtins")
    assert isinstance(ours, caught_by), (
        f"{case}: webknossos raises {type(theirs).__name__} ({caught_by.__name__}), "
        f"ours {type(ours).__name__} is not a {caught_by.__name__}"
    )


def test_new_classes_keep_our_documented_bases() -> None:
    """The added built-in bases do not remove the ones our own docs promise."""
    from webknossos_like import errors

    assert issubclass(errors.LayerNotFoundError, KeyError)
    assert issubclass(errors.MagNotFoundError, KeyError)
    assert issubclass(errors.ReadOnlyError, PermissionError)
    assert issubclass(errors.DTypeError, TypeError)
    assert issubclass(errors.DatasetExistsError, FileExistsError)
    assert issubclass(errors.UnknownModeError, ValueError)
    assert str(errors.UnknownModeError("plain")) == "plain"  # KeyError would quote it
