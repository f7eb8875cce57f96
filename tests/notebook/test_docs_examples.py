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


# Code that starts processes: a process pool, or a Dask cluster of local worker processes.
_STARTS_PROCESSES = re.compile(r"processes\(|ProcessPoolExecutor|LocalCluster|\bClient\(")
_MAIN_GUARD = 'if __name__ == "__main__":'


def _guard_problems(block: str) -> bool:
    """Whether a snippet starts processes outside an `if __name__ == "__main__":` block."""
    lines = block.splitlines()
    starts = [i for i, line in enumerate(lines) if _STARTS_PROCESSES.search(line.split("#")[0])]
    if not starts:
        return False
    guard = next((i for i, line in enumerate(lines) if line.startswith(_MAIN_GUARD)), None)
    return guard is None or any(i < guard or not lines[i][:1].isspace() for i in starts)


def test_snippets_that_start_processes_have_a_main_guard() -> None:
    """`spawn` re-imports the script in each worker: unguarded pool code would run again there."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    offenders = [
        f"{page.relative_to(ROOT)} (python block {number})"
        for page in pages
        for number, block in enumerate(
            re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
        )
        if _guard_problems(block)
    ]
    assert not offenders, offenders
    assert _guard_problems("pool = wkl.executors.processes(2)\n")
    assert not _guard_problems(f"{_MAIN_GUARD}\n    pool = wkl.executors.processes(2)\n")
