"""URL -> response for the dataset server: request parsing, layer sources and routing, no sockets."""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import WebknossosLikeError
from ..geometry import BoundingBox, Mag, Vec3Int, Vec3IntLike
from ..properties import PROPERTIES_FILE_NAME
from ..storage.precomputed.codecs import encode_chunk
from ..storage.precomputed.kvstore import FileKVStore, KVStore
from ..storage.precomputed.layer import layer_store, read_layer_info

if TYPE_CHECKING:
    from ..dataset import Dataset, Layer, MagView
    from .viewer import StaticFiles

__all__ = [
    "CORS_HEADERS",
    "Catalog",
    "DynamicLayer",
    "FileSlice",
    "LayerSource",
    "PassthroughLayer",
    "Request",
    "Response",
    "Router",
    "accepts_gzip",
    "parse_chunk_name",
    "parse_range",
    "split_path",
]

LOGGER = logging.getLogger("webknossos_like.serve")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Content-Encoding, Accept-Ranges",
}
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
DEFAULT_CHUNK_SHAPE = 64
CSEG_BLOCK_SIZE = (8, 8, 8)
# Bodies smaller than this are sent as they are: gzip would save next to nothing.
GZIP_MIN_BYTES = 256
GZIP_LEVEL = 1  # on-the-fly: fast; raw voxels still shrink a lot
# Whole files up to this size are read into memory (and may be gzipped); larger ones are streamed.
MAX_BUFFERED_FILE = 16 * 2**20
OCTET_STREAM = "application/octet-stream"
JSON_TYPE = "application/json"

_NUMBER = r"(-?[0-9]{1,18})"
_CHUNK_NAME_RE = re.compile(rf"^{_NUMBER}-{_NUMBER}_{_NUMBER}-{_NUMBER}_{_NUMBER}-{_NUMBER}$")
_SHARD_NAME_RE = re.compile(r"^[0-9a-f]+\.shard$")
_RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")


# --------------------------------------------------------------------------------------------
# Requests and responses


@dataclass(frozen=True)
class Request:
    """One HTTP request: method, raw target (path and query, still %-encoded), lower-case headers."""

    method: str
    target: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def make(
        cls,
        method: str,
        target: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> Request:
        """Build a request; header names are matched case-insensitively."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        return cls(method.upper(), target, {name.lower(): value for name, value in items})

    def header(self, name: str) -> str | None:
        """The value of header `name` (any case), or None."""
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class FileSlice:
    """A response body streamed from a file: `length` bytes from `start`."""

    path: str
    start: int
    length: int


@dataclass
class Response:
    """Status, headers and body (bytes, or a file slice the server streams)."""

    status: int
    body: bytes | FileSlice = b""
    headers: dict[str, str] = field(default_factory=dict)
    compressible: bool = False  # gzip it when the client accepts gzip

    @property
    def length(self) -> int:
        """Number of body bytes (the `Content-Length`)."""
        return self.body.length if isinstance(self.body, FileSlice) else len(self.body)


def error_response(status: int, message: str) -> Response:
    """A short plain-text error (never a traceback, never a file path)."""
    return Response(
        status, f"{status} {message}\n".encode(), {"Content-Type": "text/plain; charset=utf-8"}
    )


def json_response(value: Any) -> Response:
    """A JSON document."""
    return Response(
        200,
        json.dumps(value, indent=2).encode(),
        {"Content-Type": JSON_TYPE, "Cache-Control": "no-cache"},
        compressible=True,
    )


class BadRequest(Exception):
    """The request cannot be understood (400)."""


class NotFound(Exception):
    """Nothing to serve at this path (404); also used for paths that try to leave the dataset."""


class Forbidden(Exception):
    """The path exists but resolves outside the dataset (403)."""


class ServerFault(Exception):
    """A server-side problem worth a 500 with a short message."""


def split_path(target: str) -> tuple[list[str], bool]:
    """The %-decoded path segments of a request target, and whether it ended with `/`.

    Each segment is decoded on its own, so `%2F` cannot introduce a separator. `NotFound` for
    `.`/`..`/empty segments or decoded `/`, `\\` or NUL; `BadRequest` for targets that are not
    an absolute path or do not decode as UTF-8.
    """
    path = target.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        raise BadRequest("the request target must be an absolute path")
    raw = path[1:].split("/")
    trailing_slash = len(raw) > 1 and raw[-1] == ""
    if trailing_slash or raw == [""]:
        raw = raw[:-1]
    parts = []
    for segment in raw:
        try:
            decoded = urllib.parse.unquote(segment, errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("the path is not valid UTF-8") from None
        if decoded in ("", ".", "..") or any(c in decoded for c in "/\\\x00"):
            raise NotFound("no such path")
        parts.append(decoded)
    return parts, trailing_slash


def parse_chunk_name(name: str) -> BoundingBox | None:
    """The box of a chunk name `x0-x1_y0-y1_z0-z1` (signed), or None if it is malformed."""
    match = _CHUNK_NAME_RE.match(name)
    if match is None:
        return None
    x0, x1, y0, y1, z0, z1 = (int(g) for g in match.groups())
    if x1 < x0 or y1 < y0 or z1 < z0:
        return None
    return BoundingBox((x0, y0, z0), (x1 - x0, y1 - y0, z1 - z0))


def accepts_gzip(request: Request) -> bool:
    """Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*`, with q > 0)."""
    header = request.header("accept-encoding")
    if not header:
        return False
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.strip().lower()] = weight
    for coding in ("gzip", "x-gzip"):
        if coding in weights:
            return weights[coding] > 0
    return weights.get("*", 0.0) > 0


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`[start, end)` of a single-range `Range: bytes=...` header, or None to send everything.

    Syntactically invalid or multi-range headers are ignored (RFC 9110 allows that);
    `ValueError` if the range cannot be satisfied (answer 416).
    """
    if not header:
        return None
    match = _RANGE_RE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise ValueError("unsatisfiable range")
        return max(size - suffix, 0), size
    start = int(first)
    end = int(last) + 1 if last else size
    if last and end <= start:
        return None
    if start >= size:
        raise ValueError("unsatisfiable range")
    return start, min(end, size)


# --------------------------------------------------------------------------------------------
# Layer sources


class LayerSource(Protocol):
    """One served layer: answers the paths below `/<layer>/`."""

    name: str
    viewer_type: str  # "image" or "segmentation"
    bounding_box: BoundingBox  # mag-1 voxels
    available: bool  # whether it has an `info` a viewer can open

    def handle(self, parts: Sequence[str], request: Request) -> Response:
        """The response for `/<layer>/<parts...>`."""


@dataclass(frozen=True)
class _Scale:
    key: str
    mag: Mag
    view: MagView
    domain: BoundingBox  # in this mag's voxels
    chunk: Vec3Int
    encoding: str


def _served_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The precomputed data type of a layer dtype (precomputed has no int64 and no float64).

    int64 is served as uint64 (the same bits), float64 as float32.
    """
    if dtype == np.int64:
        return np.dtype(np.uint64)
    if dtype == np.float64:
        return np.dtype(np.float32)
    return dtype


class DynamicLayer:
    """A non-precomputed (e.g. WKW) layer, served as precomputed: chunks are read and encoded per request."""

    def __init__(self, layer: Layer, voxel_size_nm: Sequence[float], chunk_shape: Vec3Int) -> None:
        self.name = layer.name
        self.bounding_box = layer.bounding_box
        dtype = layer.dtype
        num_channels = layer.num_channels
        segmentation = layer.category == "segmentation" and num_channels == 1
        self.viewer_type = "segmentation" if segmentation else "image"
        self._dtype = _served_dtype(dtype)
        encoding = (
            "compressed_segmentation"
            if segmentation and self._dtype in (np.uint32, np.uint64)
            else "raw"
        )
        self._scales: dict[str, _Scale] = {}
        scales_json = []
        for mag, view in layer.mags.items():
            try:
                view.info  # noqa: B018  (opens the mag's storage now, not in a request thread)
            except WebknossosLikeError as exc:
                LOGGER.warning("Layer %r: skipping mag %s: %s", layer.name, mag, exc)
                continue
            key = mag.to_layer_name()
            domain = self.bounding_box.align_with_mag(mag, ceil=True).in_mag(mag)
            self._scales[key] = _Scale(key, mag, view, domain, chunk_shape, encoding)
            scale: dict[str, Any] = {
                "key": key,
                "size": domain.size.to_list(),
                "voxel_offset": domain.topleft.to_list(),
                "resolution": [v * m for v, m in zip(voxel_size_nm, mag, strict=True)],
                "chunk_sizes": [chunk_shape.to_list()],
                "encoding": encoding,
            }
            if encoding == "compressed_segmentation":
                scale["compressed_segmentation_block_size"] = list(CSEG_BLOCK_SIZE)
            scales_json.append(scale)
        self._info: dict[str, Any] | None = (
            {
                "@type": "neuroglancer_multiscale_volume",
                "type": self.viewer_type,
                "data_type": str(self._dtype),
                "num_channels": num_channels,
                "scales": scales_json,
            }
            if scales_json
            else None
        )
        self.available = self._info is not None

    @property
    def info(self) -> dict[str, Any] | None:
        """The `info` document (None when the layer has no readable mag)."""
        return self._info

    def handle(self, parts: Sequence[str], request: Request) -> Response:
        """`info`, or `<scale key>/<chunk name>` read through the view API and encoded."""
        if list(parts) == ["info"]:
            if self._info is None:
                raise NotFound("the layer has no mags")
            return json_response(self._info)
        if len(parts) != 2:
            raise NotFound("no such path")
        scale = self._scales.get(parts[0])
        if scale is None:
            raise NotFound("no such scale")
        box = parse_chunk_name(parts[1])
        if box is None:
            raise BadRequest(f"malformed chunk name {parts[1][:80]!r}; expected x0-x1_y0-y1_z0-z1")
        if not _is_grid_chunk(box, scale.domain, scale.chunk):
            raise NotFound("no such chunk (outside the volume or not on its chunk grid)")
        data = scale.view.read(absolute_bounding_box=box.from_mag_to_mag1(scale.mag))
        if data.dtype != self._dtype:
            same_bits = data.dtype.kind in "iu" and data.dtype.itemsize == self._dtype.itemsize
            data = data.view(self._dtype) if same_bits else data.astype(self._dtype)
        block = CSEG_BLOCK_SIZE if scale.encoding == "compressed_segmentation" else None
        body = encode_chunk(data, scale.encoding, block_size=block)
        return Response(
            200, body, {"Content-Type": OCTET_STREAM, "Cache-Control": "no-cache"}, True
        )


def _is_grid_chunk(box: BoundingBox, domain: BoundingBox, chunk: Vec3Int) -> bool:
    """Whether `box` is exactly one (edge-clipped) chunk of the grid anchored at the domain."""
    if box.is_empty() or not domain.contains_bbox(box):
        return False
    relative = box.topleft - domain.topleft
    if relative % chunk != Vec3Int.zeros():
        return False
    expected_end = (box.topleft + chunk).pairmin(domain.bottomright)
    return box.bottomright == expected_end


class PassthroughLayer:
    """A precomputed layer: its files are served byte for byte (with `Range` for shards)."""

    def __init__(self, layer: Layer) -> None:
        self.name = layer.name
        self.bounding_box = layer.bounding_box
        self._store: KVStore = layer_store(layer)
        self._root = (
            os.path.realpath(self._store.root) if isinstance(self._store, FileKVStore) else None
        )
        self.viewer_type = "segmentation" if layer.category == "segmentation" else "image"
        self._scale_dirs: dict[str, bool] = {}  # scale key -> sharded
        self.available = False
        try:
            info = read_layer_info(layer)
        except WebknossosLikeError as exc:
            LOGGER.warning("Layer %r: cannot read its info: %s", layer.name, exc)
        else:
            self.viewer_type = info.type
            self.available = True
            self._scale_dirs = {s.key: s.sharding is not None for s in info.scales}

    def handle(self, parts: Sequence[str], request: Request) -> Response:
        """The stored file at `parts` (`.gz` files as gzip content), else 404/400/403."""
        if any(part.startswith(".") for part in parts) or not parts:
            raise NotFound("no such file")  # lock and temporary files are not part of the data
        self._check_volume_file(parts)
        content_type = JSON_TYPE if parts[-1] == "info" else OCTET_STREAM
        if self._root is not None:
            response = self._local_file(parts, request, content_type)
        else:
            response = self._store_value(parts, request, content_type)
        if response is not None:
            response.headers.setdefault("Accept-Ranges", "bytes")
            response.headers.setdefault("Cache-Control", "no-cache")
            return response
        raise NotFound("no such file")

    def _check_volume_file(self, parts: Sequence[str]) -> None:
        """Only the volume is served: its `info` and the chunk or shard files of the scales it
        lists. Anything else in the folder (which may be a symlink to a foreign folder holding
        other files) is 404, a malformed chunk name under a scale 400."""
        if not self.available:
            raise NotFound("no such file")
        if list(parts) == ["info"]:
            return
        parent, name = "/".join(parts[:-1]), parts[-1]
        if parent not in self._scale_dirs:
            raise NotFound("no such file")
        sharded = self._scale_dirs[parent]
        if not (_SHARD_NAME_RE.match(name) if sharded else parse_chunk_name(name)):
            stray = os.path.join(self._root, *parts) if self._root is not None else None
            if stray is not None and (os.path.lexists(stray) or os.path.lexists(stray + ".gz")):
                raise NotFound("not part of the volume")  # a stray file: never served
            raise BadRequest(f"malformed {'shard' if sharded else 'chunk'} name {name[:80]!r}")

    def _resolve(self, parts: Sequence[str], suffix: str = "") -> str | None:
        """The real path of a file inside the layer folder, None if absent; 403 if it leaves it."""
        assert self._root is not None
        candidate = os.path.join(self._root, *parts) + suffix
        real = os.path.realpath(candidate)
        if os.path.commonpath([self._root, real]) != self._root:
            if os.path.lexists(candidate):
                raise Forbidden("the path leaves the dataset")
            return None
        return real if os.path.isfile(real) else None

    def _local_file(
        self, parts: Sequence[str], request: Request, content_type: str
    ) -> Response | None:
        plain = self._resolve(parts)
        if plain is not None:
            return _file_response(plain, request, content_type, parts[-1])
        packed = self._resolve(parts, ".gz")
        if packed is None:
            return None
        with open(packed, "rb") as handle:
            raw = handle.read()
        return _gzip_file_response(raw, request, content_type)

    def _store_value(
        self, parts: Sequence[str], request: Request, content_type: str
    ) -> Response | None:
        data = self._store.get("/".join(parts))
        if data is None:
            return None
        return _bytes_response(data, request, content_type, parts[-1])


def _range_response(
    request: Request,
    size: int,
    content_type: str,
    make_body: Callable[[int, int], bytes | FileSlice],
) -> Response | None:
    """A 206 (or 416) response when the request has a satisfiable `Range`, else None."""
    try:
        wanted = parse_range(request.header("range"), size)
    except ValueError:
        response = error_response(416, "Range Not Satisfiable")
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    if wanted is None:
        return None
    start, end = wanted
    return Response(
        206,
        make_body(start, end),
        {"Content-Type": content_type, "Content-Range": f"bytes {start}-{end - 1}/{size}"},
    )


def _file_response(path: str, request: Request, content_type: str, name: str) -> Response:
    size = os.path.getsize(path)
    ranged = _range_response(
        request, size, content_type, lambda start, end: FileSlice(path, start, end - start)
    )
    if ranged is not None:
        return ranged
    if size > MAX_BUFFERED_FILE:
        return Response(200, FileSlice(path, 0, size), {"Content-Type": content_type})
    with open(path, "rb") as handle:
        data = handle.read()
    return _bytes_response(data, request, content_type, name)


def _bytes_response(data: bytes, request: Request, content_type: str, name: str) -> Response:
    ranged = _range_response(request, len(data), content_type, lambda start, end: data[start:end])
    if ranged is not None:
        return ranged
    # Shards are read with byte ranges: never change their representation.
    compressible = not name.endswith(".shard")
    return Response(200, data, {"Content-Type": content_type}, compressible)


def _gzip_file_response(raw: bytes, request: Request, content_type: str) -> Response:
    """A stored `.gz` file: sent as it is with `Content-Encoding: gzip`, or decompressed."""
    if request.header("range") is None and accepts_gzip(request):
        return Response(
            200,
            raw,
            {"Content-Type": content_type, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise ServerFault("a stored .gz file is corrupt") from exc
    return _bytes_response(data, request, content_type, "")


# --------------------------------------------------------------------------------------------
# The catalog of layers and the router


class Catalog:
    """The served layers of a dataset; rebuilt (rate-limited) when metadata is requested."""

    def __init__(
        self,
        dataset: Dataset,
        chunk_shape: Vec3IntLike = DEFAULT_CHUNK_SHAPE,
        refresh_interval: float = 1.0,
    ) -> None:
        self._dataset = dataset
        self._chunk_shape = Vec3Int(
            (chunk_shape,) * 3 if isinstance(chunk_shape, int) else chunk_shape
        )
        if not self._chunk_shape.is_positive(strictly_positive=True):
            raise ValueError(f"chunk_shape must be positive, got {self._chunk_shape}")
        self._refresh_interval = refresh_interval
        self._lock = threading.Lock()
        self._layers: dict[str, LayerSource] = {}
        self._built_at = 0.0
        self._built_stamp: tuple[int, int, int] | None = None
        self._build()

    @property
    def dataset(self) -> Dataset:
        """The (read-only) dataset being served."""
        return self._dataset

    @property
    def voxel_size_nm(self) -> tuple[float, float, float]:
        """The mag-1 voxel size in nanometers."""
        x, y, z = self._dataset.voxel_size
        return (x, y, z)

    def layers(self) -> Mapping[str, LayerSource]:
        """The current layers by name."""
        return self._layers

    def _stamp(self) -> tuple[int, int, int] | None:
        """Identity of the properties file (atomic saves replace it), None if there is none
        (or it is remote: then `refresh_interval` alone decides)."""
        if "://" in self._dataset.location:
            return None
        try:
            stat = os.stat(os.path.join(self._dataset.path, PROPERTIES_FILE_NAME))
        except OSError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _stale(self) -> bool:
        if time.monotonic() - self._built_at >= self._refresh_interval:
            return True
        return "://" not in self._dataset.location and self._stamp() != self._built_stamp

    def refresh(self, force: bool = False) -> None:
        """Re-read the dataset metadata if it changed (or `refresh_interval` passed, or forced)."""
        if not force and not self._stale():
            return
        with self._lock:
            if not force and not self._stale():
                return
            try:
                self._dataset.reload()
            except WebknossosLikeError as exc:
                LOGGER.warning("Cannot reload the dataset metadata: %s", exc)
            self._build_locked()

    def _build(self) -> None:
        with self._lock:
            self._build_locked()

    def _build_locked(self) -> None:
        voxel_size = self.voxel_size_nm
        layers: dict[str, LayerSource] = {}
        for name, layer in self._dataset.layers.items():
            old = self._layers.get(name)
            source: LayerSource
            try:
                if layer._format.served_as_is:
                    source = PassthroughLayer(layer)
                else:
                    source = DynamicLayer(layer, voxel_size, self._chunk_shape)
            except WebknossosLikeError as exc:
                LOGGER.warning("Cannot serve layer %r: %s", name, exc)
                if old is not None:
                    layers[name] = old
                continue
            layers[name] = source
        self._layers = layers  # swapped at once: request threads see the old or the new map
        self._built_at = time.monotonic()
        self._built_stamp = self._stamp()


class Router:
    """Maps requests to responses: layers under `/<layer>/`, the viewer under `/v/<token>/`."""

    def __init__(
        self, catalog: Catalog, static: StaticFiles | None = None, token: str = "wkl"
    ) -> None:
        self.catalog = catalog
        self.static = static
        self.token = token

    def handle(self, request: Request) -> Response:
        """The complete response (CORS, gzip applied); HEAD gets GET's headers."""
        if request.method == "OPTIONS":
            response = Response(
                204,
                headers={
                    "Access-Control-Allow-Methods": ALLOWED_METHODS,
                    "Access-Control-Allow-Headers": "Range, Accept-Encoding, Content-Type",
                    "Access-Control-Max-Age": "86400",
                },
            )
        elif request.method not in ("GET", "HEAD"):
            response = error_response(405, "Method Not Allowed (the server is read-only)")
            response.headers["Allow"] = ALLOWED_METHODS
        else:
            try:
                response = self._route(request)
            except BadRequest as exc:
                response = error_response(400, f"Bad Request: {exc}")
            except Forbidden:
                response = error_response(403, "Forbidden")
            except NotFound:
                response = error_response(404, "Not Found")
            except ServerFault as exc:
                response = error_response(500, f"Internal Server Error: {exc}")
            except Exception as exc:  # any failure becomes a 500, never a traceback on the wire
                LOGGER.exception("Error answering %s %s", request.method, request.target)
                response = error_response(500, f"Internal Server Error: {type(exc).__name__}")
        return finish(response, request)

    def _route(self, request: Request) -> Response:
        parts, trailing_slash = split_path(request.target)
        if not parts:
            return self._index()
        if parts[0] == "v" and len(parts) >= 2 and parts[1] == self.token:
            if self.static is None:
                return error_response(
                    404, "Not Found: the viewer needs `pip install webknossos_like[viewer]`"
                )
            return self.static.get(parts[2:], request)
        if parts[0] == "events":
            raise NotFound("no Python viewer session here")
        if trailing_slash:
            raise NotFound("directories are not listed")
        layer = self.catalog.layers().get(parts[0])
        if layer is None or parts[-1] == "info":
            self.catalog.refresh()
            layer = self.catalog.layers().get(parts[0])
        if layer is None:
            if parts == ["favicon.ico"]:
                return Response(204)  # browsers ask for it; there is none
            raise NotFound("no such layer")
        return layer.handle(parts[1:], request)

    def _index(self) -> Response:
        self.catalog.refresh()
        layers = self.catalog.layers()
        return json_response(
            {
                "dataset": self.catalog.dataset.name,
                "layers": [
                    {
                        "name": name,
                        "type": layer.viewer_type,
                        "url": "/" + urllib.parse.quote(name),
                    }
                    for name, layer in layers.items()
                ],
                "viewer": f"/v/{self.token}/" if self.static is not None else None,
            }
        )


def finish(response: Response, request: Request) -> Response:
    """Add CORS headers and apply gzip when the response allows it and the client accepts it."""
    headers = response.headers
    for name, value in CORS_HEADERS.items():
        headers.setdefault(name, value)
    if response.compressible and isinstance(response.body, bytes):
        headers["Vary"] = "Accept-Encoding"
        if (
            len(response.body) >= GZIP_MIN_BYTES
            and "Content-Encoding" not in headers
            and accepts_gzip(request)
        ):
            response.body = gzip.compress(response.body, compresslevel=GZIP_LEVEL, mtime=0)
            headers["Content-Encoding"] = "gzip"
    headers.setdefault("Content-Type", OCTET_STREAM)
    return response
