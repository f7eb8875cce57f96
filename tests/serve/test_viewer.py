"""Viewer state and URL, the packaged Neuroglancer client, and the `wkl view` / `wkl serve` commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
from typing import Any

import pytest

from webknossos_like import BoundingBox, Dataset
from webknossos_like.serve import ServerHandle, client_dir, serve_dataset, viewer_state
from webknossos_like.serve.viewer import CLIENT_SHIM, ViewerNotAvailableError, patch_index

from .conftest import OFFSET, SHAPE, VOXEL_SIZE, Sample, fetch


def state_of(url: str) -> dict[str, Any]:
    """The JSON state in a viewer URL."""
    fragment = url.split("#!", 1)[1]
    state: dict[str, Any] = json.loads(urllib.parse.unquote(fragment))
    return state


def test_viewer_url_state(server: ServerHandle) -> None:
    url = server.viewer_url()
    assert url.startswith(f"{server.url}/v/wkl/#!")
    state = state_of(url)
    assert state["dimensions"] == {
        "x": [11.24e-9, "m"],
        "y": [11.24e-9, "m"],
        "z": [25e-9, "m"],
    }
    assert state["position"] == [o + s / 2 for o, s in zip(OFFSET, SHAPE, strict=True)]
    layers = {layer["name"]: layer for layer in state["layers"]}
    assert {name: layer["type"] for name, layer in layers.items()} == {
        "color": "image",
        "segmentation": "segmentation",
        "sharded": "segmentation",
        "plain": "image",
    }
    assert layers["color"]["source"] == f"precomputed://{server.url}/color"
    assert state["layout"] == "4panel"


def test_zoom_fits_the_data() -> None:
    class Layer:
        name, viewer_type, available = "a", "image", True
        bounding_box = BoundingBox((0, 0, 0), (1000, 500, 10))

    state = viewer_state(
        [Layer()], (4.0, 4.0, 40.0), "http://h:1", layout="xy", viewport=(1000, 500)
    )
    # 1000 voxels across 1000 pixels (plus a margin): about one voxel per pixel.
    assert 1.0 < float(state["crossSectionScale"]) < 1.2
    with pytest.raises(ValueError, match="layout"):
        viewer_state([Layer()], (1, 1, 1), "http://h:1", layout="5panel")


def test_client_files_are_served(server: ServerHandle) -> None:
    folder = client_dir()
    assert folder is not None, "the neuroglancer package (extra [viewer]) is not installed"
    index = fetch(server, "/v/wkl/")
    assert index.status == 200 and index.headers["content-type"].startswith("text/html")
    # The packaged page, with the shim that adapts the client to this server first in <head>.
    assert index.body == patch_index((folder / "index.html").read_bytes())
    assert index.body.index(CLIENT_SHIM.encode()) < index.body.index(b"<script defer")
    wasm = next(p.name for p in folder.iterdir() if p.suffix == ".wasm")
    script = next(
        p.name for p in folder.iterdir() if p.name.startswith("main.") and p.suffix == ".js"
    )
    assert fetch(server, f"/v/wkl/{wasm}").headers["content-type"] == "application/wasm"
    reply = fetch(server, f"/v/wkl/{script}", headers={"Accept-Encoding": "gzip"})
    assert reply.headers["content-type"].startswith("text/javascript")
    assert reply.headers["content-encoding"] == "gzip"
    assert fetch(server, "/v/other-token/index.html").status == 404
    assert fetch(server, "/events/wkl?c=1").status == 404  # answered at once, never held open


def test_viewer_needs_the_client(sample: Sample) -> None:
    with serve_dataset(sample.path, viewer=False) as handle:
        with pytest.raises(ViewerNotAvailableError, match=r"webknossos_like\[viewer\]"):
            handle.viewer_url()
        assert fetch(handle, "/v/wkl/").status == 404


def _run_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "webknossos_like", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_wkl_view_prints_a_working_url_and_stops_on_ctrl_c(sample: Sample) -> None:
    process = _run_cli("view", str(sample.path), "--quiet", "--exit-after", "60")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/v/wkl/#!" in url
        base = url.split("/v/wkl/")[0]
        parsed = urllib.parse.urlsplit(base)
        handle = _Address(parsed.hostname or "", parsed.port or 0)
        assert fetch(handle, "/v/wkl/").status == 200
        assert fetch(handle, "/segmentation/info").status == 200
        assert {layer["name"] for layer in state_of(url)["layers"]} == {
            "color",
            "segmentation",
            "sharded",
            "plain",
        }
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_wkl_serve_exits_by_itself(sample: Sample) -> None:
    process = _run_cli("serve", str(sample.path), "--exit-after", "0.5")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "precomputed://http://127.0.0.1:" in out and "/color" in out


def test_wkl_serve_reports_errors_in_one_line(tmp_path: object) -> None:
    process = _run_cli("serve", f"{tmp_path}/missing")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2 and err.startswith("wkl: error:") and "Traceback" not in err


def test_dataset_methods(sample: Sample) -> None:
    dataset = Dataset.open(sample.path, read_only=True)
    if not hasattr(Dataset, "serve"):
        pytest.skip("Dataset.serve()/view() are not wired up yet")
    with dataset.serve() as handle:
        assert fetch(handle, "/color/info").status == 200
    from webknossos_like.serve import stop_all

    url = dataset.view()
    try:
        assert url == dataset.view()  # one server per dataset, reused
        assert state_of(url)["dimensions"]["z"] == [pytest.approx(VOXEL_SIZE[2] * 1e-9), "m"]
    finally:
        stop_all()


class _Address:
    """Just enough of a `ServerHandle` for `fetch`."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
