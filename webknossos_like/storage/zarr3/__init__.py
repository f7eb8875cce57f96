"""Zarr v3 / OME-Zarr layers through tensorstore's `zarr3` driver (OME-NGFF 0.5 groups)."""
