"""`Dataset.view()` / `.serve()` in notebooks: clickable links, `public_url=`, Jupyter proxies."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from webknossos_like import Dataset
from webknossos_like.serve import (
    ViewerLink,
    jupyter_proxy_url,
    running_servers,
    serve_dataset,
    view_dataset,
)

from .conftest import Sample, fetch
from .test_browser import CHROMIUM, FLAGS


def _sources(url: str) -> list[str]:
    """The layer sources of a viewer URL's state."""
    fragment = urllib.parse.unquote(url.split("#!", 1)[1])
    return [layer["source"] for layer in json.loads(fragment)["layers"]]


@pytest.fixture
def own_copy(sample: Sample, tmp_path: Path) -> Iterator[Path]:
    """A copy of the sample (no server of other tests serves it); its servers stop afterwards."""
    before = set(map(id, running_servers()))
    path = tmp_path / "sample"
    shutil.copytree(sample.path, path, symlinks=True)
    yield path
    for handle in running_servers():
        if id(handle) not in before:
            handle.close()


def test_view_returns_a_link_that_is_still_the_url(own_copy: Path) -> None:
    dataset = Dataset.open(own_copy, read_only=True)
    link = dataset.view()
    assert isinstance(link, ViewerLink) and isinstance(link, str)
    assert link.url == link and type(link.url) is str
    assert link.startswith("http://127.0.0.1:") and "/v/wkl/#!" in link
    assert link == dataset.view()  # the server is reused
    assert link.server is not None and link.server.url in link
    shown = link._repr_html_()
    assert f'<a href="{html.escape(link.url, quote=True)}"' in shown
    assert 'target="_blank"' in shown and "Open sample in Neuroglancer" in shown
    embedded = link.iframe(height=400)._repr_html_()
    assert embedded.startswith("<iframe src=") and "height:400px" in embedded


def test_serve_handle_shows_its_viewer_link(sample: Sample) -> None:
    with Dataset.open(sample.path, read_only=True).serve() as handle:
        shown = handle._repr_html_()
        assert "<b>sample</b> serving" in shown and '<a href="http://127.0.0.1:' in shown
    assert "closed" in handle._repr_html_()


def test_public_url(own_copy: Path) -> None:
    link = view_dataset(own_copy, public_url="https://example.org/tunnel/")
    assert link.startswith("https://example.org/tunnel/v/wkl/#!")
    assert "precomputed://https://example.org/tunnel/color" in _sources(link)
    assert link.server is not None
    assert fetch(link.server, "/color/info").status == 200  # still served locally
    assert link.server.local_url.startswith("http://127.0.0.1:")
    assert view_dataset(own_copy, public_url="https://example.org/tunnel") == link
    other = view_dataset(own_copy, public_url="https://example.org/other")
    assert other.server is not link.server  # another public URL: another server


def test_jupyterhub_proxy_is_detected(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    assert jupyter_proxy_url(8000) == "/user/alice/proxy/8000"
    with serve_dataset(sample.path) as handle:
        base = f"/user/alice/proxy/{handle.port}"
        assert handle.url == base
        url = handle.viewer_url()
        assert url.startswith(f"{base}/v/wkl/#!")
        # Relative to the notebook's origin; the viewer page makes it absolute.
        assert f"precomputed://{base}/color" in _sources(url)
        assert fetch(handle, "/color/info").status == 200
    with serve_dataset(sample.path, jupyter_proxy=False) as handle:
        assert handle.url.startswith("http://127.0.0.1:")
    with serve_dataset(sample.path, public_url="https://hub.example.org/x") as handle:
        assert handle.url == "https://hub.example.org/x"
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    assert jupyter_proxy_url(8000) is None


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found; this test needs a real browser")
def test_origin_relative_sources_load_in_a_browser(sample: Sample) -> None:
    """A path-only public URL (as behind JupyterHub's proxy): the page resolves the data URLs."""
    assert CHROMIUM is not None
    with serve_dataset(sample.path, public_url="/") as server:
        url = server.viewer_url(layout="xy")
        assert url.startswith("/v/wkl/#!") and "precomputed:///color" in _sources(url)
        with tempfile.TemporaryDirectory() as profile:
            result = subprocess.run(
                [
                    CHROMIUM,
                    *FLAGS,
                    f"--user-data-dir={profile}",
                    "--dump-dom",
                    server.local_url + url,
                ],
                capture_output=True,
                text=True,
                timeout=90,
            )
        log = server.request_log
    assert result.returncode == 0, result.stderr[-3000:]
    lines = "\n".join(str(record) for record in log)
    assert any(r.path == "/color/info" and r.status == 200 for r in log), lines
    assert any(r.path.startswith("/color/1/") and r.status == 200 for r in log), lines
    assert not [r for r in log if r.status >= 400], lines
