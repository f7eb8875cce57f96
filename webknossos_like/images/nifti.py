"""A NIfTI volume (`.nii`, `.nii.gz`) through nibabel: voxels as stored (i, j, k = x, y, z),
the voxel size from the header's zooms and spatial unit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageFileError
from ..geometry import Vec3Int
from ._deps import require
from .source import ImageSource, StackInfo, storable_dtype, voxel_size_in

#: nibabel's names of NIfTI spatial units; "unknown" is read as millimetres, the convention.
_UNITS = {"meter": "meter", "mm": "millimeter", "micron": "micrometer", "unknown": "millimeter"}


class NiftiVolume(ImageSource):
    """A 3-D NIfTI image; a 4th dimension (or a 5th after a 1-long 4th) becomes channels."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        image = self._load()
        shape = tuple(int(n) for n in image.shape)
        if len(shape) == 3:
            channels = 1
        elif len(shape) == 4:
            channels = shape[3]
        elif len(shape) == 5 and shape[3] == 1:
            channels = shape[4]
        else:
            raise ImageFileError(
                f"{self.path} has shape {shape}; only 3-D volumes (with channels) can be imported.",
                path=self.path,
            )
        proxy = image.dataobj
        scaled = _is_scaled(proxy)
        dtype = np.dtype(np.float32) if scaled else storable_dtype(image.get_data_dtype())
        if dtype == np.float64:
            dtype = np.dtype(np.float32)  # layers store float32; NIfTI float64 rarely needs more
        zooms = tuple(float(z) for z in image.header.get_zooms()[:3])
        unit = _UNITS.get(image.header.get_xyzt_units()[0], "millimeter")
        voxel = voxel_size_in((zooms[0], zooms[1], zooms[2]), (unit, unit, unit))
        self.info = StackInfo(
            size=Vec3Int(shape[0], shape[1], shape[2]),
            dtype=dtype,
            num_channels=channels,
            voxel_size=None if voxel is None else voxel[0],
            voxel_size_unit="nanometer" if voxel is None else voxel[1],
        )

    def _load(self) -> Any:
        nibabel = require("nibabel")
        try:
            return nibabel.load(self.path)
        except Exception as exc:
            raise ImageFileError(f"Cannot read NIfTI {self.path}: {exc}", path=self.path) from exc

    def describe(self) -> str:
        """The file."""
        return str(self.path)

    def read_slab(self, z_start: int, z_stop: int) -> np.ndarray:
        """Read planes `z_start..z_stop` through nibabel's array proxy (only those bytes)."""
        image = self._load()
        try:
            data = np.asarray(image.dataobj[:, :, z_start:z_stop])
        except Exception as exc:
            raise ImageFileError(
                f"Cannot read planes {z_start}..{z_stop - 1} of {self.path}: {exc}",
                path=self.path,
            ) from exc
        if data.ndim == 3:
            data = data[np.newaxis]
        else:
            data = np.moveaxis(data.reshape(*data.shape[:3], -1), -1, 0)
        return data.astype(self.info.dtype, copy=False)


def _is_scaled(proxy: Any) -> bool:
    """Whether the header scales the stored values (`scl_slope`/`scl_inter`): then float32."""
    slope = getattr(proxy, "slope", 1.0)
    inter = getattr(proxy, "inter", 0.0)
    return not (
        (slope is None or np.isnan(slope) or slope == 1.0)
        and (inter is None or np.isnan(inter) or inter == 0.0)
    )
