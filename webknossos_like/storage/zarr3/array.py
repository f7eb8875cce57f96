"""One Zarr mag array (v3 via tensorstore's `zarr3` driver, v2 via its `zarr` driver).

Crash safety comes from tensorstore's `file` kvstore: it never modifies an existing file; each
write (a whole shard, re-encoded after read-modify-write) goes to `<key>.__lock`, is fsynced,
renamed over `<key>`, and the folder is fsynced (documented at the top of
tensorstore/kvstore/file/file_key_value_store.cc). Readers see the old or the new shard.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from ...errors import (
    DataShapeError,
    DTypeError,
    InvalidArgumentError,
    OutOfBoundsError,
    ReadOnlyError,
    StorageError,
    UnsupportedFormatError,
)
from ...geometry import BoundingBox, Vec3Int
from ...io_pool import threads_for_call
from ..backend import ArrayInfo, check_read_size
from ..s3.path import is_s3_path, tensorstore_kvstore
from .axes import AxisMapping, axis_mapping, to_cxyz
from .errors import wrap_tensorstore_error
from .metadata import V3_FILE, ArrayMetadata, load_array_metadata
from .spec import array_metadata, check_layout

FORMAT_NAME = "zarr3"
_XYZ = ("x", "y", "z")
#: Lock files of tensorstore's file kvstore (a write in progress), not chunks.
_LOCK_SUFFIX = ".__lock"
_RESIZE_ATTEMPTS = 8


def _axis_name(axis: object) -> str:
    """An axis given as a string or as an object with a `name` (an OME axis)."""
    name = axis if isinstance(axis, str) else getattr(axis, "name", None)
    if not isinstance(name, str):
        raise InvalidArgumentError(f"Axis {axis!r} is neither a name nor has one.")
    return name


class Zarr3Array:
    """A Zarr array folder seen as `(c, x, y, z)` mag voxels (see `axes` for the mapping)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        axes: Sequence[object] | None = None,
    ) -> None:
        # An S3Path (no `__fspath__`) stands in for a Path on object storage.
        self._path: Path = cast(Path, path) if is_s3_path(path) else Path(path)
        self._axes = None if axes is None else tuple(_axis_name(a) for a in axes)
        self._meta: ArrayMetadata = load_array_metadata(self._path)
        names = self._axes if self._axes is not None else self._meta.dimension_names
        self._mapping: AxisMapping = axis_mapping(names, self._meta.shape, self._meta.file)
        # Zarr v2 and remapped (OME) arrays are read-only: this library writes `c, x, y, z` v3.
        self._writable = not read_only and self._meta.zarr_format == 3 and self._mapping.is_identity
        self._read_only = read_only
        self._lock = threading.Lock()
        # One tensorstore view per thread count (`io_threads`): its context caps the threads
        # tensorstore uses to encode and decode chunks (`data_copy_concurrency`).
        self._views: dict[int, Any] = {}
        self._info = self._make_info()

    # -- creation -------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        dtype: np.dtype[Any] | type[np.generic] | str,
        num_channels: int,
        chunk_shape: Vec3Int,
        shard_shape: Vec3Int,
        compressed: bool,
        shape: Vec3Int | None = None,
    ) -> Zarr3Array:
        """A new, empty array at `path` (which must not hold one), laid out as webknossos does."""
        import tensorstore as ts

        try:
            dtype = np.dtype(dtype)
        except TypeError as exc:
            raise DTypeError(f"Not a dtype: {dtype!r}.") from exc
        chunk, shard = Vec3Int(chunk_shape), Vec3Int(shard_shape)
        size = Vec3Int.zeros() if shape is None else Vec3Int(shape)
        if not size.is_positive():
            raise InvalidArgumentError(f"shape must be non-negative, got {size}.")
        check_layout(dtype, num_channels, chunk, shard)
        target: Path = cast(Path, path) if is_s3_path(path) else Path(path)
        if (target / V3_FILE).exists():
            raise StorageError(f"{target} already holds a Zarr array.")
        spec = {
            "driver": "zarr3",
            "kvstore": _kvstore_spec(target),
            "metadata": array_metadata(dtype, num_channels, chunk, shard, compressed, size),
            "create": True,
        }
        try:
            ts.open(spec).result()
        except ValueError as exc:
            raise wrap_tensorstore_error(exc, "creating the array", target) from None
        return cls(target)

    # -- properties -----------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The array folder."""
        return self._path

    @property
    def read_only(self) -> bool:
        """Whether writes are refused (asked for, Zarr v2, or not stored as `c, x, y, z`)."""
        return not self._writable

    @property
    def info(self) -> ArrayInfo:
        """Dtype, channels, chunk (inner) and shard (file) shapes in x, y, z."""
        return self._info

    @property
    def shape(self) -> Vec3Int:
        """The array's current extent in x, y, z (re-read: other processes may grow it)."""
        domain = self._resolved().domain
        return Vec3Int(*(int(domain[i].exclusive_max) for i in (1, 2, 3)))

    def _xyz(self, per_dim: Sequence[int]) -> Vec3Int:
        """x, y, z entries of a per-stored-dimension tuple (1 where the array lacks the axis)."""
        positions = [self._mapping.position(a) for a in _XYZ]
        return Vec3Int(*(1 if p is None else per_dim[p] for p in positions))

    def _make_info(self) -> ArrayInfo:
        c = self._mapping.position("c")
        return ArrayInfo(
            data_format=FORMAT_NAME,
            dtype=self._meta.dtype,
            num_channels=1 if c is None else self._meta.shape[c],
            chunk_shape=self._xyz(self._meta.inner_chunks),
            shard_shape=self._xyz(self._meta.outer_chunks),
            compressed=self._meta.compressed,
        )

    # -- tensorstore handle ---------------------------------------------------------------------
    def _handle(self) -> Any:
        """The `(c, x, y, z)` tensorstore view for this call's thread count, opened on first use
        (thread-safe)."""
        threads = threads_for_call()
        view = self._views.get(threads)
        if view is not None:
            return view
        with self._lock:
            if threads not in self._views:
                self._views[threads] = self._open(threads)
            return self._views[threads]

    def _open(self, threads: int) -> Any:
        import tensorstore as ts

        driver = "zarr3" if self._meta.zarr_format == 3 else "zarr"
        spec = {
            "driver": driver,
            "kvstore": _kvstore_spec(self._path),
            "open": True,
            # Revalidate zarr.json (a stat) on use, so `resolve` sees shapes grown elsewhere.
            "recheck_cached_metadata": True,
        }
        try:
            store = ts.open(
                spec, read=True, write=self._writable, context=_context(threads)
            ).result()
        except ValueError as exc:
            message = str(exc)
            if message.startswith(("NOT_FOUND", "PERMISSION_DENIED", "UNAVAILABLE")):
                raise wrap_tensorstore_error(exc, "opening the array", self._path) from None
            # Our checks passed but tensorstore refuses the metadata (e.g. a bad codec setting).
            raise UnsupportedFormatError(
                f"{self._meta.file}: tensorstore cannot open it: {message}"
            ) from None
        return to_cxyz(store, self._mapping)

    def _resolved(self) -> Any:
        """The view with its bounds refreshed from `zarr.json` (another writer may have grown it)."""
        try:
            view = self._handle().resolve().result()
        except ValueError as exc:
            raise wrap_tensorstore_error(exc, "reading the array shape", self._path) from None
        self._views[threads_for_call()] = view
        return view

    # -- I/O ------------------------------------------------------------------------------------
    def read(self, bbox: BoundingBox) -> np.ndarray:
        """`(c, x, y, z)` voxels of `bbox`; never-written voxels and those beyond the shape are 0."""
        info = self._info
        check_read_size(bbox, info.dtype, info.num_channels, str(self._path))
        if bbox.is_empty():
            return np.zeros((info.num_channels, *bbox.size.to_tuple()), dtype=info.dtype, order="F")
        view = self._handle()
        if not self._covers(view, bbox.bottomright):
            view = self._resolved()
        shape = Vec3Int(*(int(view.domain[i].exclusive_max) for i in (1, 2, 3)))
        inside = bbox.intersected_with(BoundingBox(Vec3Int.zeros(), shape))
        if inside.is_empty():
            return np.zeros((info.num_channels, *bbox.size.to_tuple()), dtype=info.dtype, order="F")
        lo, hi = inside.topleft, inside.bottomright
        try:
            # Fortran order, like WKW reads: chunks are stored that way (no transpose on read),
            # and the pyramid kernels walk x fastest.
            data = view[:, lo.x : hi.x, lo.y : hi.y, lo.z : hi.z].read(order="F").result()
        except ValueError as exc:
            raise wrap_tensorstore_error(exc, f"reading {inside}", self._path) from None
        if inside == bbox:  # the common case: tensorstore's array is the answer, no copy
            return np.asarray(data)
        out = np.zeros((info.num_channels, *bbox.size.to_tuple()), dtype=info.dtype, order="F")
        rel = inside.topleft - bbox.topleft
        out[
            :,
            rel.x : rel.x + inside.size.x,
            rel.y : rel.y + inside.size.y,
            rel.z : rel.z + inside.size.z,
        ] = data
        return out

    @staticmethod
    def _covers(view: Any, end: Vec3Int) -> bool:
        domain = view.domain
        return all(int(domain[i + 1].exclusive_max) >= end[i] for i in range(3))

    def write(self, offset: Vec3Int, data: np.ndarray) -> None:
        """Write `(c, x, y, z)` `data` at `offset`, growing the shape first if needed.

        Partly covered shards are read, patched and rewritten whole by tensorstore.
        """
        if not self._writable:
            raise ReadOnlyError(f"{self._path} is opened read-only.")
        offset = Vec3Int(offset)
        if not offset.is_positive():
            raise OutOfBoundsError(f"Cannot write at negative offset {offset} into {self._path}.")
        if not isinstance(data, np.ndarray) or data.ndim != 4:
            raise DataShapeError(
                f"Expected a (c, x, y, z) array, got shape {getattr(data, 'shape', None)}."
            )
        info = self._info
        if data.dtype != info.dtype:
            raise DTypeError(f"{self._path} stores {info.dtype}, got data of {data.dtype}.")
        if data.shape[0] != info.num_channels:
            raise DataShapeError(
                f"{self._path} has {info.num_channels} channel(s), got data with {data.shape[0]}."
            )
        box = BoundingBox(offset, Vec3Int(*data.shape[1:]))
        if box.is_empty():
            return
        view = self._handle()
        if not self._covers(view, box.bottomright):
            view = self._grow(box.bottomright)
        lo, hi = box.topleft, box.bottomright
        try:
            view[:, lo.x : hi.x, lo.y : hi.y, lo.z : hi.z].write(data).result()
        except ValueError as exc:
            raise wrap_tensorstore_error(exc, f"writing {box}", self._path) from None

    def resize(self, shape: Vec3Int) -> None:
        """Grow the array to at least `shape` (x, y, z); never shrinks; no data is touched."""
        if not self._writable:
            raise ReadOnlyError(f"{self._path} is opened read-only.")
        shape = Vec3Int(shape)
        if not shape.is_positive():
            raise InvalidArgumentError(f"shape must be non-negative, got {shape}.")
        self._grow(shape)

    def _grow(self, end: Vec3Int) -> Any:
        """Enlarge `zarr.json`'s shape to cover `end`; retried when another writer raced us."""
        last: ValueError | None = None
        for _ in range(_RESIZE_ATTEMPTS):
            view = self._resolved()
            if self._covers(view, end):
                return view
            current = [int(view.domain[i + 1].exclusive_max) for i in range(3)]
            new_max = [None, *(e if e > c else None for e, c in zip(end, current, strict=True))]
            try:
                view = view.resize(
                    exclusive_max=new_max, expand_only=True, resize_metadata_only=True
                ).result()
            except ValueError as exc:  # a concurrent resize won: re-read and try again
                last = exc
                continue
            self._views[threads_for_call()] = view
            return view
        raise wrap_tensorstore_error(last or ValueError("?"), f"growing to {end}", self._path)

    # -- listing --------------------------------------------------------------------------------
    def _chunk_keys(self) -> Iterator[tuple[int, ...]]:
        """Grid indices of the chunk (shard) files present, from file names only."""
        meta, ndim = self._meta, len(self._meta.shape)
        if is_s3_path(self._path):
            yield from _object_keys(self._path, meta.key_prefix, meta.key_separator, ndim)
            return
        if meta.key_separator == "/":
            root = self._path / meta.key_prefix.rstrip("/") if meta.key_prefix else self._path
            yield from _walk_nested(root, ndim)
            return
        try:
            entries = list(os.scandir(self._path))
        except FileNotFoundError:
            return
        for entry in entries:
            name = entry.name
            if not name.startswith(meta.key_prefix) or name.endswith(_LOCK_SUFFIX):
                continue
            parts = name[len(meta.key_prefix) :].split(".")
            if len(parts) == ndim and all(p.isdigit() for p in parts) and entry.is_file():
                yield tuple(int(p) for p in parts)

    def list_written_boxes(self) -> Iterator[BoundingBox]:
        """The boxes (mag voxels) of the shard files on disk, clipped to the shape, ordered by
        topleft (x, y, z); found from file names only, nothing is decoded."""
        outer = self._xyz(self._meta.outer_chunks)
        positions = [self._mapping.position(a) for a in _XYZ]
        limit = BoundingBox(Vec3Int.zeros(), self.shape)
        # Channels (and t) may be split over several files of the same xyz box: yield it once.
        starts = {
            tuple(0 if p is None else key[p] for p in positions) for key in self._chunk_keys()
        }
        for start in sorted(starts):
            box = BoundingBox(Vec3Int(*start) * outer, outer).intersected_with(limit)
            if not box.is_empty():
                yield box

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        """Drop the tensorstore handle (it is reopened on next use)."""
        with self._lock:
            self._views.clear()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self._path, "read_only": self._read_only, "axes": self._axes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], read_only=state["read_only"], axes=state["axes"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Zarr3Array({str(self._path)!r}, read_only={self.read_only})"


def _kvstore_spec(path: Any) -> dict[str, Any]:
    """tensorstore's kvstore for a local folder (`file`) or an S3 prefix (`s3`)."""
    if is_s3_path(path):
        return tensorstore_kvstore(path)
    return {"driver": "file", "path": str(path)}


def _object_keys(path: Any, prefix: str, separator: str, ndim: int) -> Iterator[tuple[int, ...]]:
    """Grid indices of the shard objects below an S3 prefix (one listing)."""
    for key in path.store.list_prefix(prefix):
        parts = key[len(prefix) :].split(separator)
        if len(parts) == ndim and all(p.isdigit() for p in parts):
            yield tuple(int(p) for p in parts)


def _walk_nested(root: Path, depth: int) -> Iterator[tuple[int, ...]]:
    """Index tuples of files `root/i0/i1/.../i{depth-1}` whose parts are all digits."""
    stack: list[tuple[Path, tuple[int, ...]]] = [(root, ())]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if not entry.name.isdigit():
                continue
            index = (*prefix, int(entry.name))
            if len(index) == depth:
                if entry.is_file():
                    yield index
            elif entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), index))


def _context(threads: int) -> Any:
    """A tensorstore context whose chunk encoding/decoding uses at most `threads` threads
    (one per process: a forked child must not use its parent's thread pools)."""
    return _context_of_process(os.getpid(), threads)


@functools.cache
def _context_of_process(pid: int, threads: int) -> Any:
    import tensorstore as ts

    return ts.Context({"data_copy_concurrency": {"limit": threads}})
