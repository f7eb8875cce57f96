"""Interop: the webknossos package's `Dataset.from_images` and ours import the same TIFF folder
(and the same multi-page TIFF) to equal voxels; each library opens the other's result."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

import webknossos_like as wkl

from ._stacks import write_tiff_slices

with warnings.catch_warnings():
    # webknossos warns at import time about optional image readers that are not installed.
    warnings.simplefilter("ignore")
    wk = pytest.importorskip("webknossos")
    cluster_tools = pytest.importorskip("cluster_tools")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

SHAPE = (70, 45, 37)


def _wk_import(source: Path, target: Path, **kwargs: object) -> np.ndarray:
    with cluster_tools.get_executor("sequential") as executor:
        dataset = wk.Dataset.from_images(
            source,
            target,
            voxel_size=(2, 2, 5),
            layer_name="color",
            layer_category="color",
            data_format="wkw",
            executor=executor,
            **kwargs,
        )
    layer = dataset.get_layer("color")
    box = layer.bounding_box
    assert tuple(box.size.to_list()) == SHAPE
    return np.asarray(layer.get_finest_mag().read(absolute_bounding_box=box))


def _ours(source: Path, target: Path) -> wkl.Dataset:
    return wkl.Dataset.from_images(
        source, target, voxel_size=(2, 2, 5), layer_name="color", data_format="wkw"
    )


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_same_tiff_folder_same_voxels(tmp_path: Path, dtype: str) -> None:
    volume = np.random.default_rng(11).integers(0, 3000, SHAPE).astype(dtype)
    folder = write_tiff_slices(tmp_path / "stack", volume)
    theirs = _wk_import(folder, tmp_path / "wk")
    mine = _ours(folder, tmp_path / "ours")
    np.testing.assert_array_equal(mine.get_layer("color").get_mag(1).read(), theirs)
    np.testing.assert_array_equal(theirs[0], volume)
    # each library reads the other's dataset
    opened = wkl.Dataset.open(tmp_path / "wk").get_layer("color").get_mag(1).read()
    np.testing.assert_array_equal(opened, theirs)
    layer = wk.Dataset.open(tmp_path / "ours").get_layer("color")
    np.testing.assert_array_equal(
        layer.get_finest_mag().read(absolute_bounding_box=layer.bounding_box), theirs
    )


def test_same_multipage_tiff_same_voxels(tmp_path: Path) -> None:
    volume = np.random.default_rng(12).integers(0, 255, SHAPE).astype(np.uint8)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, volume.transpose(2, 1, 0))
    theirs = _wk_import(path, tmp_path / "wk")
    mine = _ours(path, tmp_path / "ours")
    np.testing.assert_array_equal(mine.get_layer("color").get_mag(1).read(), theirs)


@pytest.mark.parametrize("method", ["from_images", "add_layer_from_images"])
def test_signature_follows_webknossos(method: str) -> None:
    import inspect

    ours = inspect.signature(getattr(wkl.Dataset, method)).parameters
    theirs = inspect.signature(getattr(wk.Dataset, method)).parameters

    def positional(params: object) -> list[str]:
        return [
            name
            for name, p in params.items()  # type: ignore[attr-defined]
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]

    assert positional(ours) == positional(theirs)
    shared = set(ours) & set(theirs)
    assert {
        "layer_name",
        "data_format",
        "chunk_shape",
        "shard_shape",
        "compress",
        "executor",
    } <= shared
    assert "batch_size" in shared and "chunks_per_shard" in shared
    for name in shared:  # same defaults where both have the argument (None vs unset aside)
        if name in ("data_format", "topleft", "mag"):
            continue  # our default format is wkw; Vec3Int/Mag objects vs tuples/ints
        assert ours[name].default == theirs[name].default, name
