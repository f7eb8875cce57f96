"""Sampling schemes reproduce the webknossos rules, and non-power-of-two mags are refused."""

from __future__ import annotations

import pytest

from webknossos_like import BoundingBox, Mag
from webknossos_like.errors import InvalidArgumentError, InvalidMagError
from webknossos_like.ops.sampling import (
    default_coarsest_mag,
    downsampling_factor,
    mags_to_downsample,
)


def names(mags: list[Mag]) -> list[str]:
    return [m.to_layer_name() for m in mags]


@pytest.mark.parametrize(
    ("voxel_size", "expected"),
    [
        ((1, 1, 1), ["2", "4", "8", "16"]),
        ((4, 4, 40), ["2-2-1", "4-4-1", "8-8-1", "16-16-2"]),
        ((11.24, 11.24, 25), ["2-2-1", "4-4-2", "8-8-4", "16-16-8"]),
        ((2, 2, 1), ["1-1-2", "2-2-4", "4-4-8", "8-8-16"]),
    ],
)
def test_anisotropic_matches_webknossos(
    voxel_size: tuple[float, float, float], expected: list[str]
) -> None:
    assert names(mags_to_downsample(Mag(1), Mag(16), "anisotropic", voxel_size)) == expected


def test_isotropic_and_constant_z() -> None:
    assert names(mags_to_downsample(Mag(1), Mag(8), "isotropic", (4, 4, 40))) == ["2", "4", "8"]
    assert names(mags_to_downsample(Mag(1), Mag(8), "constant_z", (1, 1, 1))) == [
        "2-2-1",
        "4-4-1",
        "8-8-1",
    ]
    with pytest.raises(InvalidArgumentError, match="anisotropic, isotropic, constant_z"):
        mags_to_downsample(Mag(1), Mag(8), "bogus", (1, 1, 1))


def test_alignment_with_other_layers() -> None:
    other = [Mag("2-2-1"), Mag("4-4-1")]
    assert names(mags_to_downsample(Mag(1), Mag(4), "anisotropic", (1, 1, 1), other)) == [
        "2-2-1",
        "4-4-1",
    ]


def test_default_coarsest_mag() -> None:
    assert default_coarsest_mag(BoundingBox((0, 0, 0), (512, 512, 100))) == Mag(8)
    assert default_coarsest_mag(BoundingBox((0, 0, 0), (50, 50, 50))) == Mag(4)


def test_factor_rejects_non_multiples() -> None:
    assert downsampling_factor(Mag("2-2-1"), Mag("4-4-2")).to_tuple() == (2, 2, 2)
    with pytest.raises(InvalidMagError):
        downsampling_factor(Mag(2), Mag("4-4-1"))
