"""Open a bare volume on S3 (a precomputed `info` or an OME-Zarr image, no properties file)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from ..format import BareVolume
from .kvstore import S3KVStore
from .path import S3Path

_PRECOMPUTED = "neuroglancerPrecomputed"
_ZARR = "zarr3"


def open_bare_s3(store: S3KVStore, *, read_only: bool, hint: str | None) -> BareVolume | None:
    """The precomputed volume or OME-Zarr image at the root of `store`, or None."""
    path = cast(Path, S3Path(store))  # S3Path offers the Path operations the formats use
    if hint in (None, _PRECOMPUTED) and store.exists("info"):
        from ..precomputed.bare import load_bare

        properties = load_bare(store, store.url)
        return BareVolume(properties, store, store.url, path, read_only=read_only)
    if hint in (None, _ZARR) and (store.exists("zarr.json") or store.exists(".zattrs")):
        from ..zarr3.bare import load_ome_image

        return load_ome_image(path)
    return None
