"""Neuroglancer precomputed as a `StorageFormat`: one `info` per layer, one scale per mag.

The heavy parts (codecs, sharding, HTTP) load when a precomputed layer is first used.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import InvalidArgumentError, UnsupportedFormatError
from ...geometry import BoundingBox, Mag, Vec3Int
from ..backend import ArrayBackend
from ..format import BareVolume, MagSettings, StorageFormat

if TYPE_CHECKING:
    from ...dataset.layer import Layer
    from ...dataset.view import View

#: The `dataFormat` spelling webknossos uses.
FORMAT_NAME = "neuroglancerPrecomputed"
DEFAULT_CHUNK_SHAPE = 64
_OPTIONS = frozenset({"encoding", "sharded", "jpeg_quality"})


class PrecomputedFormat(StorageFormat):
    """Precomputed volumes: local folders and (read-only) URLs; extents stored in `info`."""

    name: ClassVar[str] = FORMAT_NAME
    aliases: ClassVar[tuple[str, ...]] = ("neuroglancer_precomputed", "precomputed")
    remote: ClassVar[bool] = True
    negative_offsets: ClassVar[bool] = True
    stores_extents: ClassVar[bool] = True
    served_as_is: ClassVar[bool] = True

    def add_mag(self, layer: Layer, mag: Mag, settings: MagSettings) -> None:
        """A new scale in the layer's `info` and its properties entry, in one step.

        `compress` picks compressed_segmentation for uint32/uint64 segmentation (and gzip inside
        shards); the options `encoding`, `sharded`, `jpeg_quality` choose explicitly.
        """
        from . import layer as hooks

        unknown = set(settings.options) - _OPTIONS
        if unknown:
            raise InvalidArgumentError(
                f"{', '.join(sorted(unknown))} do not apply to precomputed layers."
            )
        if settings.shard_shape is not None:
            raise InvalidArgumentError(
                "Precomputed shard sizes follow from the sharding spec; pass sharded=True instead."
            )
        options: dict[str, Any] = dict(settings.options)
        hooks.add_scale(
            layer,
            mag,
            chunk_shape=settings.chunk_shape or Vec3Int(DEFAULT_CHUNK_SHAPE),
            compress=bool(settings.compress),
            encoding=options.get("encoding"),
            sharded=bool(options.get("sharded", False)),
            jpeg_quality=options.get("jpeg_quality"),
        )

    def open_mag(self, layer: Layer, mag: Mag, path: Path, *, read_only: bool) -> ArrayBackend:
        """The scale as a `LayerScale` (follows re-grids); a scale outside the dataset read-only."""
        from . import layer as hooks

        if layer.dataset._bare is None and layer._is_foreign(path):
            return hooks.open_foreign_scale(path)
        return hooks.open_scale(layer, hooks.scale_key(layer, layer._mag_entry(mag).path, mag), mag)

    def remove_mag(self, layer: Layer, path: Path, *, listed: bool) -> None:
        """Drop the mag's scale from `info` (the last one takes `info` with it)."""
        from . import layer as hooks

        if layer.dataset._bare is not None:
            return
        if listed:
            hooks.remove_scale(layer, path.name)
            return
        with contextlib.suppress(UnsupportedFormatError):  # no info file yet
            hooks.remove_scale(layer, path.name)

    def before_growth(self, layer: Layer, box: BoundingBox) -> None:
        """Refuse a growth whose re-gridded scales could not be written (see `check_growth`)."""
        from . import layer as hooks

        hooks.check_growth(layer, hooks.scale_keys(layer), box)

    def after_growth(self, layer: Layer) -> None:
        """Grow every scale's domain to the layer box; re-keyed scales are repointed."""
        from . import layer as hooks

        hooks.grow_scales(layer)

    def settings_like(self, layer: Layer, source: View, requested: MagSettings) -> MagSettings:
        """Same chunk shape; from a precomputed source also its encoding and sharding."""
        from .array import PrecomputedArray

        info = source.info
        same_format = info.data_format == self.name
        options = dict(requested.options)
        backend = source._backend
        if same_format and requested.compress is None and isinstance(backend, PrecomputedArray):
            options = {
                "encoding": backend.scale.encoding,
                "sharded": backend.scale.sharding is not None,
            }
        return MagSettings(
            chunk_shape=requested.chunk_shape
            if requested.chunk_shape is not None
            else (info.chunk_shape if same_format else None),
            shard_shape=None,
            compress=requested.compress,
            options=options,
        )

    def open_bare(self, location: str, *, read_only: bool) -> BareVolume | None:
        """A folder or URL with an `info` file (URLs are read-only)."""
        from .bare import load_bare
        from .kvstore import FileKVStore, open_kvstore

        if "://" in location:
            store = open_kvstore(location)
            return BareVolume(
                load_bare(store, location), store, location, Path(location.split("://", 1)[1])
            )
        path = Path(location)
        if not (path / "info").is_file():
            return None
        local = FileKVStore(path, read_only=read_only)
        return BareVolume(load_bare(local, str(path)), local, str(path), path)
