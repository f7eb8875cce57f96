"""Validation of user-chosen names that become file names."""

from __future__ import annotations

import re

from ..errors import InvalidNameError

_LAYER_NAME_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_\-.]{0,199}$")
# webknossos' rule for attachment names: layer-name characters plus `$` and `@`.
_ATTACHMENT_NAME_RE = re.compile(r"^[A-Za-z0-9_$@\-][A-Za-z0-9_$@\-.]{0,199}$")


def _validated(name: object, pattern: re.Pattern[str], what: str, allowed: str) -> str:
    """`name` if it is a string matching `pattern`, else `InvalidNameError` saying what is allowed."""
    if not isinstance(name, str) or not pattern.match(name):
        raise InvalidNameError(
            f"Invalid {what} name {name!r}: use 1-200 {allowed} or '.', not starting with '.'."
        )
    return name


def validate_layer_name(name: object) -> str:
    """Accept letters, digits, `_ - .` (no leading dot, no separators), so names stay inside the dataset."""
    return _validated(name, _LAYER_NAME_RE, "layer", "letters, digits, '_', '-'")


def validate_attachment_name(name: object) -> str:
    """Attachment names become file names: webknossos' rule (letters, digits, `_ $ @ - .`)."""
    return _validated(
        name, _ATTACHMENT_NAME_RE, "attachment", "letters, digits, '_', '$', '@', '-'"
    )
