"""Data format names as the properties JSON spells them, and lazy loading of format modules."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

WKW_FORMAT = "wkw"
PRECOMPUTED_FORMAT = "neuroglancerPrecomputed"


class LazyModule:
    """A module imported on first attribute access (keeps `import webknossos_like` fast)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)
