"""The documentation site builds with `mkdocs build --strict` (every warning is an error)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None,
    reason="mkdocs is not installed (pip install -e '.[docs]')",
)
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for page in (
        "index.html",
        "getting-started/index.html",
        "concepts/index.html",
        "notebooks/index.html",
        "formats/wkw/index.html",
        "formats/precomputed/index.html",
        "executors/index.html",
        "cli/index.html",
        "api/dataset/index.html",
        "api/notebook/index.html",
        "changelog/index.html",
        "examples/tour.ipynb",
    ):
        assert (site / page).is_file(), page
    api = (site / "api" / "dataset" / "index.html").read_text(encoding="utf-8")
    assert "add_layer_as_copy" in api and "get_buffered_slice_writer" in api  # from docstrings
    notebook_api = (site / "api" / "notebook" / "index.html").read_text(encoding="utf-8")
    assert "webknossos_like.notebook.thumbnail.thumbnail" in notebook_api
    assert "Changelog" in (site / "changelog" / "index.html").read_text(encoding="utf-8")
