"""A real browser (headless Chromium) loads the `wkl view` URL and draws every layer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from webknossos_like.serve import serve_dataset

from .conftest import Sample

CHROMIUM = next(
    (
        found
        for found in (
            os.environ.get("WKL_CHROMIUM"),
            shutil.which("chromium"),
            shutil.which("chromium-browser"),
            shutil.which("google-chrome"),
        )
        if found
    ),
    None,
)
# The flags that give WebGL2 on these machines (see docs/serve.md).
FLAGS = [
    "--headless",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--no-sandbox",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,900",
    "--virtual-time-budget=20000",
]
_CHUNK = re.compile(r"^/([^/]+)/[^/]+/(-?\d+--?\d+_-?\d+--?\d+_-?\d+--?\d+|[0-9a-f]+\.shard)$")


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (apt-get install chromium, or set WKL_CHROMIUM); "
    "this test needs a real browser",
)
def test_neuroglancer_in_chromium_loads_every_layer(sample: Sample, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    screenshot = tmp_path / "viewer.png"
    with serve_dataset(sample.path) as server:  # stops by itself at the end
        url = server.viewer_url()
        with tempfile.TemporaryDirectory() as profile:
            result = subprocess.run(
                [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={screenshot}", url],
                capture_output=True,
                text=True,
                timeout=90,
            )
        log = server.request_log
    assert result.returncode == 0, result.stderr[-3000:]
    lines = "\n".join(str(record) for record in log)

    # The client loaded: its page and main script were fetched, then every layer's info.
    assert any(r.path == "/v/wkl/" and r.status == 200 for r in log), lines
    assert any(r.path.startswith("/v/wkl/main.") and r.status == 200 for r in log), lines
    # It asked for chunks of each layer (WKW layers encoded on the fly, precomputed passed
    # through, the sharded one with byte ranges), and nothing failed.
    chunks: dict[str, int] = {}
    for record in log:
        match = _CHUNK.match(record.path)
        if match and record.status in (200, 206):
            chunks[match.group(1)] = chunks.get(match.group(1), 0) + 1
    assert set(chunks) == {"color", "segmentation", "sharded", "plain"}, lines
    assert any(r.path.endswith(".shard") and r.status == 206 for r in log), lines
    failed = [r for r in log if r.status >= 400 and not r.path.startswith("/events/")]
    assert not failed, lines

    # The screenshot shows data: varied colours, and a textured (not flat) xy panel.
    pixels = np.asarray(Image.open(screenshot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (900, 1200)
    assert pixels.std() > 20, "the screenshot is blank"
    xy_panel = pixels[150:400, 150:450]  # the middle of the top-left (xy) panel
    assert xy_panel.std() > 15 and xy_panel.mean() > 60, "the xy panel shows no data"


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found; this test needs a real browser")
def test_viewer_page_does_not_say_disconnected(sample: Sample) -> None:
    """The packaged client syncs with a Python session over `/events/`; this server has none, and
    the page must not tell the user it lost one ("Disconnected from Python server")."""
    assert CHROMIUM is not None
    with serve_dataset(sample.path) as server:
        url = server.viewer_url(layout="xy")
        with tempfile.TemporaryDirectory() as profile:
            result = subprocess.run(
                [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                capture_output=True,
                text=True,
                timeout=90,
            )
        log = server.request_log
    assert result.returncode == 0, result.stderr[-3000:]
    dom = result.stdout
    lines = "\n".join(str(record) for record in log)
    assert "neuroglancer-rendered-data-panel" in dom, "the viewer did not start"
    assert any(r.path.startswith("/color/") and r.status == 200 for r in log), lines
    assert "Disconnected from Python server" not in dom
    # The client's "Connecting to Python server" line stays, hidden (display: none).
    for status in re.findall(r"<li([^>]*)>[^<]*Python server", dom):
        assert "display: none" in status, dom[-2000:]
    assert not [r for r in log if r.status >= 400], lines
