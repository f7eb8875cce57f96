"""Layer renames that survive a crash: a journal names the rename until folder and JSON agree.

A rename takes two commits (the folder rename, the properties save). Before the first, a journal
`.wkl-rename-<old>.json` holding `{"from": old, "to": new}` is written atomically; after the last
it is removed. The next writable opener finishes a rename whose journal is still there (roll
forward); a read-only opener sees the finished rename in memory.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .._atomic import atomic_write_text
from ..errors import InvalidNameError
from ..properties import DatasetProperties, PropertiesFile
from ._naming import validate_layer_name

if TYPE_CHECKING:
    from .dataset import Dataset

JOURNAL_PREFIX = ".wkl-rename-"


def renamed_mag_path(path: str, old: str, new: str, dataset_path: Path) -> str:
    """`path` (a mag path of layer `old`, in any form webknossos and hand edits write:
    `./old/1`, `old/1`, absolute) pointing into the folder of `new`, in the same form.

    Paths that do not lie in the old layer folder (foreign mags) are returned unchanged.
    """
    if os.path.isabs(path):
        try:
            rel = Path(path).relative_to(dataset_path.absolute() / old)
        except ValueError:
            try:
                rel = Path(path).resolve().relative_to((dataset_path / old).resolve())
            except ValueError:
                return path
        return str(dataset_path.absolute() / new / rel)
    dot = path.startswith("./")  # PurePosixPath drops a leading "."
    rest = PurePosixPath(path).parts
    if not rest or rest[0] != old:
        return path
    return ("./" if dot else "") + str(PurePosixPath(new, *rest[1:]))


def apply_rename(props: DatasetProperties, old: str, new: str, dataset_path: Path) -> bool:
    """Rename layer `old` to `new` in `props` (name and mag paths); False if there is no `old`."""
    layer = props.get_layer(old)
    if layer is None or props.get_layer(new) is not None:
        return False
    layer.name = new
    for mag in layer.mags:
        if mag.path is not None:
            mag.path = renamed_mag_path(mag.path, old, new, dataset_path)
    for entry in _attachment_entries(getattr(layer, "attachments", None)):
        entry["path"] = renamed_mag_path(entry["path"], old, new, dataset_path)
    return True


def _attachment_entries(attachments: object) -> list[dict[str, Any]]:
    """The `{name, path, dataFormat}` entries of a raw `attachments` object (attachments in the
    layer folder move with it)."""
    if not isinstance(attachments, dict):
        return []
    found: list[dict[str, Any]] = []
    for value in attachments.values():
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                found.append(entry)
    return found


def journal_path(dataset_path: Path, old: str) -> Path:
    """Where the journal of renaming layer `old` lives."""
    return dataset_path / f"{JOURNAL_PREFIX}{old}.json"


def write_journal(dataset_path: Path, old: str, new: str) -> Path:
    """Record the rename about to happen (atomically); returns the journal's path."""
    path = journal_path(dataset_path, old)
    atomic_write_text(path, json.dumps({"from": old, "to": new}))
    return path


def _journals(dataset_path: Path) -> list[tuple[Path, str, str]]:
    """The valid journals in the dataset folder: (file, old, new). Unreadable ones are skipped."""
    try:
        names = sorted(os.listdir(dataset_path))
    except OSError:
        return []
    found = []
    for name in names:
        if not (name.startswith(JOURNAL_PREFIX) and name.endswith(".json")):
            continue
        file = dataset_path / name
        try:
            entry = json.loads(file.read_text(encoding="utf-8"))
            old, new = entry["from"], entry["to"]
            validate_layer_name(old)
            validate_layer_name(new)
        except (OSError, ValueError, KeyError, TypeError, InvalidNameError):
            continue
        found.append((file, old, new))
    return found


def finish_interrupted_renames(dataset: Dataset) -> None:
    """Roll forward the renames whose journal a crash left (in memory only when read-only)."""
    journals = _journals(dataset.path)
    if not journals or not isinstance(dataset._properties_file, PropertiesFile):
        return
    if dataset.read_only:
        for _, old, new in journals:
            if (dataset.path / new).is_dir() and not (dataset.path / old).exists():
                apply_rename(dataset._properties, old, new, dataset.path)
        return
    with dataset._properties_file.lock:
        for file, old, new in _journals(dataset.path):
            old_folder, new_folder = dataset.path / old, dataset.path / new
            if old_folder.exists() and not new_folder.exists():
                os.rename(old_folder, new_folder)
            dataset._update(
                functools.partial(apply_rename, old=old, new=new, dataset_path=dataset.path)
            )
            with contextlib.suppress(FileNotFoundError):
                file.unlink()
