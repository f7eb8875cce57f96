"""`MagView`: one magnification of a layer; writes grow the layer and are saved at once."""

from __future__ import annotations

import os
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ReadOnlyError
from ..geometry import BoundingBox, Mag
from ..storage import ArrayBackend
from .view import View

if TYPE_CHECKING:
    from .layer import Layer


class MagView(View):
    """All voxels of one mag of a layer; its bounding box is the layer's, aligned to the mag."""

    _assignment_grows = True

    def __init__(self, layer: Layer, mag: Mag, path: Path, *, read_only: bool) -> None:
        self._layer = layer
        self._path = path
        super().__init__(_UNOPENED, mag, BoundingBox.empty(), read_only=read_only)
        self._array = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_get_mag_view, (self._layer, self._mag))

    @property
    def _backend(self) -> ArrayBackend:
        """The mag's array, opened on first use (a missing mag folder shows up then)."""
        if self._array is None:
            self._array = self._layer._open_backend(self._mag, self._path)
        return self._array

    @property
    def layer(self) -> Layer:
        """The layer this mag belongs to."""
        return self._layer

    @property
    def path(self) -> Path:
        """The folder holding this mag's files."""
        return self._path

    @property
    def data_format(self) -> str:
        """The layer's storage format (`wkw`, `zarr3`, `neuroglancerPrecomputed`)."""
        return self._layer.data_format

    @property
    def is_foreign(self) -> bool:
        """Whether this mag's files lie outside its dataset (a reference to another one)."""
        return self._layer._is_foreign(self._path)

    @property
    def name(self) -> str:
        """The mag's folder name, e.g. `1` or `2-2-1`."""
        return self._mag.to_layer_name()

    @property
    def bounding_box(self) -> BoundingBox:
        """The layer's bounding box (mag-1), rounded out to this mag."""
        return self._layer.bounding_box.align_with_mag(self._mag, ceil=True)

    def __repr__(self) -> str:
        return f"MagView(layer={self._layer.name!r}, mag={self._mag}, bounding_box={self.bounding_box})"

    def _write_box(
        self, box: BoundingBox, array: np.ndarray, executor: Executor | None = None
    ) -> None:
        """Write anywhere in the mag; a box outside the layer grows it (saved before returning)."""
        self._in_mag(box)  # alignment is checked before anything changes
        was_empty = self._layer.bounding_box.is_empty()
        self._layer._before_write(box, self._mag)
        self._write_storage(box, array, executor)
        self._layer._after_write(box, array, self._mag, was_empty)

    def _sub_view(self, box: BoundingBox, read_only: bool) -> View:
        """Sub-views report their writes to the layer (largest segment id)."""
        return _LayerView(self._layer, self._backend, self._mag, box, read_only=read_only)

    # -- compression ----------------------------------------------------------------------------
    def compress(
        self, target_path: str | os.PathLike[str] | None = None, executor: Executor | None = None
    ) -> None:
        """Rewrite this mag compressed (WKW: LZ4HC; Zarr v3: zstd), shard by shard.

        Without `target_path` the compressed copy is built beside the mag and swapped in place
        (WKW keeps writes by other processes meanwhile: see `SwappableWKWArray.compress_in_place`);
        with it, the copy is written there and this mag is left as it is.
        """
        if target_path is None and self.read_only:
            raise ReadOnlyError(f"{self!r} is read-only and cannot be compressed in place.")
        storage_format = self._layer._format
        desc = f"Compressing {self._layer.name} mag {self.name}"
        if target_path is None:
            storage_format.compress_in_place(self._backend, executor, desc)
            self._array = None
            return
        storage_format.compress_to(self._backend, Path(target_path), executor, desc)


class _LayerView(View):
    """A sub-view of a `MagView` that reports its writes to the layer (largest segment id)."""

    def __init__(
        self, layer: Layer, backend: ArrayBackend, mag: Mag, box: BoundingBox, *, read_only: bool
    ) -> None:
        super().__init__(backend, mag, box, read_only=read_only)
        self._layer = layer

    def _write_box(
        self, box: BoundingBox, array: np.ndarray, executor: Executor | None = None
    ) -> None:
        super()._write_box(box, array, executor)
        self._layer._after_write(box, array, self._mag)

    def _sub_view(self, box: BoundingBox, read_only: bool) -> View:
        """A sub-view that still reports its writes to the layer."""
        return _LayerView(self._layer, self._backend, self._mag, box, read_only=read_only)


class _Unopened:
    """Placeholder backend before a MagView opens its array (never used for I/O)."""


_UNOPENED: Any = _Unopened()


def _get_mag_view(layer: Layer, mag: Mag) -> MagView:
    return layer.get_mag(mag)
