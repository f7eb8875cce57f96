"""OME-NGFF metadata: the groups webknossos writes (0.5) and reading plain images (0.4, 0.5).

Writing: `dataset_group_metadata` is `<dataset>/zarr.json`, `layer_group_metadata` is
`<layer>/zarr.json` (one multiscale, axes `c, x, y, z`, one dataset per mag).
Reading: `parse_ome_multiscales` understands one plain multiscale image; plates, wells,
`bioformats2raw` collections and label groups are refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import numpy as np

from ..._atomic import atomic_write_text
from ...errors import InvalidPropertiesError, UnsupportedFormatError
from ..s3.path import is_s3_path
from .axes import axis_mapping
from .metadata import V2_FILE, V3_FILE, load_array_metadata, read_json_capped

OME_VERSION = "0.5"
ZATTRS_FILE = ".zattrs"
ZGROUP_FILE = ".zgroup"
_SPACE = ("x", "y", "z")
_COLLECTIONS = ("plate", "well", "bioformats2raw.layout", "labels", "image-label")


# -- writing ------------------------------------------------------------------------------------
def dataset_group_metadata() -> dict[str, Any]:
    """`<dataset>/zarr.json`: webknossos writes a bare Zarr v3 group there."""
    return {"zarr_format": 3, "node_type": "group"}


def layer_group_metadata(
    layer_name: str,
    mags: Sequence[tuple[Sequence[int], str]],
    voxel_size: tuple[float, float, float],
    unit: str,
    num_channels: int,
) -> dict[str, Any]:
    """`<layer>/zarr.json`: an OME-NGFF 0.5 image group listing each mag as a dataset.

    Matches webknossos 4.3.3 (which writes no multiscale `name`, so `layer_name` and
    `num_channels` do not appear; they are accepted for callers that may need them), except
    that the unit is `unit` where webknossos always writes "nanometer" next to scales taken
    in the dataset's own unit. `mags` holds `(mag as [x, y, z], path relative to the layer)`.
    """
    del layer_name, num_channels
    axes: list[dict[str, Any]] = [{"name": "c", "type": "channel"}]
    axes += [{"name": a, "type": "space", "unit": unit} for a in _SPACE]
    datasets = [
        {
            "path": path,
            "coordinateTransformations": [
                {
                    "type": "scale",
                    "scale": [1.0, *(float(v * m) for v, m in zip(voxel_size, mag, strict=True))],
                }
            ],
        }
        for mag, path in mags
    ]
    return {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {
            "ome": {"version": OME_VERSION, "multiscales": [{"axes": axes, "datasets": datasets}]}
        },
    }


def write_json_atomically(path: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as indented JSON (as webknossos formats group metadata), temp file + rename."""
    text = json.dumps(obj, indent=4)
    if not isinstance(path, str | os.PathLike):  # an S3Path: one whole-object PUT
        path.write_bytes(text.encode("utf-8"))
        return
    atomic_write_text(path, text)


# -- reading ------------------------------------------------------------------------------------
@attrs.frozen
class OmeAxis:
    """One axis of a multiscale: `name` (`x`), `type` (`space`), `unit` (`nanometer`)."""

    name: str
    type: str | None = None
    unit: str | None = None


@attrs.frozen
class OmeDataset:
    """One scale level: array path relative to the image, scale (and translation) per axis."""

    path: str
    scale: tuple[float, ...]
    translation: tuple[float, ...] | None = None


@attrs.frozen
class OmeMultiscale:
    """The first multiscale of an OME-Zarr image and what its first array stores."""

    version: str
    zarr_format: int
    name: str | None
    axes: tuple[OmeAxis, ...]
    datasets: tuple[OmeDataset, ...]
    dtype: np.dtype[Any]
    num_channels: int

    @property
    def axis_names(self) -> tuple[str, ...]:
        """The axis names in stored order (what `Zarr3Array(axes=...)` takes)."""
        return tuple(a.name for a in self.axes)


def _read_attributes(folder: Path) -> tuple[Mapping[str, Any], str | None, int, Path]:
    """The OME attributes, their version (if on the `ome` object), Zarr format and file."""
    v3 = folder / V3_FILE
    if v3.is_file():
        doc = read_json_capped(v3)
        if not isinstance(doc, Mapping) or doc.get("zarr_format") != 3:
            raise UnsupportedFormatError(f"{v3}: not a Zarr v3 node.")
        if doc.get("node_type") != "group":
            raise UnsupportedFormatError(f"{v3}: an array, not an OME-Zarr image group.")
        attributes = doc.get("attributes", {})
        ome = attributes.get("ome") if isinstance(attributes, Mapping) else None
        if not isinstance(ome, Mapping):
            raise UnsupportedFormatError(f"{v3}: no OME-NGFF `attributes.ome` object.")
        version = ome.get("version")
        return ome, version if isinstance(version, str) else None, 3, v3
    zattrs = folder / ZATTRS_FILE
    if zattrs.is_file() and ((folder / ZGROUP_FILE).is_file() or not (folder / V2_FILE).is_file()):
        doc = read_json_capped(zattrs)
        if not isinstance(doc, Mapping):
            raise InvalidPropertiesError("must be a JSON object.", path=zattrs)
        return doc, None, 2, zattrs
    raise UnsupportedFormatError(f"{folder}: no OME-Zarr image ({V3_FILE} or {ZATTRS_FILE}).")


def _floats(value: Any, count: int, file: Path, key: str) -> tuple[float, ...]:
    if (
        not isinstance(value, list)
        or len(value) != count
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise InvalidPropertiesError(f"must be {count} numbers.", path=file, json_path=key)
    return tuple(float(v) for v in value)


def _transforms(value: Any, ndim: int, file: Path, key: str) -> tuple[tuple[float, ...], Any]:
    """`(scale, translation or None)` from a `coordinateTransformations` list."""
    scale: tuple[float, ...] = (1.0,) * ndim
    translation = None
    if value is None:
        return scale, None
    if not isinstance(value, list):
        raise InvalidPropertiesError("must be a list.", path=file, json_path=key)
    for i, item in enumerate(value):
        kind = item.get("type") if isinstance(item, Mapping) else None
        if kind == "scale":
            scale = _floats(item.get("scale"), ndim, file, f"{key}[{i}].scale")
        elif kind == "translation":
            translation = _floats(item.get("translation"), ndim, file, f"{key}[{i}].translation")
        elif kind != "identity":
            raise UnsupportedFormatError(f"{file}: unsupported transformation {kind!r} at {key}.")
    return scale, translation


def _axis(item: Any, file: Path, key: str) -> OmeAxis:
    if isinstance(item, str):  # NGFF 0.3 listed bare names
        return OmeAxis(item)
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        raise InvalidPropertiesError("axes need a string `name`.", path=file, json_path=key)
    kind, unit = item.get("type"), item.get("unit")
    return OmeAxis(
        item["name"],
        kind if isinstance(kind, str) else None,
        unit if isinstance(unit, str) else None,
    )


def _dataset_path(value: Any, folder: Path, file: Path, key: str) -> str:
    """A dataset path that stays inside the image folder."""
    if not isinstance(value, str) or not value or value.startswith("/"):
        raise InvalidPropertiesError("must be a relative path.", path=file, json_path=key)
    if ".." in Path(value).parts or not (folder / value).resolve().is_relative_to(folder.resolve()):
        raise InvalidPropertiesError("must stay inside the image folder.", path=file, json_path=key)
    return value


def parse_ome_multiscales(folder: str | os.PathLike[str]) -> OmeMultiscale:
    """The first multiscale of the plain OME-Zarr image at `folder` (NGFF 0.4 or 0.5)."""
    root = cast(Path, folder) if is_s3_path(folder) else Path(folder)
    attrs_doc, version, zarr_format, file = _read_attributes(root)
    multiscales = attrs_doc.get("multiscales")
    if multiscales is None:
        kinds = [k for k in _COLLECTIONS if k in attrs_doc]
        what = f"an OME-Zarr {kinds[0]} group" if kinds else "no `multiscales`"
        raise UnsupportedFormatError(f"{file}: {what}; only plain multiscale images are supported.")
    if not isinstance(multiscales, list) or not multiscales:
        raise InvalidPropertiesError(
            "must be a non-empty list.", path=file, json_path="multiscales"
        )
    first = multiscales[0]
    if not isinstance(first, Mapping):
        raise InvalidPropertiesError("must be an object.", path=file, json_path="multiscales[0]")
    if version is None:
        version = first.get("version") if isinstance(first.get("version"), str) else None
    if version not in ("0.4", "0.5"):
        raise UnsupportedFormatError(f"{file}: OME-NGFF version {version!r}; 0.4 and 0.5 are read.")
    raw_axes = first.get("axes")
    if not isinstance(raw_axes, list) or not 2 <= len(raw_axes) <= 5:
        raise InvalidPropertiesError(
            "must list 2..5 axes.", path=file, json_path="multiscales[0].axes"
        )
    axes = tuple(_axis(a, file, f"multiscales[0].axes[{i}]") for i, a in enumerate(raw_axes))
    raw_datasets = first.get("datasets")
    if not isinstance(raw_datasets, list) or not raw_datasets:
        raise InvalidPropertiesError(
            "must be a non-empty list.", path=file, json_path="multiscales[0].datasets"
        )
    global_scale, global_shift = _transforms(
        first.get("coordinateTransformations"),
        len(axes),
        file,
        "multiscales[0].coordinateTransformations",
    )
    datasets = []
    for i, item in enumerate(raw_datasets):
        key = f"multiscales[0].datasets[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidPropertiesError("must be an object.", path=file, json_path=key)
        path = _dataset_path(item.get("path"), root, file, f"{key}.path")
        scale, shift = _transforms(
            item.get("coordinateTransformations"),
            len(axes),
            file,
            f"{key}.coordinateTransformations",
        )
        # The multiscale-level transform applies after each dataset's own.
        if global_shift is not None or shift is not None:
            base = shift or (0.0,) * len(axes)
            extra = global_shift or (0.0,) * len(axes)
            shift = tuple(g * s + e for g, s, e in zip(global_scale, base, extra, strict=True))
        scale = tuple(g * s for g, s in zip(global_scale, scale, strict=True))
        datasets.append(OmeDataset(path, scale, shift))
    array = load_array_metadata(root / datasets[0].path)
    if array.zarr_format != zarr_format:
        raise UnsupportedFormatError(
            f"{root / datasets[0].path}: a Zarr v{array.zarr_format} array in a v{zarr_format} image."
        )
    mapping = axis_mapping([a.name for a in axes], array.shape, array.file)
    c = mapping.position("c")
    name = first.get("name")
    return OmeMultiscale(
        version=version,
        zarr_format=zarr_format,
        name=name if isinstance(name, str) else None,
        axes=axes,
        datasets=tuple(datasets),
        dtype=array.dtype,
        num_channels=1 if c is None else array.shape[c],
    )
