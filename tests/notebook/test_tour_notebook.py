"""The tour notebook (docs/examples/tour.ipynb) runs top to bottom and shows pictures."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs the [docs] extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="needs the [docs] extra (nbclient, ipykernel)")
pytest.importorskip("ipykernel", reason="needs the [docs] extra (ipykernel)")

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "examples" / "tour.ipynb"


def test_tour_notebook_runs_and_shows_images(
    tmp_path: Path, notebook_methods: set[tuple[str, str]]
) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working folder
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert not errors, errors
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) >= 4, "every thumbnail cell shows an image"
    if ("Dataset", "_repr_html_") not in notebook_methods:  # wired: `ds` shows the table
        tables = [out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})]
        assert any("<b>Dataset</b>" in table for table in tables)
    # The notebook wrote where it was run, never next to itself.
    assert (tmp_path / "tour_output" / "sample" / "datasource-properties.json").is_file()
    assert (tmp_path / "tour_output" / "precomputed" / "segmentation" / "info").is_file()
    assert (tmp_path / "tour_output" / "segmentation_z16.png").is_file()
    assert not (NOTEBOOK.parent / "tour_output").exists()
