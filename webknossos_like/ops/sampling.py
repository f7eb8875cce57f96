"""Which mags a pyramid gets: anisotropic, isotropic or constant-z sampling schemes."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence

from ..errors import InvalidMagError, SamplingSchemeError, UnknownModeError
from ..geometry import BoundingBox, Mag, Vec3Int

SAMPLING_MODES = ("anisotropic", "isotropic", "constant_z")


def parse_sampling_mode(mode: str) -> str:
    """Validate a sampling mode name (`auto` is accepted as `anisotropic`, like webknossos)."""
    name = mode.lower() if isinstance(mode, str) else mode
    if name == "auto":
        return "anisotropic"
    if name not in SAMPLING_MODES:
        raise UnknownModeError(
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
    """The mags after `from_mag` up to `coarsest_mag`, each one step coarser, by webknossos' rules.

    No axis goes beyond `coarsest_mag`, so it is reached exactly: isotropic doubles every axis,
    constant_z x and y (z stays at `from_mag`'s), anisotropic only the physically smallest axes
    while that keeps voxels closer to cubes ((4, 4, 40) nm gives 2-2-1, 4-4-1, 8-8-1, 16-16-2).
    A mag of another layer with the next max dimension is taken over, so layers stay aligned.
    """
    mode = parse_sampling_mode(sampling_mode)
    target = coarsest_mag.as_vec3_int
    if mode == "constant_z":
        target = Vec3Int(target.x, target.y, from_mag.z)
    by_max_dim = {m.max_dim: m for m in sorted(set(mags_to_align_with))}
    mags: list[Mag] = []
    current = from_mag
    while current.max_dim < Mag(target).max_dim:
        if current.max_dim * 2 in by_max_dim:
            mags.append(current := by_max_dim[current.max_dim * 2])
            continue
        if mode != "anisotropic":
            new = Mag((current.as_vec3_int * 2).pairmin(target))
        else:
            physical = [m * v for m, v in zip(current, voxel_size, strict=True)]
            smallest = min(physical)
            factor = Vec3Int([2 if p == smallest else 1 for p in physical])
            only_smallest = [p * f for p, f in zip(physical, factor, strict=True)]
            all_axes = [p * 2 for p in physical]
            if _ratio(all_axes) < _ratio(only_smallest):
                new = Mag((current.as_vec3_int * 2).pairmin(target))
            else:
                new = Mag((current.as_vec3_int * factor).pairmin(target))
                if new.max_dim == current.max_dim and new != current:
                    current = new  # e.g. 4-4-2 -> 4-4-4 at (1, 1, 1) nm: same max dim, skipped
                    continue
        if new == current:
            raise InvalidMagError(
                f"The coarsest mag {coarsest_mag.to_layer_name()} cannot be reached from "
                f"{current.to_layer_name()} with voxel size {tuple(voxel_size)}."
            )
        mags.append(current := new)
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


def check_sampling_scheme(mags: Sequence[Mag], force: bool) -> None:
    """Refuse (or, with `force`, warn about) a pyramid with two mags of the same largest
    factor: webknossos picks mags by that factor, so it would show only one of them."""
    largest = [mag.max_dim for mag in mags]
    if len(set(largest)) == len(largest):
        return
    message = (
        "The downsampling scheme "
        f"{[mag.to_layer_name() for mag in mags]} has several mags with the same largest "
        "factor, which webknossos cannot show; use another sampling_mode (e.g. 'isotropic') "
        "or pass force_sampling_scheme=True."
    )
    if not force:
        raise SamplingSchemeError(message)
    warnings.warn(message, UserWarning, stacklevel=3)
