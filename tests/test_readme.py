"""The README's tour runs as written (so it never rots), and the demo builds a real dataset."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_readme_tour_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has a Python tour"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "BoundingBox(topleft=(64, 32, 0), size=(256, 256, 64))" in out
    assert "262143" in out
    ds = Dataset.open(tmp_path / "my_dataset")
    assert set(ds.layers) == {"color", "segmentation"}
    assert (ds.get_layer("color").get_mag(1)[64:128, 32:96, 10] == 0).all()


def test_readme_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    head = "\n".join(lines[:6])
    assert "make demo" in head and "make test" in head


def test_demo_builds_both_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "demo"
    assert main(["demo", str(target)]) == 0
    out = capsys.readouterr().out
    assert "WKW and precomputed read back identical: yes" in out
    wkw = Dataset.open(target / "wkw")
    pre = Dataset.open(target / "precomputed")
    seg = wkw.get_segmentation_layer("segmentation")
    labels = seg.get_mag(1).read()[0]
    assert len(np.unique(labels)) > 1000
    assert seg.largest_segment_id == int(labels.max())
    assert [m.to_layer_name() for m in seg.mags] == ["1", "2-2-1", "4-4-2"]
    assert pre.get_layer("segmentation").data_format == "neuroglancerPrecomputed"
    assert list(pre.get_layer("color").mags) == list(wkw.get_layer("color").mags)
    thumbnails = sorted(p.name for p in (target / "thumbnails").glob("*.png"))
    assert thumbnails == sorted(
        f"{layer}_{mag}.png"
        for layer in ("color", "segmentation")
        for mag in ("1", "2-2-1", "4-4-2")
    )
    # running it again replaces the previous output instead of failing
    assert main(["demo", str(target)]) == 0


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", os.fspath(tmp_path / "missing")]) == 2  # cannot open: a usage error
    err = capsys.readouterr().err
    assert err.startswith("wkl: error:") and err.count("\n") == 1 and "Traceback" not in err
