"""Chunk-parallel operations over views: copying, and later downsampling and conversion."""

from .copy import copy_view_into

__all__ = ["copy_view_into"]
