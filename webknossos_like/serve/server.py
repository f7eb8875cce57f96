"""The HTTP server: a `ThreadingHTTPServer` in a background thread, answering through the `Router`."""

from __future__ import annotations

import collections
import contextlib
import html
import logging
import os
import socket
import threading
import time
import urllib.parse
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import WebknossosLikeError
from ..geometry import Vec3IntLike
from .routes import (
    DEFAULT_CHUNK_SHAPE,
    Catalog,
    FileSlice,
    Request,
    Response,
    Router,
    error_response,
    finish,
)
from .viewer import DEFAULT_VIEWPORT, StaticFiles, ViewerLink, client_dir, viewer_url

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = [
    "RequestRecord",
    "ServeError",
    "ServerHandle",
    "running_servers",
    "serve_dataset",
    "jupyter_proxy_url",
    "stop_all",
    "view_dataset",
]

LOGGER = logging.getLogger("webknossos_like.serve")
_STREAM_BLOCK = 2**20
_LOG_LENGTH = 10_000
_IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may stay idle


class ServeError(WebknossosLikeError, OSError):
    """The server cannot start (e.g. the port is taken or the address is not local)."""


@dataclass(frozen=True)
class RequestRecord:
    """One answered request, as kept in `ServerHandle.request_log`."""

    method: str
    path: str
    status: int
    size: int
    seconds: float
    client: str

    def __str__(self) -> str:
        return (
            f'{self.client} "{self.method} {self.path}" {self.status} {self.size} '
            f"{self.seconds * 1000:.1f}ms"
        )


class _Server(ThreadingHTTPServer):
    """Keeps the router, the request log and the open connections (closed on shutdown)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        router: Router,
        log: Callable[[str], None] | None,
        family: socket.AddressFamily,
    ) -> None:
        self.address_family = family
        self.router = router
        self.log = log
        self.records: collections.deque[RequestRecord] = collections.deque(maxlen=_LOG_LENGTH)
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self.lock:
            self.connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        LOGGER.debug("Connection error from %s", client_address, exc_info=True)

    def record(self, entry: RequestRecord) -> None:
        self.records.append(entry)
        if self.log is not None:
            self.log(str(entry))

    def close_connections(self) -> None:
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Turns each request into a `Request`, asks the router, writes the `Response`."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "wkl-serve"
    sys_version = ""
    timeout = _IDLE_TIMEOUT

    def do_GET(self) -> None:
        """Data, metadata and client files."""
        self._dispatch()

    do_HEAD = do_GET
    do_OPTIONS = do_GET
    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET
    do_PATCH = do_GET

    def _dispatch(self) -> None:
        started = time.perf_counter()
        if self.command not in ("GET", "HEAD", "OPTIONS"):
            self.close_connection = True  # the body (if any) is never read
        request = Request.make(self.command, self.path, self.headers.items())
        try:
            response = self.server.router.handle(request)
        except Exception:  # the router already turns errors into responses; belt and braces
            LOGGER.exception("Unhandled error for %s %s", self.command, self.path)
            response = finish(error_response(500, "Internal Server Error"), request)
        self._write(response, started)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors found by `http.server` itself (bad request line, unknown method, ...)."""
        self.close_connection = True
        try:
            phrase = message or HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        command = getattr(self, "command", None) or ""
        request = Request.make(command, getattr(self, "path", "") or "")
        self._write(finish(error_response(code, phrase), request), time.perf_counter())

    def _write(self, response: Response, started: float) -> None:
        sent = 0
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(response.length))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and response.status not in (204, 304):
                sent = self._write_body(response.body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        finally:
            self.server.record(
                RequestRecord(
                    method=getattr(self, "command", None) or "-",
                    path=getattr(self, "path", None) or "-",
                    status=response.status,
                    size=sent,
                    seconds=time.perf_counter() - started,
                    client=self.client_address[0] if self.client_address else "-",
                )
            )

    def _write_body(self, body: bytes | FileSlice) -> int:
        if isinstance(body, bytes):
            self.wfile.write(body)
            return len(body)
        sent = 0
        with open(body.path, "rb") as handle:
            handle.seek(body.start)
            while sent < body.length:
                block = handle.read(min(_STREAM_BLOCK, body.length - sent))
                if not block:  # the file shrank meanwhile: the client sees a short body
                    self.close_connection = True
                    break
                self.wfile.write(block)
                sent += len(block)
        return sent

    def version_string(self) -> str:
        """The `Server` header (no Python version)."""
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are recorded by `_write` instead."""

    def log_message(self, format: str, *args: Any) -> None:
        """Route `http.server` messages to the module logger."""
        LOGGER.debug(format, *args)


class ServerHandle:
    """A running server: `.url`, `.close()`, a context manager; serves until closed."""

    def __init__(self, server: _Server, thread: threading.Thread, base_url: str) -> None:
        self._server = server
        self._thread = thread
        self._url = base_url.rstrip("/")
        self._closed = threading.Event()

    @property
    def url(self) -> str:
        """The base URL users reach, e.g. `http://127.0.0.1:8000` (no trailing slash).

        Behind a proxy it is `public_url`, or the proxy path found in a Jupyter environment
        (`/user/<name>/proxy/<port>`: relative to the notebook's origin).
        """
        return self._url

    @property
    def local_url(self) -> str:
        """`http://host:port` as this machine reaches the server (for Python clients)."""
        return f"http://{_url_host(self.host)}:{self.port}"

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on (the chosen one when started with port 0)."""
        return int(self._server.server_address[1])

    @property
    def router(self) -> Router:
        """The request router (catalog of layers, client files)."""
        return self._server.router

    @property
    def dataset(self) -> Dataset:
        """The read-only dataset being served."""
        return self._server.router.catalog.dataset

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed.is_set()

    @property
    def request_log(self) -> list[RequestRecord]:
        """The last 10,000 requests answered, oldest first."""
        return list(self._server.records)

    def layer_url(self, layer_name: str) -> str:
        """`http://.../<layer>`: where the layer's `info` and chunks are."""
        return f"{self._url}/{urllib.parse.quote(layer_name)}"

    def precomputed_url(self, layer_name: str) -> str:
        """The Neuroglancer source `precomputed://http://.../<layer>`."""
        return f"precomputed://{self.layer_url(layer_name)}"

    def viewer_url(
        self,
        *,
        layers: Sequence[str] | None = None,
        layout: str = "4panel",
        viewport: tuple[int, int] = DEFAULT_VIEWPORT,
    ) -> str:
        """The Neuroglancer URL showing the layers (see `webknossos_like.serve.viewer_url`)."""
        return viewer_url(self, layers=layers, layout=layout, viewport=viewport)

    def close(self) -> None:
        """Stop serving, close open connections and the socket (idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
        with _REGISTRY_LOCK:
            if self in _RUNNING:
                _RUNNING.remove(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until closed (or `timeout` seconds); True if closed. Ctrl+C closes it."""
        try:
            return self._closed.wait(timeout)
        except KeyboardInterrupt:
            self.close()
            return True

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "serving"
        return f"ServerHandle({self._url!r}, {state} {self.dataset.name!r})"

    def _repr_html_(self) -> str:
        """For Jupyter: the base URL, the viewer link (when the client is served) and the state."""
        e = html.escape
        state = "closed" if self.closed else "serving"
        parts = [f"<b>{e(self.dataset.name)}</b> {state} at <code>{e(self._url)}/</code>"]
        if not self.closed and self.router.static is not None:
            link = ViewerLink(self.viewer_url(), self, self.dataset.name)
            parts.append(link._repr_html_())
        return f'<div class="wkl-repr">{"".join(parts)}</div>'


_RUNNING: list[ServerHandle] = []
_REGISTRY_LOCK = threading.Lock()


def _open_read_only(dataset_or_path: Dataset | str | os.PathLike[str]) -> Dataset:
    from ..dataset import Dataset

    if isinstance(dataset_or_path, Dataset):  # reopened with its S3 options, if any
        options = getattr(dataset_or_path, "_storage_options", None)
        return Dataset.open(dataset_or_path.location, read_only=True, storage_options=options)
    return Dataset.open(dataset_or_path, read_only=True)


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def jupyter_proxy_url(port: int) -> str | None:
    """The path a Jupyter server proxy serves `port` under, or None outside JupyterHub.

    `JUPYTERHUB_SERVICE_PREFIX=/user/alice/` gives `/user/alice/proxy/<port>` (jupyter-server-proxy
    forwards it to `localhost:<port>`); the viewer page makes its data URLs absolute itself.
    """
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if not prefix:
        return None
    return f"/{prefix.strip('/')}/proxy/{port}".replace("//", "/")


def serve_dataset(
    dataset_or_path: Dataset | str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    chunk_shape: Vec3IntLike = DEFAULT_CHUNK_SHAPE,
    viewer: bool = True,
    token: str = "wkl",
    public_url: str | None = None,
    jupyter_proxy: bool = True,
    log: Callable[[str], None] | None = None,
) -> ServerHandle:
    """Serve every layer of a dataset as Neuroglancer precomputed over HTTP, in a background thread.

    The dataset is reopened read-only. WKW layers are read and encoded per chunk
    (`chunk_shape`, default 64); precomputed layers are served file by file. With `viewer` and
    the `neuroglancer` package installed, the client is served under `/v/<token>/`.
    `port=0` picks a free port; `public_url` replaces `http://host:port` in URLs (proxies,
    tunnels; a path such as `/prefix` is taken relative to the page's origin). Without it, in
    JupyterHub (`JUPYTERHUB_SERVICE_PREFIX`) and with `jupyter_proxy`, URLs go through its server
    proxy (`jupyter_proxy_url`). `log` receives one line per request.
    """
    dataset = _open_read_only(dataset_or_path)
    catalog = Catalog(dataset, chunk_shape)
    folder = client_dir() if viewer else None
    static = StaticFiles(folder) if folder is not None else None
    router = Router(catalog, static, token)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        server = _Server((host, port), router, log, family)
    except OSError as exc:
        raise ServeError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"wkl-serve:{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    bound = int(server.server_address[1])
    proxied = jupyter_proxy_url(bound) if jupyter_proxy else None
    local = f"http://{_url_host(host)}:{bound}"
    base = public_url if public_url is not None else (proxied or local)
    handle = ServerHandle(server, thread, base)
    with _REGISTRY_LOCK:
        _RUNNING.append(handle)
    return handle


def running_servers() -> list[ServerHandle]:
    """The servers started by this process that are still running."""
    with _REGISTRY_LOCK:
        return list(_RUNNING)


def stop_all() -> None:
    """Close every server this process started."""
    for handle in running_servers():
        handle.close()


def view_dataset(
    dataset_or_path: Dataset | str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    layout: str = "4panel",
    open_browser: bool = False,
    **serve_options: Any,
) -> ViewerLink:
    """The Neuroglancer URL of a dataset, served in the background (one server per dataset, reused).

    A `ViewerLink`: a `str` (the URL, as before) that Jupyter shows as a link to click, with
    `.url`, `.server` and `.iframe()`. `public_url=` and the other `serve_dataset` options are
    passed on. `stop_all()` (or `running_servers()[i].close()`) stops the server.
    """
    dataset = _open_read_only(dataset_or_path)
    location = dataset.location
    handle = next(
        (
            h
            for h in running_servers()
            if h.dataset.location == location
            and h.host == host
            and (port == 0 or h.port == port)
            and h.router.static is not None
            and _same_public_url(h, serve_options.get("public_url"))
        ),
        None,
    )
    if handle is None:
        handle = serve_dataset(dataset, host, port, **serve_options)
    url = ViewerLink(handle.viewer_url(layout=layout), handle, dataset.name)
    if open_browser:
        webbrowser.open(url.url)
    return url


def _same_public_url(handle: ServerHandle, public_url: str | None) -> bool:
    """Whether a running server answers under the wanted public URL (None: any)."""
    return public_url is None or handle.url == public_url.rstrip("/")
