"""`Attachments`: a segmentation layer's meshes, agglomerates, ... read from and written through
to the `attachments` object of its properties."""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._atomic import TEMP_PREFIX
from ..errors import (
    AttachmentExistsError,
    AttachmentFileNotFoundError,
    AttachmentNotFoundError,
    UnsupportedFormatError,
)
from ..properties import LayerProperties, SegmentationLayerProperties
from ..storage.s3.path import is_s3_path
from ._compat import deprecated
from ._naming import validate_attachment_name
from .attachment import (
    KINDS,
    AgglomerateAttachment,
    Attachment,
    AttachmentDataFormat,
    AttachmentPath,
    ConnectomeAttachment,
    CumsumAttachment,
    MeshAttachment,
    SegmentIndexAttachment,
    SegmentStatisticsAttachment,
    as_attachment_format,
    attachment_from_json,
    attachment_to_json,
    file_name,
    folder_name,
    relative_path,
    resolve_path,
)

if TYPE_CHECKING:
    from .layer import SegmentationLayer

__all__ = ["Attachments"]

A = TypeVar("A", bound=Attachment)


class Attachments:
    """The attachments of one segmentation layer (`layer.attachments`).

    Reads see the properties as last loaded; every change is written through at once, merged
    with what other writers saved meanwhile. Relative paths in the JSON resolve against the
    dataset folder.
    """

    def __init__(self, layer: SegmentationLayer) -> None:
        self._layer = layer

    # -- reading --------------------------------------------------------------------------------
    @property
    def _dataset_path(self) -> Path:
        """What relative paths resolve against: the dataset folder, made absolute if local."""
        path = self._layer.dataset.path
        return path if is_s3_path(path) else path.absolute()

    def _all(self, kind: type[A]) -> list[A]:
        raw = self._layer._properties.attachments or {}
        value = raw.get(kind.json_key)
        if value is None:
            return []
        key = f"attachments.{kind.json_key}"
        entries = [value] if kind.singleton else value
        if not isinstance(entries, list):
            entries = [entries]  # tolerate a lone object where a list belongs
        found: list[A] = []
        for index, entry in enumerate(entries):
            where = key if kind.singleton else f"{key}[{index}]"
            parsed = attachment_from_json(kind, entry, self._dataset_path, where)
            assert isinstance(parsed, kind)
            found.append(parsed)
        return found

    def _single(self, kind: type[A]) -> A | None:
        found = self._all(kind)
        return found[0] if found else None

    @property
    def meshes(self) -> tuple[MeshAttachment, ...]:
        """The mesh files."""
        return tuple(self._all(MeshAttachment))

    @property
    def agglomerates(self) -> tuple[AgglomerateAttachment, ...]:
        """The agglomerate files."""
        return tuple(self._all(AgglomerateAttachment))

    @property
    def connectomes(self) -> tuple[ConnectomeAttachment, ...]:
        """The connectome files."""
        return tuple(self._all(ConnectomeAttachment))

    @property
    def segment_index(self) -> SegmentIndexAttachment | None:
        """The segment index, if any."""
        return self._single(SegmentIndexAttachment)

    @property
    def segment_statistics(self) -> SegmentStatisticsAttachment | None:
        """The segment statistics, if any."""
        return self._single(SegmentStatisticsAttachment)

    @property
    def cumsum(self) -> CumsumAttachment | None:
        """The cumsum file, if any."""
        return self._single(CumsumAttachment)

    def __iter__(self) -> Iterator[Attachment]:
        """Every attachment: meshes, agglomerates, segment index, statistics, cumsum, connectomes."""
        for kind in KINDS:
            yield from self._all(kind)

    @property
    def is_empty(self) -> bool:
        """Whether the layer has no attachments."""
        return next(iter(self), None) is None

    def __repr__(self) -> str:
        return f"Attachments({list(self)})"

    # -- adding ---------------------------------------------------------------------------------
    def _register(
        self, attachment: Attachment, *, replace: bool = False, make_relative: bool = False
    ) -> None:
        """Write `attachment` into the properties (checked against the freshest copy);
        `make_relative` stores a local path outside the dataset as `../...`, not absolute."""
        self._layer._check_writable()
        kind = type(attachment)
        entry = attachment_to_json(attachment, self._dataset_path)
        if make_relative and not entry["path"].startswith("./"):
            entry["path"] = relative_path(attachment.path, self._dataset_path) or entry["path"]
        layer_name = self._layer.name

        def add(props: LayerProperties) -> None:
            raw = _attachments_dict(props)
            if kind.singleton:
                if raw.get(kind.json_key) is not None and not replace:
                    raise AttachmentExistsError(
                        f"Layer {layer_name!r} already has a {kind.container_name} attachment; "
                        "delete it first."
                    )
                raw[kind.json_key] = entry
                return
            value = raw.get(kind.json_key)
            entries = value if isinstance(value, list) else ([] if value is None else [value])
            if any(isinstance(e, dict) and e.get("name") == attachment.name for e in entries):
                raise AttachmentExistsError(
                    f"Layer {layer_name!r} already has an attachment {attachment.name!r} in "
                    f"{kind.container_name}."
                )
            raw[kind.json_key] = [*entries, entry]

        self._layer._update(add)

    def _add_path(
        self,
        kind: type[A],
        path: str | os.PathLike[str],
        name: str,
        data_format: object,
        replace: bool = False,
    ) -> A:
        attachment = kind.from_path_and_name(
            path, name, data_format=data_format, dataset_path=self._dataset_path
        )
        self._register(attachment, replace=replace)
        return attachment

    def add_mesh(
        self, path: str | os.PathLike[str], *, name: str, data_format: object
    ) -> MeshAttachment:
        """List the mesh file at `path` (referenced, not copied)."""
        return self._add_path(MeshAttachment, path, name, data_format)

    def add_agglomerate(
        self, path: str | os.PathLike[str], *, name: str, data_format: object
    ) -> AgglomerateAttachment:
        """List the agglomerate file at `path` (referenced, not copied)."""
        return self._add_path(AgglomerateAttachment, path, name, data_format)

    def add_connectome(
        self, path: str | os.PathLike[str], *, name: str, data_format: object
    ) -> ConnectomeAttachment:
        """List the connectome file at `path` (referenced, not copied)."""
        return self._add_path(ConnectomeAttachment, path, name, data_format)

    def add_segment_index(
        self, path: str | os.PathLike[str], *, name: str, data_format: object
    ) -> SegmentIndexAttachment:
        """Set the segment index (referenced); refuses when the layer has one already."""
        return self._add_path(SegmentIndexAttachment, path, name, data_format)

    def add_segment_statistics(
        self, path: str | os.PathLike[str], *, name: str, data_format: object
    ) -> SegmentStatisticsAttachment:
        """Set the segment statistics (referenced); refuses when the layer has them already."""
        return self._add_path(SegmentStatisticsAttachment, path, name, data_format)

    def add_cumsum(
        self, path: str | os.PathLike[str], *, name: str, data_format: object
    ) -> CumsumAttachment:
        """Set the cumsum file (referenced); refuses when the layer has one already."""
        return self._add_path(CumsumAttachment, path, name, data_format)

    def set_segment_index(
        self, path: str | os.PathLike[str], *, name: str, data_format: object
    ) -> SegmentIndexAttachment:
        """webknossos' name: set the segment index, replacing one that is there."""
        return self._add_path(SegmentIndexAttachment, path, name, data_format, replace=True)

    def set_cumsum(
        self, path: str | os.PathLike[str], *, name: str, data_format: object
    ) -> CumsumAttachment:
        """webknossos' name: set the cumsum file, replacing one that is there."""
        return self._add_path(CumsumAttachment, path, name, data_format, replace=True)

    def add_attachment_as_ref(self, attachment: Any, *, new_name: str | None = None) -> Attachment:
        """List another layer's attachment (ours or webknossos') here by its path; no copy."""
        return self._add_ref(attachment, new_name=new_name)

    def _add_ref(
        self, attachment: Any, *, new_name: str | None = None, make_relative: bool = False
    ) -> Attachment:
        kind, path, data_format = _parts(attachment)
        name = attachment.name if new_name is None else new_name
        new = kind(name, path, data_format)
        self._register(new, make_relative=make_relative)
        return new

    def add_attachment_as_copy(self, attachment: Any) -> Attachment:
        """Copy the attachment's file or folder into this layer (`<layer>/<kind>/<name>[.hdf5]`).

        The copy is written under a temporary name and renamed into place, so the target is
        either absent or whole.
        """
        self._layer._check_writable()
        kind, source, data_format = _parts(attachment)
        validate_attachment_name(attachment.name)
        if isinstance(source, str) or is_s3_path(source) or is_s3_path(self._layer.path):
            raise UnsupportedFormatError(
                f"Cannot copy attachment {attachment.name!r}: copies need local files "
                f"(source {source}, target {self._layer.path})."
            )
        if not source.exists():
            raise AttachmentFileNotFoundError(
                f"Cannot copy attachment {attachment.name!r}: {source} does not exist."
            )
        target = self._layer.path / folder_name(kind) / file_name(attachment.name, data_format)
        self._check_free(kind, attachment.name)
        _copy_atomically(source, target)
        new = kind(attachment.name, target, data_format)
        self._register(new)
        return new

    def add_attachments(self, *other: Any) -> list[Attachment]:
        """Deprecated in webknossos: `add_attachment_as_ref` for each."""
        deprecated("add_attachments", "add_attachment_as_ref")
        return [self.add_attachment_as_ref(attachment) for attachment in other]

    def add_copy_attachments(self, *other: Any) -> list[Attachment]:
        """Deprecated in webknossos: `add_attachment_as_copy` for each."""
        deprecated("add_copy_attachments", "add_attachment_as_copy")
        return [self.add_attachment_as_copy(attachment) for attachment in other]

    def detect_legacy_attachments(self) -> None:
        """List HDF5 files lying in the layer's `meshes/`, `agglomerates/`, `connectomes/` and
        `segmentIndex/` folders and `agglomerates/cumsum.json`, which older datasets kept
        without metadata; ones already listed are skipped."""
        layer_path = self._layer.path
        if is_s3_path(layer_path):
            return
        found: list[Attachment] = []
        legacy: tuple[type[Attachment], ...] = (
            MeshAttachment,
            AgglomerateAttachment,
            ConnectomeAttachment,
            SegmentIndexAttachment,
        )
        for legacy_kind in legacy:
            folder = layer_path / folder_name(legacy_kind)
            if folder.is_dir():
                found += [
                    legacy_kind(file.stem, file.absolute(), AttachmentDataFormat.HDF5)
                    for file in sorted(folder.glob("*.hdf5"))
                ]
        cumsum = layer_path / "agglomerates" / "cumsum.json"
        if cumsum.is_file():
            found.append(CumsumAttachment("cumsum", cumsum.absolute(), AttachmentDataFormat.JSON))
        listed = {(type(a), a.name) for a in self}
        taken = {type(a) for a in self if type(a).singleton}
        for attachment in found:
            kind = type(attachment)
            if (kind, attachment.name) in listed or kind in taken:
                continue
            self._register(attachment)
            listed.add((kind, attachment.name))
            if kind.singleton:
                taken.add(kind)

    def _check_free(self, kind: type[Attachment], name: str) -> None:
        """Refuse early (before copying bytes) what `_register` would refuse."""
        existing = self._all(kind)
        if (kind.singleton and existing) or any(a.name == name for a in existing):
            raise AttachmentExistsError(
                f"Layer {self._layer.name!r} already has "
                f"{'an attachment' if kind.singleton else repr(name)} in {kind.container_name}."
            )

    # -- changing -------------------------------------------------------------------------------
    def rename_attachment(self, attachment: Attachment, *, new_name: str) -> Attachment:
        """Give a listed attachment another name (its files stay where they are)."""
        self._layer._check_writable()
        validate_attachment_name(new_name)
        kind = type(attachment)
        layer_name = self._layer.name

        def rename(props: LayerProperties) -> None:
            raw = _attachments_dict(props)
            entries = _entries(raw, kind)
            match = [e for e in entries if e.get("name") == attachment.name]
            if not match:
                raise AttachmentNotFoundError(
                    f"Layer {layer_name!r} has no {kind.container_name} attachment "
                    f"{attachment.name!r}."
                )
            if not kind.singleton and any(e.get("name") == new_name for e in entries):
                raise AttachmentExistsError(
                    f"Layer {layer_name!r} already has an attachment {new_name!r} in "
                    f"{kind.container_name}."
                )
            match[0]["name"] = new_name

        self._layer._update(rename)
        return kind(new_name, attachment.path, attachment.data_format)

    def delete_attachment(self, attachment: Attachment) -> None:
        """Remove an attachment from the properties (its files are left on disk, as in webknossos)."""
        self._layer._check_writable()
        kind = type(attachment)
        layer_name = self._layer.name

        def remove(props: LayerProperties) -> None:
            raw = _attachments_dict(props)
            entries = _entries(raw, kind)
            keep = [e for e in entries if e.get("name") != attachment.name]
            if len(keep) == len(entries):
                raise AttachmentNotFoundError(
                    f"Layer {layer_name!r} has no {kind.container_name} attachment "
                    f"{attachment.name!r}."
                )
            if kind.singleton or not keep:
                raw.pop(kind.json_key, None)
            else:
                raw[kind.json_key] = keep

        self._layer._update(remove)


def _attachments_dict(props: LayerProperties) -> dict[str, Any]:
    """The raw `attachments` object of a segmentation layer's properties, created if missing."""
    assert isinstance(props, SegmentationLayerProperties)
    if props.attachments is None:
        props.attachments = {}
    return props.attachments


def _entries(raw: dict[str, Any], kind: type[Attachment]) -> list[dict[str, Any]]:
    """The stored entries of one kind as a list (a singleton gives zero or one)."""
    value = raw.get(kind.json_key)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [e for e in items if isinstance(e, dict)]


_WK_TYPE_NAMES = {kind.type_name: kind for kind in KINDS}


def _parts(attachment: Any) -> tuple[type[Attachment], AttachmentPath, AttachmentDataFormat]:
    """Kind, path and format of our attachment or of a webknossos one (duck-typed)."""
    data_format = as_attachment_format(getattr(attachment, "data_format", None))
    if isinstance(attachment, Attachment):
        return type(attachment), attachment.path, data_format
    kind = _WK_TYPE_NAMES.get(getattr(attachment, "type_name", ""))
    if kind is None:
        raise UnsupportedFormatError(f"Not an attachment: {attachment!r}.")
    raw_path = attachment.path
    protocol = getattr(raw_path, "protocol", "")
    path = str(raw_path) if protocol not in ("", "file", "local") else os.fspath(raw_path)
    return kind, resolve_path(path, None), data_format


def _copy_atomically(source: Path, target: Path) -> None:
    """Copy a file or folder to `target` via a temporary sibling and one rename (replacing)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f"{TEMP_PREFIX}{target.name}-{uuid.uuid4().hex}"
    try:
        if source.is_dir():
            shutil.copytree(source, temp, symlinks=False)
        else:
            shutil.copy2(source, temp)
        if target.is_dir() and not target.is_symlink():
            old = target.parent / f"{TEMP_PREFIX}{target.name}-old-{uuid.uuid4().hex}"
            os.rename(target, old)
            os.rename(temp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, target)
    except BaseException:
        if temp.is_dir():
            shutil.rmtree(temp, ignore_errors=True)
        else:
            temp.unlink(missing_ok=True)
        raise


def carry_attachments(
    source: Any, target: Any, *, copy_files: bool, make_relative: bool = False
) -> None:
    """Give `target` the attachments of `source` that it lacks (both segmentation layers).

    With `copy_files`, attachments whose files lie inside the source dataset folder are copied
    into the target layer; all others (and all without `copy_files`) are listed by reference,
    as `../` paths relative to the target dataset with `make_relative` (as webknossos does).
    """
    from .layer import SegmentationLayer

    if not isinstance(source, SegmentationLayer) or not isinstance(target, SegmentationLayer):
        return
    present = {(type(a), a.name) for a in target.attachments}
    singletons = {type(a) for a in target.attachments if type(a).singleton}
    for attachment in source.attachments:
        kind = type(attachment)
        if (kind, attachment.name) in present or kind in singletons:
            continue
        if copy_files and is_s3_path(target.path):
            if _lies_inside(attachment.path, source.dataset.path):
                warnings.warn(
                    f"Attachment {attachment.name!r} of layer {source.name!r} is not copied to "
                    f"object storage; the copy references {attachment.path}.",
                    UserWarning,
                    stacklevel=2,
                )
            target.attachments.add_attachment_as_ref(attachment)
        elif copy_files and _lies_inside(attachment.path, source.dataset.path):
            if isinstance(attachment.path, Path) and attachment.path.exists():
                target.attachments.add_attachment_as_copy(attachment)
                continue
            warnings.warn(
                f"Attachment {attachment.name!r} of layer {source.name!r} is missing "
                f"({attachment.path}); the copy lists it by its old path.",
                UserWarning,
                stacklevel=2,
            )
            target.attachments.add_attachment_as_ref(attachment)
        else:
            target.attachments._add_ref(attachment, make_relative=make_relative)


def _lies_inside(path: AttachmentPath, folder: Path) -> bool:
    """Whether a local `path` resolves into the local `folder`."""
    if isinstance(path, str) or is_s3_path(path) or is_s3_path(folder):
        return False
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
