"""Attachment values: one file or folder (mesh, agglomerate, ...) that belongs to a segmentation layer."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, TypeVar

from .._str_enum import ValueStrEnum
from ..errors import InvalidNameError, InvalidPropertiesError, UnsupportedFormatError
from ..storage.s3.path import is_s3_path
from ._naming import validate_attachment_name

__all__ = [
    "AgglomerateAttachment",
    "Attachment",
    "AttachmentDataFormat",
    "ConnectomeAttachment",
    "CumsumAttachment",
    "MeshAttachment",
    "SegmentIndexAttachment",
    "SegmentStatisticsAttachment",
]


class AttachmentDataFormat(ValueStrEnum):
    """The file formats of attachments, spelled as `dataFormat` in the properties JSON."""

    Zarr3 = "zarr3"
    HDF5 = "hdf5"
    JSON = "json"
    NeuroglancerPrecomputed = "neuroglancerPrecomputed"


def as_attachment_format(value: object) -> AttachmentDataFormat:
    """`value` (a member, its value string, or webknossos' enum member) as our enum member."""
    raw = getattr(value, "value", value)
    try:
        return AttachmentDataFormat(raw)
    except ValueError:
        known = ", ".join(repr(f.value) for f in AttachmentDataFormat)
        raise UnsupportedFormatError(
            f"Unknown attachment data format {value!r} (known: {known})."
        ) from None


def is_url(path: object) -> bool:
    """Whether a stored path is a URL (`s3://`, `https://`, ...) rather than a file path."""
    return isinstance(path, str) and "://" in path


AttachmentPath = Path | str
"""A local path, or the URL string of an attachment on object storage or a web server."""

A = TypeVar("A", bound="Attachment")


class Attachment:
    """One attachment: its `name`, where it lies (`path`) and its `data_format`."""

    container_name: ClassVar[str] = ""
    """Our attribute name on `Attachments` (snake_case); its camelCase form is the folder name."""
    json_key: ClassVar[str] = ""
    """The key under `attachments` in `datasource-properties.json`."""
    type_name: ClassVar[str] = ""
    """webknossos' name of the kind (`mesh`, `segmentIndex`, ...)."""
    singleton: ClassVar[bool] = False
    """Whether a layer holds at most one of this kind."""
    allowed_formats: ClassVar[tuple[AttachmentDataFormat, ...]] = ()

    def __init__(self, name: str, path: AttachmentPath, data_format: object) -> None:
        data_format = as_attachment_format(data_format)
        if data_format not in self.allowed_formats:
            allowed = ", ".join(f.value for f in self.allowed_formats)
            raise UnsupportedFormatError(
                f"{data_format.value!r} is not a data format of {type(self).__name__} "
                f"(allowed: {allowed})."
            )
        validate_attachment_name(name)
        self.name = name
        self.path: AttachmentPath = path if is_url(path) else Path(path)
        self.data_format = data_format

    @classmethod
    def from_path_and_name(
        cls: type[A],
        path: str | os.PathLike[str],
        name: str,
        *,
        data_format: object,
        dataset_path: str | os.PathLike[str] | None = None,
    ) -> A:
        """An attachment at `path` (relative paths resolve against `dataset_path`, else the cwd)."""
        return cls(name, resolve_path(path, dataset_path), data_format)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Attachment):
            return NotImplemented
        return (type(self).type_name, self.name, str(self.path), self.data_format) == (
            type(other).type_name,
            other.name,
            str(other.path),
            other.data_format,
        )

    def __hash__(self) -> int:
        return hash((type(self).type_name, self.name, str(self.path), self.data_format))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={self.path!r}, name={self.name}, "
            f"data_format={self.data_format})"
        )


def resolve_path(
    path: str | os.PathLike[str], dataset_path: str | os.PathLike[str] | None
) -> AttachmentPath:
    """A usable path: URLs stay strings, relative paths join `dataset_path` (or the cwd)."""
    raw = os.fspath(path)
    if is_url(raw):
        return raw
    local = Path(raw)
    if local.is_absolute():
        return local
    if dataset_path is None:
        return local.absolute()
    if is_s3_path(dataset_path):
        return f"{str(dataset_path).rstrip('/')}/{raw.removeprefix('./')}"
    base = dataset_path if isinstance(dataset_path, Path) else Path(os.fspath(dataset_path))
    joined = base / PurePosixPath(raw).as_posix().removeprefix("./")
    return Path(os.path.normpath(joined)) if ".." in joined.parts else joined


def relative_path(path: AttachmentPath, dataset_path: Path) -> str | None:
    """`path` relative to a local dataset folder (may start with `../`); None for URLs."""
    if isinstance(path, str) or is_s3_path(path) or is_s3_path(dataset_path):
        return None
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(dataset_path))).as_posix()


def dump_path(path: AttachmentPath, dataset_path: Path | None) -> str:
    """The JSON form of a path: `./relative` inside the dataset folder, else absolute or a URL."""
    if isinstance(path, str):
        prefix = f"{str(dataset_path).rstrip('/')}/"
        if is_s3_path(dataset_path) and path.startswith(prefix):
            return "./" + path.removeprefix(prefix)
        return path
    if dataset_path is not None and not is_s3_path(dataset_path):
        try:
            rel = path.relative_to(dataset_path)
        except ValueError:
            try:
                rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(dataset_path))
            except ValueError:
                rel = None
        if rel is not None and ".." not in rel.parts:
            return "./" + rel.as_posix()
    return Path(os.path.abspath(path)).as_posix()


class MeshAttachment(Attachment):
    """Precomputed meshes of the segments."""

    container_name = "meshes"
    json_key = "meshes"
    type_name = "mesh"
    allowed_formats = (
        AttachmentDataFormat.Zarr3,
        AttachmentDataFormat.HDF5,
        AttachmentDataFormat.NeuroglancerPrecomputed,
    )


class AgglomerateAttachment(Attachment):
    """An agglomerate mapping (segment id to agglomerate id, plus the graphs)."""

    container_name = "agglomerates"
    json_key = "agglomerates"
    type_name = "agglomerate"
    allowed_formats = (AttachmentDataFormat.Zarr3, AttachmentDataFormat.HDF5)


class SegmentIndexAttachment(Attachment):
    """The segment index (which buckets hold which segment); at most one per layer."""

    container_name = "segment_index"
    json_key = "segmentIndex"
    type_name = "segmentIndex"
    singleton = True
    allowed_formats = (AttachmentDataFormat.Zarr3, AttachmentDataFormat.HDF5)


class SegmentStatisticsAttachment(Attachment):
    """Per-segment statistics; at most one per layer."""

    container_name = "segment_statistics"
    json_key = "segmentStatistics"
    type_name = "segmentStatistics"
    singleton = True
    allowed_formats = (AttachmentDataFormat.Zarr3,)


class CumsumAttachment(Attachment):
    """The cumulative segment counts used by agglomerate lookups; at most one per layer."""

    container_name = "cumsum"
    json_key = "cumsum"
    type_name = "cumsum"
    singleton = True
    allowed_formats = (AttachmentDataFormat.Zarr3, AttachmentDataFormat.JSON)


class ConnectomeAttachment(Attachment):
    """A connectome (synapses between agglomerates)."""

    container_name = "connectomes"
    json_key = "connectomes"
    type_name = "connectome"
    allowed_formats = (AttachmentDataFormat.Zarr3, AttachmentDataFormat.HDF5)


KINDS: tuple[type[Attachment], ...] = (
    MeshAttachment,
    AgglomerateAttachment,
    SegmentIndexAttachment,
    SegmentStatisticsAttachment,
    CumsumAttachment,
    ConnectomeAttachment,
)
"""Every kind, in webknossos' iteration order."""


def folder_name(kind: type[Attachment]) -> str:
    """The folder inside the layer that copies of this kind go to (camelCase of the container)."""
    head, *rest = kind.container_name.split("_")
    return head + "".join(part.title() for part in rest)


def file_name(name: str, data_format: AttachmentDataFormat) -> str:
    """The file or folder name of a copied attachment: HDF5 and JSON files get a suffix."""
    if data_format in (AttachmentDataFormat.HDF5, AttachmentDataFormat.JSON):
        return f"{name}.{data_format.value}"
    return name


def attachment_from_json(
    kind: type[Attachment], entry: Any, dataset_path: Path, json_path: str
) -> Attachment:
    """Parse one `{name, path, dataFormat}` entry; malformed entries raise `InvalidPropertiesError`."""
    if not isinstance(entry, dict) or not all(
        isinstance(entry.get(key), str) for key in ("name", "path", "dataFormat")
    ):
        raise InvalidPropertiesError(
            "an attachment needs string 'name', 'path' and 'dataFormat'", json_path=json_path
        )
    try:
        return kind(entry["name"], resolve_path(entry["path"], dataset_path), entry["dataFormat"])
    except (UnsupportedFormatError, InvalidNameError) as exc:
        raise InvalidPropertiesError(str(exc), json_path=json_path) from None


def attachment_to_json(attachment: Attachment, dataset_path: Path | None) -> dict[str, Any]:
    """The properties JSON entry of an attachment."""
    return {
        "name": attachment.name,
        "path": dump_path(attachment.path, dataset_path),
        "dataFormat": attachment.data_format.value,
    }
