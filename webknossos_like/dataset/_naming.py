"""Validation of user-chosen names that become file names."""

from __future__ import annotations

import re

from ..errors import InvalidNameError

_LAYER_NAME_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_\-.]{0,199}$")


def validate_layer_name(name: object) -> str:
    """Accept letters, digits, `_ - .` (no leading dot, no separators), so names stay inside the dataset."""
    if not isinstance(name, str) or not _LAYER_NAME_RE.match(name):
        raise InvalidNameError(
            f"Invalid layer name {name!r}: use 1-200 letters, digits, '_', '-' or '.', "
            "not starting with '.'."
        )
    return name
