"""Which mags a pyramid gets: anisotropic, isotropic or constant-z sampling schemes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..errors import InvalidArgumentError, InvalidMagError
from ..geometry import BoundingBox, Mag, Vec3Int

SAMPLING_MODES = ("anisotropic", "isotropic", "constant_z")


def parse_sampling_mode(mode: str) -> str:
    """Validate a sampling mode name (`auto` is accepted as `anisotropic`, like webknossos)."""
    name = mode.lower() if isinstance(mode, str) else mode
    if name == "auto":
        return "anisotropic"
    if name not in SAMPLING_MODES:
        raise InvalidArgumentError(
            f"Unknown sampling mode {mode!r}; valid: {', '.join(SAMPLING_MODES)}."
        )
    return str(name)


def default_coarsest_mag(bounding_box: BoundingBox) -> Mag:
    """The webknossos default: the power of two that brings x/y down to about 100 voxels, at least 4."""
    longest = max(bounding_box.size.x, bounding_box.size.y, 1)
    exponent = max(math.ceil(math.log2(longest / 100)) if longest > 100 else 0, 2)
    return Mag(2**exponent)


def _ratio(sizes: Sequence[float]) -> float:
    return max(sizes) / min(sizes)


def mags_to_downsample(
    from_mag: Mag,
    coarsest_mag: Mag,
    sampling_mode: str,
    voxel_size: Sequence[float],
    mags_to_align_with: Iterable[Mag] = (),
) -> list[Mag]:
    """The mags after `from_mag` up to `coarsest_mag` (by max dimension), each one step coarser.

    anisotropic: double only the physically smallest axes while that keeps voxels closer to cubes
    (the webknossos rule: (4, 4, 40) nm gives 2-2-1, 4-4-1, 8-8-1, 16-16-2); isotropic: double
    every axis; constant_z: double x and y only. An existing mag of another layer with the next
    max dimension is reused so that layers stay aligned.
    """
    mode = parse_sampling_mode(sampling_mode)
    align = sorted(set(mags_to_align_with))
    mags: list[Mag] = []
    current = from_mag
    while current.max_dim < coarsest_mag.max_dim:
        reuse = [
            m
            for m in align
            if m.max_dim == current.max_dim * 2
            and all(a >= b for a, b in zip(m, current, strict=True))
        ]
        if reuse and mode == "anisotropic":
            current = reuse[0]
        elif mode == "isotropic":
            current = Mag(current.as_vec3_int * 2)
        elif mode == "constant_z":
            current = Mag((current.x * 2, current.y * 2, current.z))
        else:
            physical = [m * v for m, v in zip(current, voxel_size, strict=True)]
            smallest = min(physical)
            factor = Vec3Int([2 if p == smallest else 1 for p in physical])
            only_smallest = [m * f * v for m, f, v in zip(current, factor, voxel_size, strict=True)]
            all_axes = [m * 2 * v for m, v in zip(current, voxel_size, strict=True)]
            if _ratio(only_smallest) < _ratio(all_axes):
                current = Mag(current.as_vec3_int * factor)
            else:
                current = Mag(current.as_vec3_int * 2)
        mags.append(current)
    return mags


def downsampling_factor(source: Mag, target: Mag) -> Vec3Int:
    """Per-axis factor from `source` to `target`; both must be powers of two with target >= source."""
    factor = target.as_vec3_int // source.as_vec3_int
    if factor * source.as_vec3_int != target.as_vec3_int or not factor.is_positive(
        strictly_positive=True
    ):
        raise InvalidMagError(
            f"Mag {target.to_layer_name()} is not a coarser multiple of mag {source.to_layer_name()}."
        )
    return factor
