"""Slice-by-slice writing and reading, buffered into slabs so the storage sees large writes."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataShapeError, InvalidArgumentError
from ..geometry import BoundingBox, Vec3Int

if TYPE_CHECKING:
    from .view import View

_AXES = {"x": 0, "y": 1, "z": 2}
_LOG = logging.getLogger(__name__)


def _axis(dimension: str | int) -> int:
    """The axis index of `dimension` ("x", "y", "z"; webknossos' deprecated 0, 1, 2 warn)."""
    if isinstance(dimension, int) and not isinstance(dimension, bool) and dimension in (0, 1, 2):
        warnings.warn(
            "dimension as an int is deprecated; pass 'x', 'y' or 'z' instead.",
            DeprecationWarning,
            stacklevel=4,
        )
        return dimension
    if dimension not in _AXES:
        raise InvalidArgumentError(f"dimension must be 'x', 'y' or 'z', got {dimension!r}.")
    return _AXES[str(dimension)]


class BufferedSliceWriter:
    """Collects 2-D slices (`(w, h)` or `(c, w, h)`) and writes them as slabs of `buffer_size`."""

    def __init__(
        self,
        view: View,
        start: Vec3Int,
        buffer_size: int | None,
        dimension: str | int,
        use_logging: bool = False,
    ) -> None:
        self._view = view
        self._use_logging = use_logging
        self._axis = _axis(dimension)
        self._start = start
        depth = view.info.shard_shape[self._axis]
        self._buffer_size = depth if buffer_size is None else int(buffer_size)
        if self._buffer_size < 1:
            raise InvalidArgumentError(f"buffer_size must be positive, got {buffer_size}.")
        self._slices: list[np.ndarray] = []
        self._written = 0  # slices already flushed

    def send(self, data: Any) -> None:
        """Add the next slice; flushes when the buffer is full."""
        array = np.asarray(data)
        if array.ndim == 2:
            array = array[np.newaxis]
        if array.ndim != 3:
            raise DataShapeError(f"Slices must be (w, h) or (c, w, h), got shape {array.shape}.")
        if self._slices and array.shape != self._slices[0].shape:
            raise DataShapeError(
                f"All slices must have the same shape; got {array.shape} after {self._slices[0].shape}."
            )
        self._slices.append(array)
        if len(self._slices) >= self._buffer_size:
            self.flush()

    def flush(self) -> None:
        """Write the buffered slices now."""
        if not self._slices:
            return
        slab = np.stack(self._slices, axis=1 + self._axis)
        offset = list(self._start)
        offset[self._axis] += self._written * self._view.mag.as_vec3_int[self._axis]
        if self._use_logging:
            _LOG.info("Writing %d slices at %s", len(self._slices), tuple(offset))
        self._view.write(slab, absolute_offset=offset)
        self._written += len(self._slices)
        self._slices = []

    def __enter__(self) -> BufferedSliceWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.flush()


class BufferedSliceReader:
    """Yields `(c, w, h)` slices of a box along one axis, reading `buffer_size` slices at a time."""

    def __init__(
        self,
        view: View,
        box: BoundingBox,
        buffer_size: int | None,
        dimension: str | int,
        use_logging: bool = False,
    ) -> None:
        self._use_logging = use_logging
        self._view = view
        self._box = box
        self._axis = _axis(dimension)
        depth = view.info.shard_shape[self._axis]
        self._buffer_size = depth if buffer_size is None else int(buffer_size)
        if self._buffer_size < 1:
            raise InvalidArgumentError(f"buffer_size must be positive, got {buffer_size}.")

    def __iter__(self) -> Iterator[np.ndarray]:
        mag = self._view.mag.as_vec3_int
        step = self._buffer_size * mag[self._axis]
        start = self._box.topleft[self._axis]
        end = self._box.bottomright[self._axis]
        for low in range(start, end, step):
            topleft = list(self._box.topleft)
            size = list(self._box.size)
            topleft[self._axis] = low
            size[self._axis] = min(step, end - low)
            if self._use_logging:
                _LOG.info("Reading %d slices at %s", size[self._axis], tuple(topleft))
            slab = self._view.read(absolute_bounding_box=BoundingBox(topleft, size))
            for index in range(slab.shape[1 + self._axis]):
                yield np.take(slab, index, axis=1 + self._axis)

    def __enter__(self) -> Iterator[np.ndarray]:
        return iter(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
