"""The Neuroglancer client (from the `neuroglancer` PyPI package) and viewer states/URLs for it."""

from __future__ import annotations

import gzip
import html
import importlib.util
import json
import math
import mimetypes
import os
import re
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LayerNotFoundError, WebknossosLikeError
from ..geometry import BoundingBox
from .routes import NotFound, Request, Response, accepts_gzip

if TYPE_CHECKING:
    from .routes import LayerSource
    from .server import ServerHandle

__all__ = [
    "CLIENT_SHIM",
    "LAYOUTS",
    "ViewerLink",
    "StaticFiles",
    "ViewerNotAvailableError",
    "client_dir",
    "patch_index",
    "state_url",
    "viewer_state",
    "viewer_url",
]

LAYOUTS = ("xy", "xz", "yz", "3d", "xy-3d", "xz-3d", "yz-3d", "4panel")
DEFAULT_VIEWPORT = (1200, 800)  # pixels of the viewer area (below the top bar) the zoom fits
_URL_SAFE = "~@#$&()*!+=:;,.?/'"  # what the neuroglancer package leaves unquoted in state URLs
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = (".html", ".js", ".css", ".wasm", ".json", ".map", ".svg", ".txt")
# Runs before the client's own scripts (put into `index.html` as served):
# 1. The packaged client is the build of the `neuroglancer` Python package: it always opens an
#    `EventSource` on `/events/<token>` to sync state with a Python session, and shows
#    "Disconnected from Python server" when that fails. This server has no session (the state is
#    in the URL fragment), and a stream held open would stall headless browsers, so that one
#    event source is replaced by one that reports "open" and then stays quiet.
# 2. Sources relative to the page's origin (`precomputed:///<prefix>/<layer>`, what `viewer_url`
#    writes for a server behind a path-only proxy such as JupyterHub's `/user/<name>/proxy/<port>`)
#    are made absolute before the client reads the fragment.
CLIENT_SHIM = r"""<script>(function () {
  var Native = window.EventSource;
  function Quiet(url) {
    var self = this;
    this.url = String(url); this.readyState = 1; this.withCredentials = false;
    this.onopen = null; this.onmessage = null; this.onerror = null;
    setTimeout(function () { if (self.readyState === 1 && self.onopen) self.onopen({type: "open"}); }, 0);
  }
  Quiet.prototype.close = function () { this.readyState = 2; };
  Quiet.prototype.addEventListener = function () {};
  Quiet.prototype.removeEventListener = function () {};
  window.EventSource = function (url, init) {
    return /\/events\/[^\/?]+(\?|$)/.test(String(url)) ? new Quiet(url) : new Native(url, init);
  };
  var href = window.location.href;
  if (href.indexOf("precomputed:///") >= 0) {
    var absolute = "precomputed://" + window.location.origin + "/";
    window.history.replaceState(null, "", href.split("precomputed:///").join(absolute));
  }
})();</script>"""
_HEAD = re.compile(rb"<head[^>]*>", re.IGNORECASE)


def patch_index(html: bytes) -> bytes:
    """The client's `index.html` with `CLIENT_SHIM` first in `<head>` (see there for why)."""
    shim = CLIENT_SHIM.encode()
    match = _HEAD.search(html)
    if match is None:
        return shim + html
    return html[: match.end()] + shim + html[match.end() :]


class ViewerNotAvailableError(WebknossosLikeError, ImportError):
    """The Neuroglancer client is not installed (`pip install webknossos_like[viewer]`)."""


def client_dir() -> Path | None:
    """The folder of the built Neuroglancer client in the installed `neuroglancer` package, or None.

    The package is located without importing it (its import pulls in tornado and more).
    """
    try:
        spec = importlib.util.find_spec("neuroglancer")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "static" / "client"
        if (folder / "index.html").is_file():
            return folder
    return None


class StaticFiles:
    """The files of a folder, listed once at start-up: requests can only name those files."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)
        self._files: dict[str, Path] = {}
        for folder, _dirs, names in os.walk(self._root):
            for name in names:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    self._files[path.relative_to(self._root).as_posix()] = path
        self._gzipped: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The client folder."""
        return self._root

    def names(self) -> list[str]:
        """The servable files, relative to the root."""
        return sorted(self._files)

    @staticmethod
    def _read(name: str, path: Path) -> bytes:
        """A file's bytes; `index.html` with the shim that adapts the client to this server."""
        data = path.read_bytes()
        return patch_index(data) if name == "index.html" else data

    def get(self, parts: Sequence[str], request: Request) -> Response:
        """One file (`index.html` for the folder itself), gzipped (and cached) if accepted."""
        name = "/".join(parts) or "index.html"
        path = self._files.get(name)
        if path is None:
            raise NotFound("no such client file")
        suffix = path.suffix.lower()
        content_type = (
            _CONTENT_TYPES.get(suffix)
            or mimetypes.guess_type(name)[0]
            or "application/octet-stream"
        )
        headers = {
            "Content-Type": content_type,
            "Cache-Control": "no-cache" if name == "index.html" else "public, max-age=3600",
        }
        if suffix not in _COMPRESSIBLE:
            return Response(200, self._read(name, path), headers)
        headers["Vary"] = "Accept-Encoding"
        if not accepts_gzip(request):
            return Response(200, self._read(name, path), headers)
        with self._lock:
            body = self._gzipped.get(name)
        if body is None:
            body = gzip.compress(self._read(name, path), compresslevel=6, mtime=0)
            with self._lock:
                self._gzipped[name] = body
        headers["Content-Encoding"] = "gzip"
        return Response(200, body, headers)


def _fit_scale(extent: Sequence[float], layout: str, viewport: tuple[int, int]) -> float:
    """`crossSectionScale` (canonical voxels per pixel) at which the extent fills each 2-D panel."""
    width, height = viewport
    if layout == "4panel":
        width, height = width // 2, height // 2
    elif layout.endswith("-3d"):
        width //= 2
    planes = {"xy": (0, 1), "xz": (0, 2), "yz": (1, 2)}
    shown = list(planes.values()) if layout in ("4panel", "3d") else [planes[layout[:2]]]
    needed = 0.0
    for a, b in shown:
        if (a, b) == (0, 1):
            needed = max(needed, extent[a] / width, extent[b] / height)
        else:  # orientation of the other planes varies: fit either way round
            needed = max(needed, max(extent[a], extent[b]) / min(width, height))
    return needed * 1.1


def viewer_state(
    layers: Sequence[LayerSource],
    voxel_size_nm: Sequence[float],
    base_url: str,
    *,
    layout: str = "4panel",
    viewport: tuple[int, int] = DEFAULT_VIEWPORT,
) -> dict[str, Any]:
    """The Neuroglancer state showing `layers` served at `base_url`, centred and zoomed to fit.

    `dimensions` are the voxel size in meters; layers of type `segmentation` stay segmentation.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    box = BoundingBox.empty()
    for layer in layers:
        box = box.extended_by(layer.bounding_box)
    if box.is_empty():
        box = BoundingBox((0, 0, 0), (1, 1, 1))
    position = [t + s / 2 for t, s in zip(box.topleft, box.size, strict=True)]
    canonical = min(voxel_size_nm)
    extent = [s * v / canonical for s, v in zip(box.size, voxel_size_nm, strict=True)]
    base = base_url.rstrip("/")
    return {
        "dimensions": {
            axis: [float(f"{size * 1e-9:.12g}"), "m"]
            for axis, size in zip("xyz", voxel_size_nm, strict=True)
        },
        "position": position,
        "crossSectionScale": _fit_scale(extent, layout, viewport),
        "projectionScale": math.hypot(*extent) * 1.3,
        "layers": [
            {
                "type": layer.viewer_type,
                "source": f"precomputed://{base}/{urllib.parse.quote(layer.name)}",
                "name": layer.name,
            }
            for layer in layers
        ],
        "selectedLayer": {"visible": False},
        "layout": layout,
    }


def state_url(base_url: str, token: str, state: Mapping[str, Any]) -> str:
    """`<base>/v/<token>/#!<state>`, the URL form the packaged client understands."""
    text = json.dumps(state, separators=(",", ":"))
    return f"{base_url.rstrip('/')}/v/{token}/#!{urllib.parse.quote(text, safe=_URL_SAFE)}"


def viewer_url(
    server: ServerHandle,
    *,
    layers: Sequence[str] | None = None,
    layout: str = "4panel",
    viewport: tuple[int, int] = DEFAULT_VIEWPORT,
) -> str:
    """The viewer URL of a running server: every layer (or those named), centred and zoomed to fit.

    Raises `ViewerNotAvailableError` if the server has no Neuroglancer client to serve.
    """
    router = server.router
    if router.static is None:
        raise ViewerNotAvailableError(
            "The Neuroglancer client is not installed: pip install 'webknossos_like[viewer]' "
            "(the `neuroglancer` package), then start the server again."
        )
    router.catalog.refresh(force=True)
    available = router.catalog.layers()
    if layers is None:
        chosen = [
            layer
            for layer in available.values()
            if layer.available and not layer.bounding_box.is_empty()
        ]
    else:
        missing = [name for name in layers if name not in available]
        if missing:
            raise LayerNotFoundError(
                f"No served layer named {', '.join(map(repr, missing))} "
                f"(have: {', '.join(available) or 'none'})."
            )
        chosen = [available[name] for name in layers]
    state = viewer_state(
        chosen, router.catalog.voxel_size_nm, server.url, layout=layout, viewport=viewport
    )
    return state_url(server.url, router.token, state)


class ViewerLink(str):
    """The viewer URL of a served dataset: a `str` (as `view_dataset` always returned) that shows
    itself in Jupyter as a link to click (`_repr_html_`); `.iframe()` embeds the viewer instead."""

    server: ServerHandle | None
    name: str

    def __new__(cls, url: str, server: ServerHandle | None = None, name: str = "") -> ViewerLink:
        link = super().__new__(cls, url)
        link.server = server
        link.name = name
        return link

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as the plain URL (the server it points to stays in this process)."""
        return (str, (self.url,))

    @property
    def url(self) -> str:
        """The URL as a plain `str`."""
        return str.__str__(self)

    def _repr_html_(self) -> str:
        """A link that opens the viewer in a new browser tab."""
        url = html.escape(self.url, quote=True)
        label = (
            f"Open {html.escape(self.name)} in Neuroglancer" if self.name else "Open Neuroglancer"
        )
        served = ""
        if self.server is not None:
            served = f' <span style="opacity:0.7">(served at {html.escape(self.server.url)})</span>'
        return (
            f'<div class="wkl-repr"><a href="{url}" target="_blank" rel="noopener noreferrer">'
            f"{label}</a>{served}</div>"
        )

    def iframe(self, height: int = 600) -> HTMLFragment:
        """The viewer embedded in the notebook output (`height` pixels tall, full width)."""
        url = html.escape(self.url, quote=True)
        return HTMLFragment(
            f'<iframe src="{url}" style="width:100%;height:{int(height)}px;border:0" '
            f"allowfullscreen></iframe><div>{self._repr_html_()}</div>"
        )


class HTMLFragment:
    """Ready HTML that Jupyter shows as it is (no IPython import needed)."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        """The HTML."""
        return self.markup

    def __str__(self) -> str:
        return self.markup
