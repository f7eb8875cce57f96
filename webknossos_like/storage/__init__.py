"""Storage backends: one per on-disk format, behind the `ArrayBackend` protocol."""

from .backend import ArrayBackend, ArrayInfo
from .wkw.array import WKWArray

__all__ = ["ArrayBackend", "ArrayInfo", "WKWArray"]
