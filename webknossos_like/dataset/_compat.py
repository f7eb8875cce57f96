"""Deprecated webknossos arguments that we accept (with a `DeprecationWarning`) and honour."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConflictingArgumentsError, InvalidArgumentError, MagNotFoundError
from ..geometry import Mag, Vec3Int, Vec3IntLike

if TYPE_CHECKING:
    from .layer import Layer
    from .mag_view import MagView

#: webknossos' default chunk edge, used to turn `chunks_per_shard` into a shard shape.
DEFAULT_CHUNK_SHAPE = Vec3Int(32, 32, 32)


def deprecated(old: str, new: str) -> None:
    """Warn that `old` is deprecated in favour of `new` (the webknossos wording)."""
    warnings.warn(
        f"[DEPRECATION] `{old}` is deprecated, please use `{new}` instead.",
        DeprecationWarning,
        stacklevel=3,
    )


def _vec(value: Vec3IntLike | int) -> Vec3Int:
    return Vec3Int(value, value, value) if isinstance(value, int) else Vec3Int(value)


def shape_args(
    chunk_shape: Vec3IntLike | int | None,
    shard_shape: Vec3IntLike | int | None,
    chunks_per_shard: Vec3IntLike | int | None,
) -> tuple[Vec3Int | None, Vec3Int | None]:
    """`(chunk_shape, shard_shape)`, with the deprecated `chunks_per_shard` folded in.

    `shard_shape = chunk_shape * chunks_per_shard` (chunk 32 if not given), as webknossos does.
    """
    chunk = None if chunk_shape is None else _vec(chunk_shape)
    shard = None if shard_shape is None else _vec(shard_shape)
    if chunks_per_shard is None:
        return chunk, shard
    deprecated("chunks_per_shard", "shard_shape")
    if shard is not None:
        raise InvalidArgumentError("Pass shard_shape or chunks_per_shard, not both.")
    return chunk, (DEFAULT_CHUNK_SHAPE if chunk is None else chunk) * _vec(chunks_per_shard)


def dtype_arg(dtype: Any, dtype_per_channel: Any) -> Any:
    """The layer dtype from `dtype` or the deprecated `dtype_per_channel` (same meaning)."""
    if dtype_per_channel is None:
        return dtype
    deprecated("dtype_per_channel", "dtype")
    if dtype is not None:
        raise ConflictingArgumentsError("Pass dtype or dtype_per_channel, not both.")
    return dtype_per_channel


def layer_from_path(path: str | os.PathLike[str]) -> Layer:
    """The layer stored in the folder `path` (its parent is the dataset), opened read-only."""
    from .dataset import Dataset

    folder = Path(path)
    return Dataset.open(folder.parent, read_only=True).get_layer(folder.name)


def mag_from_path(path: str | os.PathLike[str]) -> MagView:
    """The mag stored in the folder `path` (`<dataset>/<layer>/<mag>`), opened read-only."""
    folder = Path(path)
    layer = layer_from_path(folder.parent)
    for view in layer.mags.values():
        if view.path.resolve() == folder.resolve():
            return view
    try:
        return layer.get_mag(Mag(folder.name))
    except (MagNotFoundError, ValueError):
        raise MagNotFoundError(f"{folder} is not a mag folder of layer {layer.name!r}.") from None
