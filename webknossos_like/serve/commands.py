"""The `wkl serve` / `wkl view` commands: options and what they run (kept out of `cli.py`)."""

from __future__ import annotations

import argparse
import sys
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager

from .server import ServerHandle, serve_dataset
from .viewer import LAYOUTS


def add_arguments(parser: argparse.ArgumentParser, *, viewer: bool) -> None:
    """The options of `wkl serve` (and, with `viewer`, those of `wkl view`)."""
    parser.add_argument("path", help="Dataset folder, precomputed folder or URL.")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="Address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: all).",
    )
    parser.add_argument("--port", type=int, default=0, help="Port (default 0: any free port).")
    parser.add_argument("--quiet", action="store_true", help="Do not log requests to stderr.")
    parser.add_argument(
        "--exit-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Stop by itself after SECONDS (default: run until Ctrl+C).",
    )
    if viewer:
        parser.add_argument("--open", action="store_true", help="Open the URL in a web browser.")
        parser.add_argument(
            "--layout", default="4panel", choices=LAYOUTS, help="Neuroglancer layout (4panel)."
        )


def _start(args: argparse.Namespace, viewer: bool) -> ServerHandle:
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    return serve_dataset(
        args.path, args.host, args.port, viewer=viewer, log=None if args.quiet else log
    )


@contextmanager
def _stopped_by_ctrl_c() -> Iterator[None]:
    """Ctrl+C is how a server is stopped, whenever it arrives (also before `wait` is reached
    on a busy machine): a clean stop with status 0, not an interruption."""
    try:
        yield
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr, flush=True)


def run_serve(args: argparse.Namespace) -> None:
    """Serve until Ctrl+C (or `--exit-after`); prints the base URL and each layer's source."""
    with _stopped_by_ctrl_c(), _start(args, viewer=False) as handle:
        print(f"Serving {handle.dataset.name!r} at {handle.url}/ (Ctrl+C to stop)", flush=True)
        for name in handle.router.catalog.layers():
            print(f"  {handle.precomputed_url(name)}", flush=True)
        handle.wait(args.exit_after)


def run_view(args: argparse.Namespace) -> None:
    """Serve data and viewer; print the viewer URL (alone on stdout), optionally open it."""
    with _stopped_by_ctrl_c(), _start(args, viewer=True) as handle:
        url = handle.viewer_url(layout=args.layout)
        print(url, flush=True)
        print(
            f"Serving {handle.dataset.name!r} at {handle.url}/ (Ctrl+C to stop)",
            file=sys.stderr,
            flush=True,
        )
        if args.open:
            webbrowser.open(url)
        handle.wait(args.exit_after)
