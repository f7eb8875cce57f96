"""Enums whose members are their string values wherever users print or compare them."""

from __future__ import annotations

import enum


class ValueStrEnum(str, enum.Enum):
    """A `str` enum whose `str()` and f-string form is the value (as `enum.StrEnum`, which
    Python 3.10 lacks): members equal, print and format as the plain strings in the JSON."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
