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
