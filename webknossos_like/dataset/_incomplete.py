"""Mags under construction: a held marker per mag while a pyramid level or a copy is filled.

A builder that dies (kill -9, power loss) leaves its markers behind, unheld; the mags they name
may hold zeros where data belongs. `abandoned_mags` finds them so the next `downsample()` (or
copy) rebuilds them instead of trusting them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .._locks import HeldMarker
from ..errors import InvalidMagError
from ..geometry import Mag
from ..storage.s3.path import is_s3_path

MARKER_PREFIX = ".wkl-incomplete-"
MARKER_SUFFIX = ".lock"  # an empty file only ever opened for its lock, like the other locks


def marker(layer_path: Path, mag: Mag) -> HeldMarker:
    """The marker of `mag` in the layer folder."""
    return HeldMarker(layer_path / f"{MARKER_PREFIX}{mag.to_layer_name()}{MARKER_SUFFIX}")


@contextlib.contextmanager
def building(layer_path: Path, mags: Iterable[Mag]) -> Iterator[None]:
    """Hold a marker for each mag while the body fills them; remove them when it ends.

    The body rolls back what it made if it fails, so the markers go on every exit that Python
    sees; only a process that dies leaves them.
    """
    if is_s3_path(layer_path):
        with _building_objects(layer_path, mags):
            yield
        return
    held: list[HeldMarker] = []
    layer_path.mkdir(parents=True, exist_ok=True)
    try:
        for mag in mags:
            held.append(marker(layer_path, mag))
            held[-1].create()
        yield
    finally:
        for item in held:
            item.remove()


@contextlib.contextmanager
def _building_objects(layer_path: Path, mags: Iterable[Mag]) -> Iterator[None]:
    """On object storage: a marker object per mag, deleted when the body ends. There is no
    lock to tell a live builder from a dead one, so builds there follow the single-writer rule
    (docs/reliability.md): a marker found by the next build is taken as abandoned."""
    names = [f"{MARKER_PREFIX}{mag.to_layer_name()}{MARKER_SUFFIX}" for mag in mags]
    for name in names:
        (layer_path / name).write_bytes(b"")
    try:
        yield
    finally:
        for name in names:
            layer_path.store.delete(name)  # type: ignore[attr-defined]


def abandoned_mags(layer_path: Path) -> list[Mag]:
    """Mags whose builder died before finishing them (marker present, nobody holding it)."""
    if is_s3_path(layer_path):
        store = layer_path.store  # type: ignore[attr-defined]
        found_s3 = []
        for name in store.list_prefix(MARKER_PREFIX):
            if name.endswith(MARKER_SUFFIX) and "/" not in name:
                with contextlib.suppress(InvalidMagError, ValueError):
                    found_s3.append(Mag(name[len(MARKER_PREFIX) : -len(MARKER_SUFFIX)]))
        return sorted(found_s3)
    try:
        names = os.listdir(layer_path)
    except OSError:
        return []
    found = []
    for name in names:
        if not (name.startswith(MARKER_PREFIX) and name.endswith(MARKER_SUFFIX)):
            continue
        try:
            mag = Mag(name[len(MARKER_PREFIX) : -len(MARKER_SUFFIX)])
        except (InvalidMagError, ValueError):
            continue
        if marker(layer_path, mag).is_abandoned():
            found.append(mag)
    return sorted(found)
