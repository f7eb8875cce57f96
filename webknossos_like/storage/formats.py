"""The format registry: data format names (and aliases) to their `StorageFormat`.

Formats load on first use, so `import webknossos_like` does not import tensorstore or the
precomputed codecs. Adding a format is one line in `_FORMATS` (see docs/storage-formats.md).
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

from .._str_enum import ValueStrEnum
from ..errors import InvalidArgumentError, UnsupportedFormatError
from .format import BareVolume, StorageFormat

#: The format of new layers unless `data_format=` says otherwise.


class DataFormat(ValueStrEnum):
    """webknossos' names of the data formats (plain strings work everywhere as well).

    `Zarr` (v2) and `N5` exist for scripts that name them; creating such layers raises
    `UnsupportedFormatError`.
    """

    WKW = "wkw"
    Zarr = "zarr"
    Zarr3 = "zarr3"
    N5 = "n5"
    NeuroglancerPrecomputed = "neuroglancerPrecomputed"


def as_data_format(name: str) -> str:
    """`name` as a `DataFormat` member when it is one (else the plain name of a custom format)."""
    try:
        return DataFormat(name)
    except ValueError:
        return name


DEFAULT_DATA_FORMAT = "wkw"
#: Data format name (as `datasource-properties.json` spells it) -> "module:class".
_FORMATS: dict[str, str] = {
    "wkw": "webknossos_like.storage.wkw.format:WKWFormat",
    "neuroglancerPrecomputed": "webknossos_like.storage.precomputed.format:PrecomputedFormat",
    "zarr3": "webknossos_like.storage.zarr3.format:Zarr3Format",
}
#: Other spellings users pass, e.g. tensorstore's driver names.
_ALIASES: dict[str, str] = {
    "neuroglancer_precomputed": "neuroglancerPrecomputed",
    "precomputed": "neuroglancerPrecomputed",
}
#: URL schemes naming a format in front of a location, as Neuroglancer writes them.
_URL_SCHEMES: dict[str, str] = {
    "precomputed": "neuroglancerPrecomputed",
    "zarr3": "zarr3",
    "zarr": "zarr3",
}
#: Formats that can open a volume without properties, in the order they are tried.
_BARE_ORDER: tuple[str, ...] = ("neuroglancerPrecomputed", "zarr3")

_loaded: dict[str, StorageFormat] = {}
_lock = threading.Lock()


def register_format(
    name: str, target: str, *, aliases: tuple[str, ...] = (), bare: bool = False
) -> None:
    """Add a format: `target` is "module:Class" of a `StorageFormat` subclass, imported on
    first use. `bare=True` also asks it to open volumes that have no properties file."""
    if name in _FORMATS and _FORMATS[name] != target:
        raise InvalidArgumentError(f"A data format {name!r} is registered already.")
    with _lock:
        _FORMATS[name] = target
        _loaded.pop(name, None)
        for alias in aliases:
            _ALIASES[alias] = name
    global _BARE_ORDER
    if bare and name not in _BARE_ORDER:
        _BARE_ORDER = (*_BARE_ORDER, name)


def unregister_format(name: str) -> None:
    """Remove a format added with `register_format` (and its aliases)."""
    global _BARE_ORDER
    with _lock:
        _FORMATS.pop(name, None)
        _loaded.pop(name, None)
        for alias in [a for a, target in _ALIASES.items() if target == name]:
            del _ALIASES[alias]
    _BARE_ORDER = tuple(n for n in _BARE_ORDER if n != name)


def format_names() -> tuple[str, ...]:
    """The data formats this version reads and writes, by their properties spelling."""
    return tuple(_FORMATS)


def canonical_name(name: str) -> str:
    """The properties spelling of a format name or alias; `UnsupportedFormatError` if unknown."""
    name = str(name)  # a DataFormat member is its value
    if name in _FORMATS:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    raise UnsupportedFormatError(
        f"Unknown data format {name!r}; supported: {', '.join(_FORMATS)}"
        f" (also spelled {', '.join(_ALIASES)})."
    )


def get_format(name: str) -> StorageFormat:
    """The format `name` (or an alias of it), loaded on first use."""
    key = canonical_name(name)
    with _lock:
        loaded = _loaded.get(key)
        if loaded is None:
            module_name, _, class_name = _FORMATS[key].partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise UnsupportedFormatError(
                    f"The {key} format needs a package that is not installed ({exc.name}); "
                    f"install it with: pip install 'webknossos_like[{key}]'."
                ) from exc
            loaded = getattr(module, class_name)()
            _loaded[key] = loaded
    return loaded


def is_url(location: str) -> bool:
    """Whether `location` names a remote volume (`https://`, `gs://`...), not a local path."""
    return "://" in location and not location.startswith("file://")


def local_path(location: str) -> Path:
    """The folder a local location names (a plain path or a `file://` URL)."""
    if location.startswith("file://"):
        from .precomputed.kvstore import file_url_to_path

        return Path(file_url_to_path(location))
    return Path(location)


def split_location(location: str) -> tuple[str | None, str]:
    """Strip a leading format scheme as Neuroglancer writes it (`precomputed://https://...`,
    `zarr3:///data/vol`): the format it names (None if there is none) and the rest."""
    scheme, sep, rest = location.partition("://")
    if sep and scheme in _URL_SCHEMES and (is_url(rest) or rest.startswith(("/", "file://"))):
        return _URL_SCHEMES[scheme], rest
    return None, location


def open_bare(location: str, *, read_only: bool, hint: str | None = None) -> BareVolume | None:
    """The first format (or the `hint`ed one) that recognises `location` as a bare volume,
    opened; else None."""
    remote = is_url(location)
    for name in _BARE_ORDER if hint is None else (hint,):
        try:
            storage_format = get_format(name)
        except UnsupportedFormatError:
            if hint is not None:
                raise
            continue  # not installed: it cannot be asked
        if remote and not storage_format.remote:
            continue
        volume = storage_format.open_bare(location, read_only=read_only)
        if volume is not None:
            return volume
    return None
