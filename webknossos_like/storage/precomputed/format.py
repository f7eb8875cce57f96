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
_OPTIONS = frozenset({"encoding", "sharded", "sharding", "jpeg_quality"})


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
        shards); the options `encoding`, `sharded` (or its synonym `sharding`: True, or a
        sharding spec as JSON) and `jpeg_quality` choose explicitly. A `shard_shape` larger
        than the chunk means sharded, with at most that many chunks per shard.
        """
        from . import layer as hooks

        unknown = set(settings.options) - _OPTIONS
        if unknown:
            raise InvalidArgumentError(
                f"{', '.join(sorted(unknown))} do not apply to precomputed layers."
            )
        options: dict[str, Any] = dict(settings.options)
        chunk = settings.chunk_shape or Vec3Int(DEFAULT_CHUNK_SHAPE)
        sharded = _sharding_option(options)
        chunks_per_shard = _chunks_per_shard(chunk, settings.shard_shape)
        if chunks_per_shard is not None and chunks_per_shard > 1 and not sharded:
            sharded = True
        if chunks_per_shard == 1:
            chunks_per_shard = None  # sharded with one-chunk shards: the default spec instead
        hooks.add_scale(
            layer,
            mag,
            chunk_shape=chunk,
            compress=bool(settings.compress),
            encoding=options.get("encoding"),
            sharded=sharded,
            jpeg_quality=options.get("jpeg_quality"),
            chunks_per_shard=chunks_per_shard if sharded is True else None,
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
        """Chunk and shard shapes and compression of `source` (any format), from a precomputed
        source also its encoding and sharding. Compressed data whose encoding would be raw is
        stored in gzip shards: unsharded raw chunks cannot be compressed on disk."""
        from . import layer as hooks
        from .array import PrecomputedArray

        base = super().settings_like(layer, source, requested)
        options = dict(requested.options)
        chosen = "sharded" in options or "sharding" in options
        backend = source._backend
        if requested.compress is None and isinstance(backend, PrecomputedArray):
            options.setdefault("encoding", backend.scale.encoding)
            if backend.scale.sharding is not None and not chosen:
                options["sharded"] = True
        compress = bool(base.compress)
        encoding = options.get("encoding") or hooks.default_encoding(layer, compress)
        if compress and str(encoding).lower() == "raw" and not chosen:
            options["sharded"] = True
        unsharded = chosen and _sharding_option(options) is False
        return MagSettings(
            chunk_shape=base.chunk_shape,
            shard_shape=None if unsharded else base.shard_shape,
            compress=compress,
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


def _sharding_option(options: dict[str, Any]) -> bool | dict[str, Any]:
    """`sharded=` or its synonym `sharding=` (tensorstore's name; True or a spec as JSON);
    refuses the two when they disagree."""
    sharded = options.get("sharded", False)
    sharding = options.get("sharding", False)
    if "sharded" in options and "sharding" in options and sharded != sharding:
        raise InvalidArgumentError(
            f"sharded={sharded!r} and sharding={sharding!r} disagree; pass one of them."
        )
    value = sharding if "sharding" in options else sharded
    if isinstance(value, dict):
        return value
    if not isinstance(value, bool):
        raise InvalidArgumentError(
            f"sharded/sharding must be True, False or a sharding spec (a dict), got {value!r}."
        )
    return value


def _chunks_per_shard(chunk: Vec3Int, shard: Vec3Int | None) -> int | None:
    """How many chunks a requested shard shape holds (None: none requested); it must be a
    whole number of chunks."""
    if shard is None:
        return None
    if shard % chunk != Vec3Int.zeros():
        raise InvalidArgumentError(
            f"shard_shape {shard.to_tuple()} must be a multiple of chunk_shape {chunk.to_tuple()}."
        )
    return (shard // chunk).prod()
