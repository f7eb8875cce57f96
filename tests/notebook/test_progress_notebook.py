"""In a real Jupyter kernel, long operations show a progress widget by default (no text junk)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs the [docs] extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="needs the [docs] extra (nbclient, ipykernel)")
pytest.importorskip("ipykernel", reason="needs the [docs] extra (ipykernel)")
pytest.importorskip("ipywidgets", reason="needs the [notebook] extra (ipywidgets)")

SLOW = """
import time
from webknossos_like.parallel import run_tasks

run_tasks(lambda x: time.sleep(0.2), list(range(6)), desc="Slow work")  # 1.2 s: a bar appears
run_tasks(lambda x: x, list(range(6)), desc="Quick work")  # done at once: no bar at all
"""
CELL = """
import numpy as np
import webknossos_like as wkl
from webknossos_like import parallel

parallel._BAR_DELAY = 0.0  # show even these quick operations

ds = wkl.Dataset("ds", voxel_size=(11, 11, 25))
layer = ds.add_layer("color", "color", dtype="uint8")
layer.add_mag(1, chunk_shape=8, shard_shape=16).write(
    np.ones((64, 64, 16), dtype=np.uint8), absolute_offset=(0, 0, 0)
)
layer.downsample_mag(1, (2, 2, 1))
"""


def _widget_labels(outputs: list[Any]) -> list[str]:
    """The text form of the widgets a cell displayed (a tqdm widget's starts with its label)."""
    return [
        out["data"].get("text/plain", "")
        for out in outputs
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]


def test_progress_widget_in_a_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WKL_PROGRESS", raising=False)
    cells = [nbformat.v4.new_code_cell(SLOW), nbformat.v4.new_code_cell(CELL)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    slow = " ".join(_widget_labels(notebook.cells[0].outputs))
    assert "Slow work" in slow and "Quick work" not in slow
    outputs = notebook.cells[1].outputs
    labels = " ".join(_widget_labels(outputs))
    assert "Writing color mag 1" in labels, outputs
    assert "Downsampling color to 2-2-1" in labels, outputs
    streams = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert "\x1b[" not in streams and "|" not in streams, "no text bars next to the widgets"
    assert not [out for out in outputs if out.output_type == "error"]
