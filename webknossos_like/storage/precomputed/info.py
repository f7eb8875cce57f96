"""The precomputed `info` file as attrs models: validated on load, unknown keys kept on save."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

from ..._limits import MAX_PATH_BYTES
from ...errors import InvalidPropertiesError
from ...geometry import BoundingBox, Vec3Int

VOLUME_TYPE = "neuroglancer_multiscale_volume"
DATA_TYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "float32")
_SCALE_KEYS = (
    "key",
    "size",
    "voxel_offset",
    "resolution",
    "chunk_sizes",
    "encoding",
    "compressed_segmentation_block_size",
    "sharding",
    "hidden",
    "jpeg_quality",
    "png_level",
)
_INFO_KEYS = ("@type", "type", "data_type", "num_channels", "scales")
_MAX_CHANNELS = 65536  # bounds what a hostile `info` can make a read allocate
_MAX_BLOCK = 65536
_MAX_EXTENT = 2**53
#: An `info` (also `info.gz`, inflated) longer than this is refused unread: real ones with
#: hundreds of scales take kilobytes; a hostile one must not exhaust memory.
MAX_INFO_BYTES = 64 << 20


@attrs.define
class ScaleInfo:
    """One entry of `scales`: where a resolution's chunks live and how they are encoded."""

    key: str
    size: list[int]
    resolution: list[float]
    chunk_sizes: list[list[int]]
    encoding: str
    voxel_offset: list[int] | None = None
    compressed_segmentation_block_size: list[int] | None = None
    sharding: dict[str, Any] | None = None
    hidden: bool | None = None
    jpeg_quality: int | None = None
    png_level: int | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def offset(self) -> Vec3Int:
        """`voxel_offset`, 0 when absent (it is optional and may be negative)."""
        return Vec3Int(self.voxel_offset) if self.voxel_offset is not None else Vec3Int.zeros()

    @property
    def domain(self) -> BoundingBox:
        """The voxels of this scale, in its own coordinates: `[voxel_offset, voxel_offset + size)`."""
        return BoundingBox(self.offset, self.size)


@attrs.define
class VolumeInfo:
    """The whole `info` document of a multiscale volume."""

    type: str
    data_type: str
    num_channels: int
    scales: list[ScaleInfo]
    at_type: str | None = VOLUME_TYPE
    extra: dict[str, Any] = attrs.field(factory=dict)

    def scale_by_key(self, key: str) -> ScaleInfo | None:
        """The scale stored under `key`, or None."""
        return next((scale for scale in self.scales if scale.key == key), None)


def _fail(message: str, where: str, path: object) -> InvalidPropertiesError:
    return InvalidPropertiesError(message, path=path, json_path=where)


def _int_list(
    value: Any, where: str, path: object, *, positive: bool = False, nonnegative: bool = False
) -> list[int]:
    if not isinstance(value, list) or len(value) != 3:
        raise _fail(f"expected three integers, got {value!r}", where, path)
    result = []
    for item in value:
        if (
            isinstance(item, bool)
            or not isinstance(item, (int, float))
            or (isinstance(item, float) and not (math.isfinite(item) and item.is_integer()))
            or abs(item) > _MAX_EXTENT
        ):
            raise _fail(f"expected three integers (|v| <= 2^53), got {value!r}", where, path)
        number = int(item)
        if (positive and number <= 0) or (nonnegative and number < 0):
            raise _fail(
                f"expected {'positive' if positive else 'non-negative'} integers, got {value!r}",
                where,
                path,
            )
        result.append(number)
    return result


def _level(raw: dict[str, Any], name: str, top: int, where: str, path: object) -> int | None:
    """An optional integer setting in `0..top` (`jpeg_quality`, `png_level`): checked here, so
    that a hostile `info` fails when it is opened, not with a `TypeError` deep in a codec."""
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise _fail(f"must be an integer from 0 to {top}, got {value!r}", f"{where}.{name}", path)
    return value


def _parse_scale(raw: Any, index: int, path: object) -> ScaleInfo:
    where = f"scales[{index}]"
    if not isinstance(raw, dict):
        raise _fail("a scale must be an object", where, path)
    for required in ("key", "size", "resolution", "chunk_sizes", "encoding"):
        if required not in raw:
            raise _fail(f"missing required key {required!r}", where, path)
    key = raw["key"]
    if not isinstance(key, str) or not key or "\x00" in key or key.startswith("/"):
        raise _fail("must be a non-empty relative path without NUL", f"{where}.key", path)
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail("must be valid Unicode (no lone surrogates)", f"{where}.key", path) from None
    if len(encoded) > MAX_PATH_BYTES or any(len(p) > 255 for p in encoded.split(b"/")):
        raise _fail(
            f"a path of at most {MAX_PATH_BYTES} bytes with segments of at most 255 bytes, "
            f"got {len(encoded)} bytes",
            f"{where}.key",
            path,
        )
    resolution = raw["resolution"]
    if (
        not isinstance(resolution, list)
        or len(resolution) != 3
        or not all(
            isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r) and r > 0
            for r in resolution
        )
    ):
        raise _fail(
            f"expected three positive numbers, got {resolution!r}", f"{where}.resolution", path
        )
    chunk_sizes = raw["chunk_sizes"]
    if not isinstance(chunk_sizes, list) or not chunk_sizes:
        raise _fail("expected a non-empty list of [x, y, z]", f"{where}.chunk_sizes", path)
    if not isinstance(raw["encoding"], str):
        raise _fail("must be a string", f"{where}.encoding", path)
    block = raw.get("compressed_segmentation_block_size")
    sharding = raw.get("sharding")
    if sharding is not None and not isinstance(sharding, dict):
        raise _fail("must be an object or null", f"{where}.sharding", path)
    hidden = raw.get("hidden")
    if hidden is not None and not isinstance(hidden, bool):
        raise _fail("must be a boolean", f"{where}.hidden", path)
    return ScaleInfo(
        key=raw["key"],
        size=_int_list(raw["size"], f"{where}.size", path, nonnegative=True),
        resolution=[float(r) if not isinstance(r, int) else r for r in resolution],
        chunk_sizes=[
            _int_list(c, f"{where}.chunk_sizes[{i}]", path, positive=True)
            for i, c in enumerate(chunk_sizes)
        ],
        encoding=raw["encoding"].lower(),
        voxel_offset=(
            _int_list(raw["voxel_offset"], f"{where}.voxel_offset", path)
            if raw.get("voxel_offset") is not None
            else None
        ),
        compressed_segmentation_block_size=(
            _int_list(block, f"{where}.compressed_segmentation_block_size", path, positive=True)
            if block is not None
            else None
        ),
        sharding=sharding,
        hidden=hidden,
        jpeg_quality=_level(raw, "jpeg_quality", 100, where, path),
        png_level=_level(raw, "png_level", 9, where, path),
        extra={k: v for k, v in raw.items() if k not in _SCALE_KEYS},
    )


def parse_info(raw: Any, path: object = None) -> VolumeInfo:
    """Validate and model a decoded `info` JSON value; errors name the file and the JSON path."""
    if not isinstance(raw, dict):
        raise _fail("the info must be a JSON object", "", path)
    for required in ("type", "data_type", "num_channels", "scales"):
        if required not in raw:
            raise _fail(f"missing required key {required!r}", "", path)
    if raw["type"] not in ("image", "segmentation"):
        raise _fail(f"must be 'image' or 'segmentation', got {raw['type']!r}", "type", path)
    data_type = raw["data_type"]
    if not isinstance(data_type, str) or data_type.lower() not in DATA_TYPES:
        raise _fail(f"must be one of {', '.join(DATA_TYPES)}, got {data_type!r}", "data_type", path)
    channels = raw["num_channels"]
    if (
        isinstance(channels, bool)
        or not isinstance(channels, int)
        or not 1 <= channels <= _MAX_CHANNELS
    ):
        raise _fail(
            f"must be an integer from 1 to {_MAX_CHANNELS}, got {channels!r}", "num_channels", path
        )
    scales = raw["scales"]
    if not isinstance(scales, list) or not scales:
        raise _fail("must be a non-empty list", "scales", path)
    for index, scale in enumerate(raw["scales"]):
        block = scale.get("compressed_segmentation_block_size") if isinstance(scale, dict) else None
        if isinstance(block, list) and any(
            isinstance(b, (int, float)) and not isinstance(b, bool) and b > _MAX_BLOCK
            for b in block
        ):
            raise _fail(
                f"block sizes above {_MAX_BLOCK} are not supported, got {block!r}",
                f"scales[{index}].compressed_segmentation_block_size",
                path,
            )
    return VolumeInfo(
        type=raw["type"],
        data_type=data_type.lower(),
        num_channels=channels,
        scales=[_parse_scale(scale, i, path) for i, scale in enumerate(scales)],
        at_type=raw.get("@type"),
        extra={k: v for k, v in raw.items() if k not in _INFO_KEYS},
    )


def loads_info(text: str | bytes, path: object = None) -> VolumeInfo:
    """Parse `info` text (clear `InvalidPropertiesError` for malformed JSON)."""
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPropertiesError(f"not valid JSON: {exc}", path=path) from None
    except RecursionError:
        raise InvalidPropertiesError("JSON nested too deeply", path=path) from None
    try:
        return parse_info(raw, path)
    except RecursionError:
        raise InvalidPropertiesError("JSON nested too deeply", path=path) from None


def _dump_scale(scale: ScaleInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": scale.key,
        "size": list(scale.size),
        "resolution": list(scale.resolution),
        "chunk_sizes": [list(c) for c in scale.chunk_sizes],
        "encoding": scale.encoding,
    }
    if scale.voxel_offset is not None:
        out["voxel_offset"] = list(scale.voxel_offset)
    for name in (
        "compressed_segmentation_block_size",
        "sharding",
        "hidden",
        "jpeg_quality",
        "png_level",
    ):
        value = getattr(scale, name)
        if value is not None:
            out[name] = value
    out.update(scale.extra)
    return out


def dump_info(info: VolumeInfo) -> dict[str, Any]:
    """The JSON value of an `info` (known keys first, then unknown ones as they were)."""
    out: dict[str, Any] = {}
    if info.at_type is not None:
        out["@type"] = info.at_type
    out.update(
        {
            "type": info.type,
            "data_type": info.data_type,
            "num_channels": info.num_channels,
            "scales": [_dump_scale(scale) for scale in info.scales],
        }
    )
    out.update(info.extra)
    return out


def dumps_info(info: VolumeInfo) -> str:
    """`info` as JSON text."""
    return json.dumps(dump_info(info), indent=2)
