"""The format registry and the storage seam: names, aliases, and a format added at run time."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import webknossos_like as wkl
from webknossos_like.errors import InvalidArgumentError, UnsupportedFormatError
from webknossos_like.storage import formats

PACKAGE = Path(wkl.__file__).parent


@pytest.fixture
def npy_format() -> Iterator[str]:
    formats.register_format("npy-test", "tests.storage._npy_format:NpyFormat", aliases=("npy",))
    yield "npy-test"
    formats.unregister_format("npy-test")


def test_known_formats_and_aliases() -> None:
    assert set(formats.format_names()) >= {"wkw", "neuroglancerPrecomputed", "zarr3"}
    assert formats.canonical_name("neuroglancer_precomputed") == "neuroglancerPrecomputed"
    assert formats.get_format("precomputed") is formats.get_format("neuroglancerPrecomputed")
    with pytest.raises(UnsupportedFormatError, match="supported: wkw") as info:
        formats.canonical_name("n5")
    assert isinstance(info.value, ValueError)


def test_alias_is_stored_in_its_properties_spelling(tmp_path: Path) -> None:
    ds = wkl.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", data_format="neuroglancer_precomputed")
    assert layer.data_format == "neuroglancerPrecomputed"
    assert wkl.Dataset.open(tmp_path / "ds").get_layer("color").data_format == (
        "neuroglancerPrecomputed"
    )


def test_a_format_registered_at_run_time_works_through_the_whole_object_model(
    tmp_path: Path, npy_format: str
) -> None:
    ds = wkl.Dataset(tmp_path / "ds", voxel_size=(4, 4, 4))
    layer = ds.add_layer("color", "color", dtype="uint16", data_format="npy")
    assert layer.data_format == npy_format
    mag = layer.add_mag(1, shard_shape=16)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 60000, (40, 30, 20), dtype=np.uint16)
    mag.write(data, absolute_offset=(5, 7, 3))
    assert layer.bounding_box == wkl.BoundingBox((5, 7, 3), (40, 30, 20))
    reopened = wkl.Dataset.open(tmp_path / "ds").get_layer("color")
    np.testing.assert_array_equal(reopened.get_mag(1).read_xyz(), data)
    assert (tmp_path / "ds" / "color" / "1" / "0_0_0.npy").is_file()

    layer.downsample(coarsest_mag=2)
    coarse = layer.get_mag(2).read_xyz()
    assert coarse.shape == (21, 16, 11)  # (5, 7, 3)-(45, 37, 23) rounded out to mag 2
    assert coarse.max() > 0
    assert layer.get_mag(2).info.data_format == npy_format

    copy = ds.copy_dataset(tmp_path / "as_wkw", data_format="wkw")
    np.testing.assert_array_equal(copy.get_layer("color").get_mag(1).read_xyz(), data)
    np.testing.assert_array_equal(copy.get_layer("color").get_mag(2).read_xyz(), coarse)
    back = copy.copy_dataset(tmp_path / "back", data_format="npy")
    np.testing.assert_array_equal(back.get_layer("color").get_mag(1).read_xyz(), data)

    layer.delete_mag(2)
    assert not (tmp_path / "ds" / "color" / "2-2-1").exists()
    assert not (tmp_path / "ds" / "color" / "2").exists()


def test_unsupported_operations_of_a_format_raise_our_error(
    tmp_path: Path, npy_format: str
) -> None:
    ds = wkl.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("color", "color", data_format=npy_format).add_mag(1)
    with pytest.raises(UnsupportedFormatError, match="compress"):
        mag.compress()
    with pytest.raises(InvalidArgumentError, match="sharded"):
        ds.get_layer("color").add_mag(2, sharded=True)


def test_dataset_ops_and_serve_name_no_format() -> None:
    """The seam holds: no code in `dataset/`, `ops/` or `serve/` compares a data format name
    (docstrings may mention them); formats are reached through `storage.formats` only."""
    names = {"wkw", "zarr3", "zarr", "neuroglancerPrecomputed", "precomputed", "n5"}
    offenders = []
    for folder in ("dataset", "ops", "serve", "notebook"):
        for source in (PACKAGE / folder).glob("*.py"):
            tree = ast.parse(source.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Compare):
                    for part in ast.walk(node):
                        if isinstance(part, ast.Constant) and part.value in names:
                            offenders.append(f"{source.name}:{node.lineno}")
                if (
                    isinstance(node, ast.ImportFrom)
                    and node.module
                    and any(f"storage.{fmt}" in node.module for fmt in ("wkw", "zarr3"))
                ):
                    offenders.append(f"{source.name}:{node.lineno} imports {node.module}")
    assert not offenders, offenders
