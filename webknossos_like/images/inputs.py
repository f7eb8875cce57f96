"""`open_image_source`: from a path (folder, file, glob) or a list of files to an `ImageSource`."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import ImageFileError, InvalidArgumentError
from .naming import (
    NIFTI_SUFFIXES,
    SLICE_SUFFIXES,
    TIFF_SUFFIXES,
    SortKey,
    has_suffix,
    image_files,
    natural_sort_key,
)
from .nifti import NiftiVolume
from .slices import SliceStack
from .source import ImageSource
from .tiff import TiffStack

ImagesArg = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def open_image_source(images: ImagesArg, sort_key: SortKey | None = None) -> ImageSource:
    """The input behind `images`: a folder of 2-D slices (sorted by `sort_key`, natural order
    by default), a glob, a list of slice files (in the given order), a multi-page or OME-TIFF
    file, or a NIfTI file; a folder holding a single 3-D file means that file."""
    key = natural_sort_key if sort_key is None else sort_key
    if isinstance(images, (str, os.PathLike)):
        text = os.fspath(images)
        if any(ch in text for ch in "*?[") and not os.path.exists(text):
            matches = sorted((Path(p) for p in glob.glob(text)), key=key)
            if not matches:
                raise ImageFileError(f"No files match {text}.", path=text)
            return _from_files(matches)
        path = Path(text)
        if path.is_dir():
            return _from_folder(path, key)
        if not path.exists():
            raise ImageFileError(f"No image file or folder at {path}.", path=path)
        return _from_file(path)
    files = [Path(p) for p in images]
    if not files:
        raise InvalidArgumentError("No image files given.")
    return _from_files(files)


def _from_file(path: Path) -> ImageSource:
    if has_suffix(path, NIFTI_SUFFIXES):
        return NiftiVolume(path)
    if has_suffix(path, TIFF_SUFFIXES):
        return TiffStack(path)
    if has_suffix(path, SLICE_SUFFIXES):
        return SliceStack([path])
    raise ImageFileError(
        f"{path} is not an image file this library reads "
        f"({', '.join(SLICE_SUFFIXES + NIFTI_SUFFIXES)}).",
        path=path,
    )


def _from_files(files: list[Path]) -> ImageSource:
    if len(files) == 1:
        return _from_file(files[0])
    volumes = [f for f in files if has_suffix(f, NIFTI_SUFFIXES)]
    if volumes:
        raise ImageFileError(
            f"{volumes[0]} is a 3-D volume among {len(files)} files; import it on its own.",
            path=volumes[0],
        )
    return SliceStack(files)


def _from_folder(folder: Path, key: SortKey) -> ImageSource:
    files = sorted(image_files(folder), key=key)
    if not files:
        raise ImageFileError(
            f"No image files ({', '.join(SLICE_SUFFIXES + NIFTI_SUFFIXES)}) in {folder}.",
            path=folder,
        )
    return _from_files(files)
