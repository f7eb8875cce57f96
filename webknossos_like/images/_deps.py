"""The optional readers of the `[images]` extra, imported on first use with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import UnsupportedFormatError

_HINT = 'pip install "webknossos_like[images]"'


def require(module: str) -> ModuleType:
    """Import `module` (tifffile, nibabel), or say which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UnsupportedFormatError(
            f"Reading and writing images needs {module}: {_HINT}."
        ) from exc
