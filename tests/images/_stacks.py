"""Write test stacks with the readers' own writers (tifffile, Pillow, nibabel).

Volumes are `(x, y, z)` (or `(c, x, y, z)`) like layer data; image files hold `y` rows of `x`.
"""

from __future__ import annotations

from pathlib import Path

import nibabel
import numpy as np
import tifffile
from PIL import Image


def plane(volume: np.ndarray, z: int) -> np.ndarray:
    """Slice `z` of an `(x, y, z)` or `(c, x, y, z)` volume as an image: `(y, x[, c])`."""
    if volume.ndim == 3:
        return np.ascontiguousarray(volume[:, :, z].T)
    return np.ascontiguousarray(volume[..., z].transpose(2, 1, 0))


def write_tiff_slices(folder: Path, volume: np.ndarray, pattern: str = "slice_{}.tif") -> Path:
    """One TIFF per z (names numbered without padding, so plain sorting would be wrong)."""
    folder.mkdir(parents=True, exist_ok=True)
    for z in range(volume.shape[-1]):
        image = plane(volume, z)
        rgb = image.ndim == 3 and image.shape[2] == 3
        tifffile.imwrite(folder / pattern.format(z), image, photometric="rgb" if rgb else None)
    return folder


def write_pillow_slices(folder: Path, volume: np.ndarray, suffix: str = ".png") -> Path:
    """One PNG or JPEG per z through Pillow."""
    folder.mkdir(parents=True, exist_ok=True)
    for z in range(volume.shape[-1]):
        Image.fromarray(plane(volume, z)).save(folder / f"img{z}{suffix}")
    return folder


def write_multipage(path: Path, volume: np.ndarray, **kwargs: object) -> Path:
    """A multi-page TIFF, `ZYX` (or `ZCYX` for channels) unless `kwargs` say otherwise."""
    data = volume.transpose(2, 1, 0) if volume.ndim == 3 else volume.transpose(3, 0, 2, 1)
    tifffile.imwrite(path, data, **kwargs)  # type: ignore[arg-type]
    return path


def write_nifti(path: Path, volume: np.ndarray, zooms: tuple[float, ...], unit: str = "mm") -> Path:
    """A NIfTI-1 file (`.nii` or `.nii.gz`); channels go to the 4th dimension."""
    data = volume if volume.ndim == 3 else np.moveaxis(volume, 0, -1)
    image = nibabel.Nifti1Image(data, affine=np.diag([*zooms[:3], 1.0]))
    image.header.set_zooms(zooms[: data.ndim] if data.ndim == 3 else (*zooms[:3], 1.0))
    image.header.set_xyzt_units(xyz=unit)
    nibabel.save(image, path)
    return path
