"""Pyramids as webknossos 4.3.3 builds them: which mags, and the default color interpolation."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webknossos_like import Mag, Vec3Int
from webknossos_like.errors import InvalidMagError
from webknossos_like.ops.interpolation import downsample_data, parse_interpolation_mode
from webknossos_like.ops.sampling import mags_to_downsample

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import webknossos as wk
    from webknossos.dataset.layer import _downsampling_utils as wk_utils

powers = st.sampled_from([1, 2, 4, 8, 16, 32])
voxel_sizes = st.tuples(*[st.sampled_from([1.0, 2.0, 4.0, 5.0, 11.24, 25.0, 40.0])] * 3)


def _theirs(coarsest: tuple[int, int, int], voxel_size: Any) -> list[str] | type[Exception]:
    try:
        mags = wk_utils.calculate_mags_to_downsample(wk.Mag(1), wk.Mag(coarsest), None, voxel_size)
    except RuntimeError:
        return RuntimeError
    return [m.to_layer_name() for m in mags]


@settings(max_examples=300, deadline=None)
@given(coarsest=st.tuples(powers, powers, powers), voxel_size=voxel_sizes)
def test_anisotropic_and_isotropic_schemes_equal_webknossos(
    coarsest: tuple[int, int, int], voxel_size: tuple[float, float, float]
) -> None:
    for mode, theirs_voxel_size in (("anisotropic", voxel_size), ("isotropic", None)):
        theirs = _theirs(coarsest, theirs_voxel_size)
        if theirs is RuntimeError:
            with pytest.raises(InvalidMagError):
                mags_to_downsample(Mag(1), Mag(coarsest), mode, voxel_size)
            continue
        ours = [
            m.to_layer_name() for m in mags_to_downsample(Mag(1), Mag(coarsest), mode, voxel_size)
        ]
        assert ours == theirs, (mode, coarsest, voxel_size)


def test_coarsest_mag_is_built_exactly() -> None:
    """The bug of the issue: (1, 1, 1) nm and coarsest 4-4-2 built 2, 4 instead of 2, 4-4-2."""
    ours = mags_to_downsample(Mag(1), Mag("4-4-2"), "anisotropic", (1, 1, 1))
    assert [m.to_layer_name() for m in ours] == ["2", "4-4-2"]


def test_default_color_interpolation_equals_webknossos() -> None:
    assert parse_interpolation_mode("default", "color") == "median"
    assert parse_interpolation_mode("default", "segmentation") == "mode"
    rng = np.random.default_rng(3)
    for dtype in (np.uint8, np.uint16, np.uint32, np.int16, np.float32):
        data = rng.integers(0, 250, (32, 32, 16)).astype(dtype)
        theirs = wk_utils.downsample_cube(data, [2, 2, 2], wk_utils.InterpolationModes.MEDIAN)
        ours = downsample_data(data[None], Vec3Int(2, 2, 2), "median")[0]
        np.testing.assert_array_equal(ours, theirs)


def _layer(lib: Any, path: Any, voxel_size: Any, size: tuple[int, int, int]) -> Any:
    """A WKW color layer of random uint8 data of `size` voxels (chunk 32, shard 64)."""
    ds = lib.Dataset(path, voxel_size)
    layer = ds.add_layer("color", "color", dtype="uint8", data_format="wkw")
    mag = layer.add_mag(1, chunk_shape=32, shard_shape=64)
    data = np.random.default_rng(5).integers(1, 255, size, dtype=np.uint8)
    mag.write(data, absolute_offset=(0, 0, 0), allow_resize=True)
    return layer


def _executor(lib: Any) -> dict[str, Any]:
    """webknossos' default executor spawns processes; both run sequentially here."""
    import cluster_tools

    return {"executor": cluster_tools.get_executor("sequential")} if lib is wk else {}


@pytest.mark.parametrize("lib_name", ["webknossos", "ours"])
def test_one_voxel_deep_layers_are_downsampled_constant_z_with_a_warning(
    lib_name: str, tmp_path: Any
) -> None:
    import webknossos_like as wl

    lib = wk if lib_name == "webknossos" else wl
    layer = _layer(lib, tmp_path / lib_name, (1, 1, 1), (128, 128, 1))
    with pytest.warns(UserWarning, match="(?i)constant_z"):
        layer.downsample(coarsest_mag=lib.Mag(4), sampling_mode="isotropic", **_executor(lib))
    assert sorted(m.to_layer_name() for m in layer.mags) == ["1", "2-2-1", "4-4-1"]


@pytest.mark.parametrize("lib_name", ["webknossos", "ours"])
def test_a_scheme_with_equal_largest_factors_needs_force(lib_name: str, tmp_path: Any) -> None:
    """Voxel size (3, 2, 7) up to 8-4-1 gives 1-2-1, 2-4-1, 4-4-1, 8-4-1 in both libraries."""
    import webknossos_like as wl

    lib = wk if lib_name == "webknossos" else wl
    layer = _layer(lib, tmp_path / lib_name, (3, 2, 7), (64, 64, 16))
    with pytest.raises(RuntimeError, match="same"):
        layer.downsample(coarsest_mag=lib.Mag([8, 4, 1]), **_executor(lib))
    assert [m.to_layer_name() for m in layer.mags] == ["1"]
    with pytest.warns(UserWarning, match="same"):
        layer.downsample(
            coarsest_mag=lib.Mag([8, 4, 1]), force_sampling_scheme=True, **_executor(lib)
        )
    assert sorted(m.to_layer_name() for m in layer.mags) == sorted(
        ["1", "1-2-1", "2-4-1", "4-4-1", "8-4-1"]
    )


@pytest.mark.parametrize("lib_name", ["webknossos", "ours"])
def test_only_setup_mags_creates_empty_mags(lib_name: str, tmp_path: Any) -> None:
    import webknossos_like as wl

    lib = wk if lib_name == "webknossos" else wl
    layer = _layer(lib, tmp_path / lib_name, (1, 1, 1), (64, 64, 64))
    layer.downsample(coarsest_mag=lib.Mag(4), only_setup_mags=True, **_executor(lib))
    assert sorted(m.to_layer_name() for m in layer.mags) == ["1", "2", "4"]
    assert not layer.get_mag(2).read().any()
    layer.downsample_mag(lib.Mag(1), lib.Mag(2), allow_overwrite=True, **_executor(lib))
    assert layer.get_mag(2).read().any()


def test_webknossos_nearest_pick_depends_on_its_buffer_and_ours_does_not() -> None:
    """Why ours differs (docs/migrating-from-webknossos.md): webknossos' `nearest` is
    scipy `zoom(order=0)` per buffer, so which voxel of a block survives depends on the buffer
    size; ours keeps the first voxel of every block, whatever the chunking."""
    data = np.random.default_rng(2).integers(0, 255, (128, 64, 64), dtype=np.uint8)
    mode = wk_utils.InterpolationModes.NEAREST
    whole = wk_utils.downsample_cube(data, [2, 2, 2], mode)
    halves = np.concatenate(
        [wk_utils.downsample_cube(part, [2, 2, 2], mode) for part in (data[:64], data[64:])]
    )
    assert not np.array_equal(whole, halves)
    ours_whole = downsample_data(data[None], Vec3Int(2, 2, 2), "nearest")[0]
    ours_halves = np.concatenate(
        [downsample_data(p[None], Vec3Int(2, 2, 2), "nearest")[0] for p in (data[:64], data[64:])]
    )
    np.testing.assert_array_equal(ours_whole, ours_halves)
    np.testing.assert_array_equal(ours_whole, data[::2, ::2, ::2])
