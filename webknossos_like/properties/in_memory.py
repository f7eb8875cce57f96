"""Properties kept in memory: the metadata of a bare volume (no properties file to save to)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import TypeVar

from .models import DatasetProperties

T = TypeVar("T")


class InMemoryProperties:
    """Stands in for `PropertiesFile` when the metadata lives in the volume's `info` only."""

    def __init__(self, properties: DatasetProperties, location: str) -> None:
        self._properties = properties
        self._lock = threading.RLock()
        self.path = location

    def load(self) -> DatasetProperties:
        """A copy of the current properties."""
        with self._lock:
            return copy.deepcopy(self._properties)

    @property
    def lock(self) -> threading.RLock:
        """The in-process lock guarding the properties (there is no file to lock)."""
        return self._lock

    def is_stale(self) -> bool:
        """Never: every change goes through this object."""
        return False

    def save(self, props: DatasetProperties) -> None:
        """Replace the in-memory properties."""
        with self._lock:
            self._properties = copy.deepcopy(props)

    def update(self, mutate: Callable[[DatasetProperties], T]) -> tuple[DatasetProperties, T]:
        """Apply `mutate` to a copy and keep it if `mutate` succeeds."""
        with self._lock:
            working = copy.deepcopy(self._properties)
            result = mutate(working)
            self._properties = working
            return copy.deepcopy(working), result
