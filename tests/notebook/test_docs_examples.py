"""The Python examples of the getting-started page run as written, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_getting_started_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for number, block in enumerate(blocks):
        exec(compile(block, f"getting-started.md block {number}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "BoundingBox(topleft=(0, 0, 0), size=(128, 128, 32))" in out
    assert "['1', '2-2-1', '4-4-2']" in out and "['segmentation']" in out
    assert (tmp_path / "color_z10.png").is_file()
