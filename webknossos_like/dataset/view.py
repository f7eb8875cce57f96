"""`View`: a region of one mag, read and written in mag-1 coordinates or by NumPy indexing."""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import (
    AlignmentError,
    DataShapeError,
    GeometryError,
    InvalidArgumentError,
    OutOfBoundsError,
    ReadOnlyError,
)
from ..geometry import BoundingBox, Mag, Vec3Int, Vec3IntLike
from ..parallel import progress_shown, run_tasks
from ..storage import ArrayBackend, ArrayInfo
from ._aliases import ViewAliases
from ._casting import cast_to_layer_dtype
from ._indexing import parse_index

if TYPE_CHECKING:
    import os
    from pathlib import Path

    from PIL import Image

    from .buffered import BufferedSliceReader, BufferedSliceWriter

R = TypeVar("R")


#: Reads of at most this many voxels finish long before a progress bar would appear (0.5 s), so
#: the fast read path does not ask whether one would be shown.
_SMALL_READ_VOXELS = 1 << 22


class View(ViewAliases):
    """A box of one mag of one layer.

    Offsets, sizes and bounding boxes passed to `read`/`write`/`get_view` are mag-1 voxel
    coordinates (like the webknossos package); arrays are in the view's mag, shaped `(c, x, y, z)`.
    `view[x0:x1, y0:y1, z0:z1]` indexes in the mag's own voxel grid instead.
    """

    def __init__(
        self, backend: ArrayBackend, mag: Mag, bounding_box: BoundingBox, *, read_only: bool
    ) -> None:
        self._array: ArrayBackend | None = backend
        self._mag = mag
        self._bounding_box = bounding_box
        self._read_only = read_only

    @property
    def _backend(self) -> ArrayBackend:
        """The storage array (subclasses may open it lazily)."""
        assert self._array is not None  # set in __init__; internal invariant, not user input
        return self._array

    # -- description ----------------------------------------------------------------------------
    @property
    def bounding_box(self) -> BoundingBox:
        """The view's box in absolute mag-1 coordinates."""
        return self._bounding_box

    @property
    def mag(self) -> Mag:
        """The magnification whose voxels this view reads and writes."""
        return self._mag

    @property
    def read_only(self) -> bool:
        """Whether writes through this view are refused."""
        return self._read_only

    @property
    def info(self) -> ArrayInfo:
        """dtype, channels, chunk and shard shape and compression of the underlying array."""
        return self._backend.info

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of one channel."""
        return self._backend.info.dtype

    def get_dtype(self) -> np.dtype[Any]:
        """The dtype of one channel (webknossos-compatible spelling)."""
        return self.dtype

    @property
    def num_channels(self) -> int:
        """Number of channels per voxel."""
        return self._backend.info.num_channels

    @property
    def shard_shape_mag1(self) -> Vec3Int:
        """The write-alignment unit (one shard) in mag-1 voxels."""
        return self._backend.info.shard_shape * self._mag.as_vec3_int

    def _progress_name(self) -> str:
        """What progress bars call this view: `color mag 2-2-1` (`mag 2-2-1` without a layer)."""
        layer = getattr(self, "_layer", None)
        mag = self._mag.to_layer_name()
        return f"{layer.name} mag {mag}" if layer is not None else f"mag {mag}"

    def __repr__(self) -> str:
        return (
            f"View(mag={self._mag}, bounding_box={self.bounding_box}, read_only={self._read_only})"
        )

    def _repr_html_(self) -> str:
        """A table of the view for Jupyter (`webknossos_like.notebook.view_html`)."""
        from ..notebook.html import view_html

        return view_html(self)

    def thumbnail(self, axis: str = "z", index: int | None = None, **options: Any) -> Image.Image:
        """One slice as a PIL image (middle slice by default; contrast-normalised for color,
        a stable colour per label for segmentation); options: see `webknossos_like.notebook`."""
        from ..notebook.thumbnail import thumbnail

        return thumbnail(self, axis, index, **options)

    def to_png(
        self,
        path: str | os.PathLike[str],
        axis: str = "z",
        index: int | None = None,
        **options: Any,
    ) -> None:
        """Write `thumbnail(axis, index, **options)` to `path` as a PNG file."""
        from ..notebook.thumbnail import to_png

        to_png(self, path, axis, index, **options)

    def to_images(
        self, path: str | os.PathLike[str], format: str = "tiff", **options: Any
    ) -> list[Path]:
        """Write the view as TIFF or PNG slices into the folder `path`, or as one OME-TIFF
        file with the voxel size (`format="ome-tiff"`); `webknossos_like.images.to_images`."""
        from ..images import to_images

        return to_images(self, path, format, **options)

    # -- locating regions -----------------------------------------------------------------------
    def _resolve(
        self,
        *,
        size: Vec3IntLike | None,
        relative_offset: Vec3IntLike | None,
        absolute_offset: Vec3IntLike | None,
        relative_bounding_box: BoundingBox | None,
        absolute_bounding_box: BoundingBox | None,
        default_size: Vec3Int | None = None,
    ) -> BoundingBox:
        """Turn the location keywords into one absolute mag-1 box (not yet bounds-checked)."""
        given = [
            name
            for name, value in (
                ("relative_offset", relative_offset),
                ("absolute_offset", absolute_offset),
                ("relative_bounding_box", relative_bounding_box),
                ("absolute_bounding_box", absolute_bounding_box),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise InvalidArgumentError(f"Pass at most one location, got {', '.join(given)}.")
        if size is not None and (absolute_bounding_box or relative_bounding_box) is not None:
            raise InvalidArgumentError("`size` cannot be combined with a bounding box.")
        if absolute_bounding_box is not None:
            return absolute_bounding_box
        # The view's box (for a MagView derived from the layer properties) only when needed.
        if relative_bounding_box is not None:
            return relative_bounding_box.offset(self.bounding_box.topleft)
        if absolute_offset is not None:
            topleft = Vec3Int(absolute_offset)
        elif relative_offset is not None:
            topleft = self.bounding_box.topleft + Vec3Int(relative_offset)
        else:
            topleft = self.bounding_box.topleft
        if size is not None:
            extent = Vec3Int(size)
        elif default_size is not None:
            extent = default_size
        else:
            extent = self.bounding_box.bottomright - topleft
        if not extent.is_positive(strictly_positive=True):
            raise GeometryError(
                f"Size {extent} must be positive in every axis (region starting at {topleft} "
                f"in view {self.bounding_box})."
            )
        return BoundingBox(topleft, extent)

    def _check_mag_aligned(self, box: BoundingBox) -> None:
        mag = self._mag.as_vec3_int
        if box.topleft % mag != Vec3Int.zeros() or box.bottomright % mag != Vec3Int.zeros():
            raise AlignmentError(
                f"{box} is not aligned with mag {self._mag}: offsets and sizes are mag-1 "
                f"coordinates and must be multiples of {mag}. Use BoundingBox.align_with_mag()."
            )

    def _in_mag(self, box: BoundingBox) -> BoundingBox:
        self._check_mag_aligned(box)
        return box.in_mag(self._mag)

    # -- reading --------------------------------------------------------------------------------
    def read(
        self,
        size: Vec3IntLike | None = None,
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
    ) -> np.ndarray:
        """Read a region as `(c, x, y, z)`; with no arguments the whole view.

        Voxels never written (also outside the layer) read as 0, like the webknossos package.
        """
        if (
            relative_offset is None
            and relative_bounding_box is None
            and absolute_bounding_box is None
        ):
            fast = self._plain_mag_box(size, absolute_offset)
            if fast is not None:
                return fast
        box = self._resolve(
            size=size,
            relative_offset=relative_offset,
            absolute_offset=absolute_offset,
            relative_bounding_box=relative_bounding_box,
            absolute_bounding_box=absolute_bounding_box,
        )
        mag_box = self._in_mag(box)
        pieces = self._progress_pieces(box)
        if not pieces:
            return self._backend.read(mag_box)
        return self._read_pieces(mag_box, pieces)

    def _plain_mag_box(self, size: Any, absolute_offset: Any) -> np.ndarray | None:
        """`read(size, absolute_offset=...)` for the common small read given as Python ints,
        without building geometry objects (random-access loops make millions of these).

        None when the call needs the general path: other argument types, non-positive sizes,
        offsets not aligned with the mag (those raise there), or a progress bar to show (reads
        of up to `_SMALL_READ_VOXELS` end long before a bar would appear).
        """
        reader = getattr(self._backend, "read_at", None)
        if reader is None or size is None or absolute_offset is None:
            return None
        try:  # ints and numpy integers; floats, strings, other shapes take the general path
            x, y, z = map(operator.index, absolute_offset)
            sx, sy, sz = map(operator.index, size)
        except (TypeError, ValueError):
            return None
        if sx <= 0 or sy <= 0 or sz <= 0:
            return None
        if sx * sy * sz > _SMALL_READ_VOXELS and progress_shown(2):
            return None
        mx, my, mz = self._mag.as_vec3_int
        if mx != 1 or my != 1 or mz != 1:
            if x % mx or y % my or z % mz or sx % mx or sy % my or sz % mz:
                return None
            x, y, z, sx, sy, sz = x // mx, y // my, z // mz, sx // mx, sy // my, sz // mz
        data: np.ndarray = reader((x, y, z), (sx, sy, sz))
        return data

    def _progress_pieces(self, box: BoundingBox) -> list[BoundingBox]:
        """The shard-aligned parts of a mag-1 box when reading/writing it should show a bar, else []."""
        if not progress_shown(2):
            return []
        pieces = list(self.shard_aligned_boxes(box))
        return pieces if progress_shown(len(pieces)) else []

    def _read_pieces(self, mag_box: BoundingBox, pieces: list[BoundingBox]) -> np.ndarray:
        """Read a box shard by shard (one progress step each) into one `(c, x, y, z)` array."""
        info = self._backend.info
        out = np.zeros((info.num_channels, *mag_box.size), dtype=info.dtype, order="F")
        parts = [piece.in_mag(self._mag) for piece in pieces]
        blocks = run_tasks(self._backend.read, parts, desc=f"Reading {self._progress_name()}")
        for part, block in zip(parts, blocks, strict=True):
            index = (slice(None), *part.offset(-mag_box.topleft).to_slices())
            out[index] = block
        return out

    def read_cxyz(
        self,
        size: Vec3IntLike | None = None,
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
    ) -> np.ndarray:
        """Like `read` (always `(c, x, y, z)`); the webknossos spelling for N-D layers."""
        return self.read(
            size,
            relative_offset=relative_offset,
            absolute_offset=absolute_offset,
            relative_bounding_box=relative_bounding_box,
            absolute_bounding_box=absolute_bounding_box,
        )

    def read_xyz(self, **location: Any) -> np.ndarray:
        """Like `read`, but single-channel data comes back as `(x, y, z)`."""
        data = self.read(**location)
        return data[0] if data.shape[0] == 1 else data

    # -- writing --------------------------------------------------------------------------------
    def _prepare_data(self, data: Any) -> np.ndarray:
        """Check dtype, channels and dimensionality; return `(c, x, y, z)` without copying."""
        array = np.asarray(data)
        info = self._backend.info
        array = cast_to_layer_dtype(array, info.dtype)
        if array.ndim == 3:
            if info.num_channels != 1:
                raise DataShapeError(
                    f"This layer has {info.num_channels} channels: pass (c, x, y, z) data, got {array.shape}."
                )
            array = array[np.newaxis]
        elif array.ndim == 4:
            if array.shape[0] != info.num_channels:
                raise DataShapeError(
                    f"Data has {array.shape[0]} channels but the layer has {info.num_channels} "
                    f"(shape {array.shape}, expected (c, x, y, z))."
                )
        else:
            raise DataShapeError(
                f"Data must be (x, y, z) or (c, x, y, z), got {array.ndim} dimensions {array.shape}."
            )
        if 0 in array.shape:
            raise DataShapeError(f"Cannot write empty data of shape {array.shape}.")
        return array

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"{self!r} is read-only; open the dataset writable to change it.")

    def write(
        self,
        data: Any,
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
        executor: Executor | None = None,
        allow_resize: bool | None = None,
        allow_unaligned: bool = False,
    ) -> None:
        """Write `(x, y, z)` or `(c, x, y, z)` data (in this view's mag) at a mag-1 location.

        Every check (read-only, dtype, shape, alignment, bounds) happens before a byte is written.
        With an `executor`, a write spanning several shards encodes and writes them in parallel.
        `allow_resize=False` refuses (`OutOfBoundsError`) a `MagView` write outside the layer
        box, as webknossos does; unset, such writes grow the layer. `allow_unaligned` is accepted
        for webknossos compatibility: unaligned writes always work (read-modify-write).
        """
        del allow_unaligned  # unaligned writes are always allowed here
        self._check_writable()
        array = self._prepare_data(data)
        box = self._resolve(
            size=None,
            relative_offset=relative_offset,
            absolute_offset=absolute_offset,
            relative_bounding_box=relative_bounding_box,
            absolute_bounding_box=absolute_bounding_box,
            default_size=Vec3Int(array.shape[1:]) * self._mag.as_vec3_int,
        )
        if box.size != Vec3Int(array.shape[1:]) * self._mag.as_vec3_int:
            raise DataShapeError(
                f"Data of shape {array.shape[1:]} in mag {self._mag} does not fill {box} "
                f"({box.size // self._mag.as_vec3_int} voxels in this mag)."
            )
        if allow_resize is False:
            self._check_no_resize(box)
        self._write_box(box, array, executor)

    def _check_no_resize(self, box: BoundingBox) -> None:
        """For `allow_resize=False`: refuse a box outside the view (a MagView: the layer box)."""
        allowed = self.bounding_box.align_with_mag(self._mag, ceil=True)
        if not allowed.contains_bbox(box):
            raise OutOfBoundsError(
                f"Cannot write {box}: it does not fit in {allowed}; pass allow_resize=True (or "
                "leave it unset) to grow the layer, or resize its bounding box first."
            )

    def write_cxyz(self, data: Any, **location: Any) -> None:
        """Like `write`, but `data` must be channel-first `(c, x, y, z)`."""
        if np.ndim(data) != 4:
            raise DataShapeError(f"write_cxyz needs (c, x, y, z) data, got shape {np.shape(data)}.")
        self.write(data, **location)

    def _write_box(
        self, box: BoundingBox, array: np.ndarray, executor: Executor | None = None
    ) -> None:
        """Write an already validated `(c, x, y, z)` array to the mag-1 box `box`."""
        if not self.bounding_box.contains_bbox(box):
            raise OutOfBoundsError(
                f"Cannot write {box}: it is not inside this view's {self.bounding_box}."
            )
        self._write_storage(box, array, executor)

    def _write_storage(
        self, box: BoundingBox, array: np.ndarray, executor: Executor | None
    ) -> None:
        """Hand the data to the backend: whole, or split along shards for the executor."""
        backend = self._backend
        shown = self._progress_pieces(box) if executor is None else []
        if executor is None and not shown:
            backend.write(self._in_mag(box).topleft, array)
            return
        mag = self._mag.as_vec3_int
        pieces = []
        for piece in shown or self.shard_aligned_boxes(box):
            rel = piece.offset(-box.topleft)
            rel_mag = BoundingBox(rel.topleft // mag, rel.size // mag)
            index = (slice(None), *rel_mag.to_slices())
            pieces.append((backend, piece.topleft // mag, array[index]))
        run_tasks(_write_piece, pieces, executor, desc=f"Writing {self._progress_name()}")

    # -- NumPy-style indexing -------------------------------------------------------------------
    #: Whether `view[...] = data` may reach beyond the view (a MagView grows its layer, as
    #: `write` does); reads and sub-views assign only inside their domain.
    _assignment_grows = False

    def _mag_extent(self) -> BoundingBox:
        return self.bounding_box.align_with_mag(self._mag, ceil=True).in_mag(self._mag)

    def __getitem__(self, key: Any) -> np.ndarray:
        """`view[x0:x1, y0:y1, z0:z1]` in the mag's voxel grid: `(x, y, z)` for one channel."""
        box, dropped = parse_index(key, self._mag_extent())
        if box.is_empty():
            raise GeometryError(f"Index {key!r} selects no voxels ({box}).")
        data = self._backend.read(box)
        if self.num_channels == 1:
            data = data[0]
            index = tuple(0 if axis in dropped else slice(None) for axis in range(3))
        else:
            index = (slice(None), *(0 if axis in dropped else slice(None) for axis in range(3)))
        return data[index]

    def __setitem__(self, key: Any, value: Any) -> None:
        """`view[x0:x1, y0:y1, z0:z1] = array_or_scalar` in the mag's voxel grid."""
        self._check_writable()
        box, _ = parse_index(key, self._mag_extent(), inside=not self._assignment_grows)
        if box.is_empty():
            raise GeometryError(f"Index {key!r} selects no voxels ({box}).")
        shape = (self.num_channels, *box.size)
        array = cast_to_layer_dtype(np.asarray(value), np.dtype(self.dtype), "assign")
        target_shape = shape if self.num_channels > 1 else shape[1:]
        try:
            expanded = np.broadcast_to(array.astype(self.dtype, copy=False), target_shape)
        except ValueError as exc:
            raise DataShapeError(
                f"Cannot assign data of shape {array.shape} to a region of shape {target_shape}."
            ) from exc
        expanded = np.asfortranarray(expanded.reshape(shape))
        self.write(expanded, absolute_offset=box.from_mag_to_mag1(self._mag).topleft)

    # -- sub-views ------------------------------------------------------------------------------
    def get_view(
        self,
        size: Vec3IntLike | None = None,
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
        read_only: bool | None = None,
    ) -> View:
        """A sub-view; writable views must lie inside this one, read-only views may exceed it."""
        if read_only is None:
            read_only = self._read_only
        if self._read_only and not read_only:
            raise ReadOnlyError(f"Cannot get a writable view of the read-only {self!r}.")
        no_location = (
            size,
            relative_offset,
            absolute_offset,
            relative_bounding_box,
            absolute_bounding_box,
        ) == (None,) * 5
        if no_location and self.bounding_box.is_empty():
            # An empty layer has an empty (but valid) view, as in webknossos.
            return self._sub_view(self.bounding_box, read_only)
        box = self._resolve(
            size=size,
            relative_offset=relative_offset,
            absolute_offset=absolute_offset,
            relative_bounding_box=relative_bounding_box,
            absolute_bounding_box=absolute_bounding_box,
        )
        view = self._region_view(box, read_only)
        if not read_only:
            self._warn_if_not_shard_aligned(box)
        return view

    def _region_view(self, box: BoundingBox, read_only: bool = False) -> View:
        """The sub-view of the mag-1 `box`, checked like `get_view` but without the shard
        alignment warning (for this library's own work boxes, which never share a shard)."""
        self._check_mag_aligned(box)
        if not read_only and not self.bounding_box.contains_bbox(box):
            raise OutOfBoundsError(
                f"A writable sub-view must lie inside {self.bounding_box}, got {box}; "
                "pass read_only=True to look beyond it."
            )
        return self._sub_view(box, read_only)

    def _warn_if_not_shard_aligned(self, box: BoundingBox) -> None:
        """Warn (as webknossos does) about a writable view that cuts through shards: two such
        views written in parallel would read-modify-write the same shard file."""
        grid = self.shard_shape_mag1
        origin = self._backend.info.grid_origin * self._mag.as_vec3_int
        rounded_out = (
            box.offset(-origin)
            .align_with_mag(grid, ceil=True)
            .offset(origin)
            .intersected_with(self.bounding_box)
        )
        if rounded_out != box:
            warnings.warn(
                f"The writable view {box} is not aligned with the shard shape {grid} (mag 1 "
                "voxels): use it from one process at a time, parallel writes through such views "
                "can lose data.",
                UserWarning,
                stacklevel=3,
            )

    def _sub_view(self, box: BoundingBox, read_only: bool) -> View:
        """A view of `box` on the same array (subclasses keep their bookkeeping)."""
        return View(self._backend, self._mag, box, read_only=read_only)

    def chunk(
        self,
        chunk_shape: Vec3IntLike,
        chunk_border_alignments: Vec3IntLike | None = None,
        read_only: bool | None = None,
    ) -> Iterator[View]:
        """Tile the view into sub-views of `chunk_shape` (mag-1), optionally grid-aligned."""
        for box in self.bounding_box.chunk(chunk_shape, chunk_border_alignments):
            yield self.get_view(absolute_bounding_box=box, read_only=read_only)

    def shard_aligned_boxes(
        self, box: BoundingBox, shape: Vec3IntLike | None = None
    ) -> Iterator[BoundingBox]:
        """Tile the mag-1 `box` along the storage's shard grid (chunks of `shape`, default one shard).

        Boxes from different shards never share a file, so they can be written in parallel.
        """
        shard = self.shard_shape_mag1
        origin = self._backend.info.grid_origin * self._mag.as_vec3_int
        for piece in box.offset(-origin).chunk(shard if shape is None else shape, shard):
            yield piece.offset(origin)

    def _work_chunks(self, chunk_shape: Vec3IntLike | None) -> list[View]:
        """Chunks for parallel work: shard-aligned so that parallel writers never share a file."""
        shard = self.shard_shape_mag1
        shape = shard if chunk_shape is None else Vec3Int(chunk_shape)
        if shape % shard == Vec3Int.zeros():
            boxes = self.shard_aligned_boxes(self.bounding_box, shape)
        elif self._read_only:
            boxes = self.bounding_box.chunk(shape)
        else:
            raise AlignmentError(
                f"chunk_shape {shape} must be a multiple of the shard shape {shard} (mag-1 voxels) "
                "for writable views, so that parallel writers never touch the same file."
            )
        return [self._region_view(box, self._read_only) for box in boxes]

    def for_each_chunk(
        self,
        func_per_chunk: Callable[[tuple[View, int]], None],
        chunk_shape: Vec3IntLike | None = None,
        executor: Executor | None = None,
        progress_desc: str | None = None,
    ) -> None:
        """Call `func_per_chunk((chunk_view, index))` for every shard-aligned chunk.

        Sequential in this process unless an executor is passed (then the function must pickle).
        """
        chunks = self._work_chunks(chunk_shape)
        run_tasks(
            func_per_chunk,
            list(zip(chunks, range(len(chunks)), strict=True)),
            executor,
            desc=progress_desc,
        )

    def map_chunk(
        self,
        func_per_chunk: Callable[[View], R],
        chunk_shape: Vec3IntLike | None = None,
        executor: Executor | None = None,
        progress_desc: str | None = None,
    ) -> list[R]:
        """Return `[func_per_chunk(chunk_view) for each chunk]`; sequential without an executor."""
        return run_tasks(
            func_per_chunk, self._work_chunks(chunk_shape), executor, desc=progress_desc
        )

    def for_zipped_chunks(
        self,
        func_per_chunk: Callable[[tuple[View, View, int]], None],
        target_view: View,
        source_chunk_shape: Vec3IntLike | None = None,
        target_chunk_shape: Vec3IntLike | None = None,
        executor: Executor | None = None,
        progress_desc: str | None = None,
    ) -> None:
        """Call `func_per_chunk((source_chunk, target_chunk, index))` for matching chunk pairs.

        Chunk shapes are mag-1; both default to the larger of the two views' shard shapes. The
        ratio of the views' sizes must equal the ratio of the chunk shapes (as in webknossos).
        A writable target needs shard-aligned chunks, so parallel writers never share a file.
        """
        if (source_chunk_shape is None) != (target_chunk_shape is None):
            raise InvalidArgumentError(
                "Pass both source_chunk_shape and target_chunk_shape, or neither."
            )
        if source_chunk_shape is None or target_chunk_shape is None:
            source_shape = self.shard_shape_mag1.pairmax(target_view.shard_shape_mag1)
            target_shape = source_shape
        else:
            source_shape, target_shape = Vec3Int(source_chunk_shape), Vec3Int(target_chunk_shape)
        if self.bounding_box.is_empty() or target_view.bounding_box.is_empty():
            return
        if self.bounding_box.size * target_shape != target_view.bounding_box.size * source_shape:
            raise InvalidArgumentError(
                f"The ratio of the view sizes ({self.bounding_box.size} to "
                f"{target_view.bounding_box.size}) must equal the ratio of the chunk shapes "
                f"({source_shape} to {target_shape}, mag-1 voxels)."
            )
        target_shard = target_view.shard_shape_mag1
        if not target_view.read_only and target_shape % target_shard != Vec3Int.zeros():
            raise AlignmentError(
                f"target_chunk_shape {target_shape} must be a multiple of the target's shard "
                f"shape {target_shard} (mag-1 voxels) when the target is writable."
            )
        sources = list(self.chunk(source_shape, source_shape))
        targets = list(target_view.chunk(target_shape, target_shape))
        if len(sources) != len(targets):
            raise InvalidArgumentError(
                f"The views split into {len(sources)} and {len(targets)} chunks; align them "
                "to the chunk shapes."
            )
        tasks = [
            (source, target, index)
            for index, (source, target) in enumerate(zip(sources, targets, strict=True))
        ]
        run_tasks(func_per_chunk, tasks, executor, desc=progress_desc)

    def content_is_equal(
        self,
        other: View,
        chunk_shape: Vec3IntLike | None = None,
        executor: Executor | None = None,
    ) -> bool:
        """Whether both views hold the same voxels (same size, channels and dtype too)."""
        if (
            self.bounding_box.size // self._mag.as_vec3_int
            != other.bounding_box.size // other.mag.as_vec3_int
        ):
            return False
        if self.num_channels != other.num_channels or self.dtype != other.dtype:
            return False
        mine = self.get_view(read_only=True)
        theirs = other.get_view(read_only=True)
        # Only reads: any chunk shape works (no shard multiple needed, unlike writes).
        shape = Vec3Int(chunk_shape) if chunk_shape is not None else self.shard_shape_mag1
        shard = self.shard_shape_mag1
        alignment = shard if shape % shard == Vec3Int.zeros() else shape
        pairs = [
            (
                chunk,
                theirs.get_view(
                    absolute_bounding_box=BoundingBox(
                        theirs.bounding_box.topleft
                        + (chunk.bounding_box.topleft - mine.bounding_box.topleft)
                        // self._mag.as_vec3_int
                        * other.mag.as_vec3_int,
                        chunk.bounding_box.size // self._mag.as_vec3_int * other.mag.as_vec3_int,
                    ),
                    read_only=True,
                ),
            )
            for chunk in mine.chunk(shape, alignment)
        ]
        desc = f"Comparing {self._progress_name()} with {other._progress_name()}"
        return all(run_tasks(_chunks_equal, pairs, executor, desc=desc))

    def get_bounding_boxes_on_disk(self) -> Iterator[BoundingBox]:
        """Mag-1 boxes of the stored shards that overlap this view, clipped to it."""
        for box in self._backend.list_written_boxes():
            clipped = box.from_mag_to_mag1(self._mag).intersected_with(self.bounding_box)
            if not clipped.is_empty():
                yield clipped

    def get_stored_files(self) -> Iterator[tuple[BoundingBox, str | None]]:
        """Like `get_bounding_boxes_on_disk`, each box with the file (or key) that stores it,
        where the format can name it (None otherwise): checks report broken files by name."""
        from ..storage.backend import StoredFileNamer

        backend = self._backend
        namer = backend if isinstance(backend, StoredFileNamer) else None
        for box in backend.list_written_boxes():
            clipped = box.from_mag_to_mag1(self._mag).intersected_with(self.bounding_box)
            if not clipped.is_empty():
                yield clipped, None if namer is None else namer.stored_file(box)

    def get_buffered_slice_writer(
        self,
        buffer_size: int | None = None,
        dimension: str | int = "z",
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
        use_logging: bool = False,
        allow_unaligned: bool = False,
    ) -> BufferedSliceWriter:
        """A context manager that collects 2-D slices along `dimension` and writes them in slabs.

        Slices start at the offset (or the top-left of the bounding box) given. `use_logging`
        logs each slab at INFO level; `allow_unaligned` is accepted for webknossos scripts
        (unaligned slabs are always written, see `write`).
        """
        from .buffered import BufferedSliceWriter

        del allow_unaligned
        start = self._resolve(
            size=None,
            relative_offset=relative_offset,
            absolute_offset=absolute_offset,
            relative_bounding_box=relative_bounding_box,
            absolute_bounding_box=absolute_bounding_box,
            default_size=Vec3Int(1),
        ).topleft
        return BufferedSliceWriter(self, start, buffer_size, dimension, use_logging)

    def get_buffered_slice_reader(
        self,
        buffer_size: int | None = None,
        dimension: str | int = "z",
        *,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
        use_logging: bool = False,
    ) -> BufferedSliceReader:
        """A context manager yielding `(c, w, h)` slices along `dimension`, read in slabs."""
        from .buffered import BufferedSliceReader

        box = self._resolve(
            size=None,
            relative_offset=None,
            absolute_offset=None,
            relative_bounding_box=relative_bounding_box,
            absolute_bounding_box=absolute_bounding_box,
        )
        return BufferedSliceReader(self, box, buffer_size, dimension, use_logging)


def _write_piece(task: tuple[ArrayBackend, Vec3Int, np.ndarray]) -> None:
    """Write one shard's part of a larger write; module-level so it pickles."""
    backend, offset, data = task
    backend.write(offset, data)


def _chunks_equal(pair: tuple[View, View]) -> bool:
    """Module-level (picklable) comparison of two equally sized views."""
    first, second = pair
    return bool(np.array_equal(first.read(), second.read()))
