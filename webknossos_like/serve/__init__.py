"""Serve datasets as Neuroglancer precomputed over HTTP (`wkl serve`) and show them (`wkl view`)."""

from .routes import Request, Response, Router
from .server import (
    RequestRecord,
    ServeError,
    ServerHandle,
    jupyter_proxy_url,
    running_servers,
    serve_dataset,
    stop_all,
    view_dataset,
)
from .viewer import ViewerLink, ViewerNotAvailableError, client_dir, viewer_state, viewer_url

__all__ = [
    "Request",
    "RequestRecord",
    "Response",
    "ServeError",
    "Router",
    "ServerHandle",
    "ViewerLink",
    "ViewerNotAvailableError",
    "client_dir",
    "jupyter_proxy_url",
    "running_servers",
    "serve_dataset",
    "stop_all",
    "view_dataset",
    "viewer_state",
    "viewer_url",
]
