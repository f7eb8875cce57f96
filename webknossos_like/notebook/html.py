"""Compact HTML tables for notebooks: what `_repr_html_` of datasets, layers, views, boxes and mags shows.

Every function returns a self-contained HTML fragment (no scripts, no external CSS) in which every
user-controlled string (dataset names, paths, URLs, error messages) is escaped with `html.escape`.
The functions never raise for a dataset that is only partly readable: a value that cannot be
determined (a missing mag folder, say) is shown as *unavailable* with the reason.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..geometry import BoundingBox, Mag

if TYPE_CHECKING:
    from ..dataset import Dataset, Layer, View

__all__ = [
    "bbox_html",
    "dataset_html",
    "format_bytes",
    "layer_disk_size",
    "layer_html",
    "mag_html",
    "view_html",
]

PROPERTIES_FILE_NAME = "datasource-properties.json"
# Counting stops after this many files so that showing a huge dataset stays fast.
MAX_FILES_COUNTED = 100_000

_TABLE = (
    '<table class="wkl-repr" style="border-collapse:collapse;margin:0.2em 0;'
    'font-size:0.9em;text-align:left">'
)
# Inline styles: notebook front ends right-align table cells by default and drop <style> blocks.
_TH = '<th style="text-align:left">'
_TD = '<td style="text-align:left">'
_UNITS = {"nanometer": "nm", "micrometer": "µm", "millimeter": "mm", "angstrom": "Å", "meter": "m"}
_MISSING = '<span style="opacity:0.6">—</span>'


# -- formatting helpers -------------------------------------------------------------------------
def _e(value: object) -> str:
    """`str(value)`, HTML-escaped (quotes too)."""
    return html.escape(str(value), quote=True)


def format_bytes(size: int) -> str:
    """A byte count for people: `512 B`, `1.5 KiB`, `12.3 MiB`, `4.0 GiB`, `1.2 TiB`."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def _vec(values: Iterable[int]) -> str:
    return "(" + ", ".join(str(int(v)) for v in values) + ")"


def _bbox_text(box: BoundingBox) -> str:
    return f"{_vec(box.topleft)} + {_vec(box.size)}"


def _number(value: float) -> str:
    return f"{value:g}"


def _voxel_size_html(voxel_size: Sequence[float], unit: str) -> str:
    numbers = " &times; ".join(_e(_number(v)) for v in voxel_size)
    return f"{numbers} {_e(_UNITS.get(unit, unit))}"


def _unavailable(exc: BaseException) -> str:
    return f'<i style="opacity:0.7">unavailable: {_e(exc)}</i>'


def _safe(compute: Callable[[], str]) -> str:
    """The already-escaped HTML `compute()` returns, or an *unavailable* note if it fails."""
    try:
        return compute()
    except Exception as exc:  # a repr must not fail because one mag cannot be opened
        return _unavailable(exc)


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    """Key/value rows; keys are escaped here, values must be escaped HTML already."""
    return "".join(f"<tr>{_TH}{_e(key)}</th>{_TD}{value}</td></tr>" for key, value in pairs)


def _title(kind: str, name: str | None = None) -> str:
    suffix = f" {_e(name)}" if name is not None else ""
    return f'<tr><th colspan="2" style="text-align:left"><b>{_e(kind)}</b>{suffix}</th></tr>'


def _key_value_table(kind: str, name: str | None, pairs: Iterable[tuple[str, str]]) -> str:
    return f"{_TABLE}{_title(kind, name)}{_rows(pairs)}</table>"


def _grid(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table with a header row; cells must be escaped HTML already."""
    head = "".join(f"{_TH}{_e(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"{_TD}{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"{_TABLE}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- on-disk size -------------------------------------------------------------------------------
def _is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def _layer_folder(layer: Layer) -> Path | None:
    """The folder holding the layer's files; None for layers of datasets opened from a URL."""
    dataset = layer.dataset
    if _is_url(dataset.location):
        return None
    if layer.path.is_dir():
        return layer.path
    # A bare precomputed volume (an `info`, no properties file) is the layer folder itself.
    if (dataset.path / "info").is_file() and not (dataset.path / PROPERTIES_FILE_NAME).exists():
        return dataset.path
    return layer.path


def _folder_size(folder: Path, max_files: int | None) -> tuple[int, bool]:
    """(sum of file sizes under `folder`, whether counting stopped at `max_files`).

    Hidden entries (lock files, `.wkl-tmp-*` scratch folders) and symbolic links (mags shared
    with another layer or dataset live elsewhere) are not counted.
    """
    total = 0
    files = 0
    pending = [folder]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
                    files += 1
            except FileNotFoundError:  # removed while we counted
                continue
            if max_files is not None and files >= max_files:
                return total, True
    return total, False


def layer_disk_size(layer: Layer) -> int | None:
    """Bytes stored under the layer's folder (sum of file sizes), or None for URL datasets.

    A layer without files yet has size 0. Hidden files (locks, scratch folders) and symbolic
    links (mags shared with another layer) are not counted.
    """
    folder = _layer_folder(layer)
    if folder is None:
        return None
    return _folder_size(folder, None)[0]


def _measured_size(layer: Layer) -> tuple[int, bool] | None:
    """(bytes, whether counting stopped early) for the HTML tables; None for URL datasets."""
    folder = _layer_folder(layer)
    if folder is None:
        return None
    return _folder_size(folder, MAX_FILES_COUNTED)


def _size_html(measured: tuple[int, bool] | None) -> str:
    if measured is None:
        return _MISSING
    size, truncated = measured
    if truncated:
        return (
            f"&gt; {_e(format_bytes(size))} <i>(stopped counting at {MAX_FILES_COUNTED} files)</i>"
        )
    return _e(format_bytes(size))


# -- the tables ---------------------------------------------------------------------------------
def _dtype_html(layer_or_view: Layer | View) -> str:
    """`uint8`, or `3 &times; uint8` for several channels."""
    channels = layer_or_view.num_channels
    dtype = _e(layer_or_view.dtype)
    return dtype if channels == 1 else f"{channels} &times; {dtype}"


def _largest_segment_id(layer: Layer) -> str:
    if layer.category != "segmentation":
        return _MISSING
    value = getattr(layer, "largest_segment_id", None)
    return _e(value) if value is not None else "<i>unknown</i>"


def _mag_names(layer: Layer) -> str:
    names = [mag.to_layer_name() for mag in layer.mags]
    return _e(", ".join(names)) if names else "<i>none</i>"


def _layer_row(layer: Layer, measured: tuple[int, bool] | None) -> tuple[str, ...]:
    return (
        f"<b>{_e(layer.name)}</b>",
        _safe(lambda: _e(layer.category)),
        _safe(lambda: _dtype_html(layer)),
        _safe(lambda: _e(layer.data_format)),
        _safe(lambda: _e(_bbox_text(layer.bounding_box))),
        _safe(lambda: _mag_names(layer)),
        _safe(lambda: _largest_segment_id(layer)),
        _size_html(measured),
    )


def dataset_html(dataset: Dataset) -> str:
    """An HTML summary of a dataset: name, location, voxel size, then one row per layer.

    Layer rows show the category, dtype (channels x dtype), data format, bounding box (mag-1
    voxels, `topleft + size`), mags, largest segment id and on-disk size (sum of the file sizes
    under the layer folder; not computed for datasets opened from a URL).
    """
    layers = list(dataset.layers.values())
    measured: list[tuple[int, bool] | None] = []
    for layer in layers:
        try:
            measured.append(_measured_size(layer))
        except OSError:
            measured.append(None)
    total: str = _MISSING
    if layers and all(m is not None for m in measured):
        bytes_total = sum(m[0] for m in measured if m is not None)
        more = any(m[1] for m in measured if m is not None)
        total = ("&gt; " if more else "") + _e(format_bytes(bytes_total))
    summary = [
        ("location", _e(dataset.location)),
        (
            "voxel size",
            _voxel_size_html(dataset.voxel_size_with_unit.factor, dataset.voxel_size_unit),
        ),
        ("bounding box", _safe(lambda: _e(_bbox_text(dataset.calculate_bounding_box())))),
        ("layers", str(len(layers))),
        ("on disk", total),
    ]
    if dataset.read_only:
        summary.append(("read-only", "yes"))
    header = (
        "layer",
        "category",
        "dtype",
        "data format",
        "bounding box",
        "mags",
        "largest segment id",
        "on disk",
    )
    rows = [_layer_row(layer, size) for layer, size in zip(layers, measured, strict=True)]
    table = _grid(header, rows) if rows else "<p><i>No layers yet.</i></p>"
    return (
        f'<div class="wkl-repr">{_key_value_table("Dataset", dataset.name, summary)}{table}</div>'
    )


def _mag_row(layer: Layer, mag: Mag) -> tuple[str, ...]:
    view = layer.mags[mag]
    box = view.bounding_box

    def in_mag() -> str:
        return _e(_bbox_text(box.in_mag(mag)))

    def storage() -> tuple[str, str, str]:
        info = view.info
        return (
            _e(_vec(info.chunk_shape)),
            _e(_vec(info.shard_shape)),
            "yes" if info.compressed else "no",
        )

    try:
        chunk, shard, compressed = storage()
    except Exception as exc:  # e.g. a mag folder that is missing on disk
        chunk = shard = compressed = _unavailable(exc)
    return (f"<b>{_e(mag.to_layer_name())}</b>", _safe(in_mag), chunk, shard, compressed)


def layer_html(layer: Layer) -> str:
    """An HTML summary of a layer and a table of its mags (chunk and shard shape, compression).

    The mags' bounding boxes are shown in each mag's own voxel grid (`topleft + size`), the grid
    that `view[...]` indexing and `thumbnail(index=...)` use.
    """
    pairs = [
        ("dataset", _e(layer.dataset.name)),
        ("category", _safe(lambda: _e(layer.category))),
        ("dtype", _safe(lambda: _dtype_html(layer))),
        ("data format", _safe(lambda: _e(layer.data_format))),
        ("bounding box", _safe(lambda: _e(_bbox_text(layer.bounding_box)))),
    ]
    try:
        is_segmentation = layer.category == "segmentation"
    except Exception:  # unreadable properties: the category row says why
        is_segmentation = False
    if is_segmentation:
        pairs.append(("largest segment id", _safe(lambda: _largest_segment_id(layer))))
    pairs.append(("on disk", _safe(lambda: _size_html(_measured_size(layer)))))
    mags = list(layer.mags)
    table = (
        _grid(
            ("mag", "bounding box (mag voxels)", "chunk", "shard", "compressed"),
            [_mag_row(layer, mag) for mag in mags],
        )
        if mags
        else "<p><i>No mags yet.</i></p>"
    )
    return (
        f'<div class="wkl-repr">{_key_value_table(type(layer).__name__, layer.name, pairs)}'
        f"{table}</div>"
    )


def view_html(view: View) -> str:
    """An HTML summary of a `View` or `MagView`: mag, boxes, dtype and storage layout.

    The bounding box is shown in mag-1 voxels (what `read`/`write` take) and in the view's own mag
    grid (what `view[...]` indexing and `thumbnail(index=...)` take).
    """
    layer = getattr(view, "layer", None)
    kind = type(view).__name__.lstrip("_")
    if kind != "MagView":
        kind = "View"
    mag = view.mag
    box = view.bounding_box
    pairs: list[tuple[str, str]] = []
    if layer is not None:
        pairs.append(("layer", _e(layer.name)))
    pairs.append(("mag", _e(mag.to_layer_name())))
    pairs.append(("bounding box (mag 1)", _e(_bbox_text(box))))

    def in_mag() -> str:
        return _e(_bbox_text(box.align_with_mag(mag, ceil=True).in_mag(mag)))

    pairs.append(("bounding box (mag voxels)", _safe(in_mag)))
    pairs.append(("dtype", _safe(lambda: _dtype_html(view))))
    try:
        info = view.info
        pairs.extend(
            [
                ("data format", _e(info.data_format)),
                ("chunk", _e(_vec(info.chunk_shape))),
                ("shard", _e(_vec(info.shard_shape))),
                ("compressed", "yes" if info.compressed else "no"),
            ]
        )
    except Exception as exc:  # e.g. a mag folder that is missing on disk
        pairs.append(("storage", _unavailable(exc)))
    path = getattr(view, "path", None)
    if isinstance(path, Path) and layer is not None and not _is_url(layer.dataset.location):
        pairs.append(("path", _e(path)))
    pairs.append(("read-only", "yes" if view.read_only else "no"))
    title = f"{layer.name} / {mag.to_layer_name()}" if layer is not None else None
    return f'<div class="wkl-repr">{_key_value_table(kind, title, pairs)}</div>'


def bbox_html(bbox: BoundingBox) -> str:
    """An HTML table of a bounding box: topleft, size, bottomright (exclusive) and volume."""
    pairs = [
        ("topleft", _e(_vec(bbox.topleft))),
        ("size", _e(_vec(bbox.size))),
        ("bottomright", _e(_vec(bbox.bottomright))),
        ("volume", _e(f"{bbox.volume():,} voxels")),
    ]
    return f'<div class="wkl-repr">{_key_value_table("BoundingBox", None, pairs)}</div>'


def mag_html(mag: Mag) -> str:
    """An HTML table of a mag: its factors per axis and its folder name."""
    pairs = [
        ("factors (x, y, z)", _e(_vec(mag.to_tuple()))),
        ("folder name", _e(mag.to_layer_name())),
        ("voxel volume", _e(f"{mag.as_vec3_int.prod()} mag-1 voxels")),
    ]
    return f'<div class="wkl-repr">{_key_value_table("Mag", mag.to_layer_name(), pairs)}</div>'
