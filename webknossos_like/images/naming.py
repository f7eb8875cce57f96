"""Which files of a folder are images, and the natural order of numbered slices."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: 2-D image files a slice folder may hold (Pillow or tifffile reads them).
TIFF_SUFFIXES = (".tif", ".tiff")
SLICE_SUFFIXES = (*TIFF_SUFFIXES, ".png", ".jpg", ".jpeg")
NIFTI_SUFFIXES = (".nii", ".nii.gz")

_DIGITS = re.compile(r"(\d+)")
SortKey = Callable[[Path], Any]


def natural_sort_key(path: str | os.PathLike[str]) -> tuple[Any, ...]:
    """Sort key ordering `slice_2.tif` before `slice_10.tif`: numbers compare by value."""
    name = Path(path).name
    return tuple(
        (1, int(part), part) if part.isdigit() else (0, 0, part.lower())
        for part in _DIGITS.split(name)
    )


def name_sort_key(path: str | os.PathLike[str]) -> str:
    """Sort key by plain file name (`slice_10` before `slice_2`)."""
    return Path(path).name


def mtime_sort_key(path: str | os.PathLike[str]) -> float:
    """Sort key by modification time (the order an acquisition wrote the slices)."""
    return os.stat(path).st_mtime


#: The sort keys `wkl import --sort` offers.
SORT_KEYS: dict[str, SortKey] = {
    "natural": natural_sort_key,
    "name": name_sort_key,
    "mtime": mtime_sort_key,
}


def has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    """Whether the file name ends with one of `suffixes` (case-insensitive)."""
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in suffixes)


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder` (hidden files skipped), unsorted."""
    return [
        entry
        for entry in folder.iterdir()
        if entry.is_file()
        and not entry.name.startswith(".")
        and has_suffix(entry, SLICE_SUFFIXES + NIFTI_SUFFIXES)
    ]


def guess_category(path: str | os.PathLike[str]) -> str:
    """`segmentation` if the input's own name (file or folder) says labels or segmentation,
    else `color`; folders above it are not looked at (`/home/labelle/...` is no hint)."""
    text = Path(path).name.lower()
    return "segmentation" if "segmentation" in text or "label" in text else "color"
