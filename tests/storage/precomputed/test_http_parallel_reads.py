"""Reads over HTTP overlap their requests (bounded by `parallel_reads`), measured at a real
threaded HTTP server that counts the requests it is serving at once."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.errors import InvalidArgumentError
from webknossos_like.storage.precomputed.kvstore import HTTPKVStore


class _Counting(http.server.SimpleHTTPRequestHandler):
    """Serves files slowly (50 ms each) and records the peak of requests in flight."""

    state: dict[str, Any]

    def do_GET(self) -> None:
        # Counted only while the client waits (before any byte of the answer is sent): a handler
        # still finishing after its client moved on must not count as one more in flight.
        with self.state["lock"]:
            self.state["active"] += 1
            self.state["peak"] = max(self.state["peak"], self.state["active"])
        try:
            time.sleep(0.05)
        finally:
            with self.state["lock"]:
                self.state["active"] -= 1
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any], np.ndarray]]:
    """An unsharded precomputed layer of 4x4x2 chunks behind a counting HTTP server."""
    ds = Dataset(tmp_path / "www" / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("c", "color", data_format="neuroglancerPrecomputed")
    data = np.random.default_rng(0).integers(0, 255, (128, 128, 64), dtype=np.uint8)
    layer.add_mag(1, chunk_shape=32).write(data)
    state: dict[str, Any] = {"lock": threading.Lock(), "active": 0, "peak": 0}
    handler = type("Handler", (_Counting,), {"state": state})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(tmp_path / "www"))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ds/c/", state, data
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_read_has_several_requests_in_flight(
    served: tuple[str, dict[str, Any], np.ndarray],
) -> None:
    url, state, data = served
    mag = Dataset.open(url).get_layer("c").get_mag(1)
    state["peak"] = 0
    np.testing.assert_array_equal(mag.read()[0], data)
    assert 1 < state["peak"] <= 8  # 32 chunk requests overlapped, at most 8 at a time


def test_parallel_reads_is_bounded_and_checked() -> None:
    assert HTTPKVStore("http://127.0.0.1:1/x", parallel_reads=3).parallel_reads == 3
    with pytest.raises(InvalidArgumentError):
        HTTPKVStore("http://127.0.0.1:1/x", parallel_reads=0)
