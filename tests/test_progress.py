"""Progress bars: clean text off a terminal, specific labels, and large single reads and writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import Dataset, parallel
from webknossos_like.ops.check import check_dataset_readable
from webknossos_like.parallel import run_tasks, set_progress


@pytest.fixture
def forced() -> Iterator[None]:
    """Bars forced on (`always`) for one test."""
    set_progress("always")
    try:
        yield
    finally:
        set_progress("auto")


class _Recorder:
    """Stands in for a tqdm bar: records its label and how far it got."""

    def __init__(self, seen: list[tuple[str, int, int]], desc: str, total: int) -> None:
        self.seen, self.desc, self.total, self.done = seen, desc, total, 0

    def update(self, n: int) -> None:
        self.done += n

    def close(self) -> None:
        self.seen.append((self.desc, self.done, self.total))


@pytest.fixture
def bars(forced: None, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """`(label, steps done, total)` of every bar shown during the test."""
    seen: list[tuple[str, int, int]] = []

    def make(display: str, desc: str, total: int) -> Any:
        return _Recorder(seen, desc, total)

    monkeypatch.setattr(parallel, "_make_bar", make)
    return seen


def test_forced_bar_off_a_terminal_is_plain_text(
    forced: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run_tasks(lambda x: x, list(range(5)), desc="Working hard")
    err = capsys.readouterr().err
    assert err.startswith("Working hard: 5/5 in ") and err.endswith(" s\n")
    assert "\x1b[" not in err and "\r" not in err, "no terminal control in logs and files"


def test_auto_shows_nothing_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    set_progress("auto")
    run_tasks(lambda x: x, list(range(5)), desc="Working hard")
    assert capsys.readouterr() == ("", "")


def test_auto_in_a_jupyter_kernel_shows_a_widget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_in_jupyter", lambda: True)
    monkeypatch.setattr(parallel, "_widgets_available", lambda: True)
    set_progress("auto")
    assert parallel._display(5) == "widget"
    monkeypatch.setattr(parallel, "_widgets_available", lambda: False)
    assert parallel._display(5) == "text"  # a tqdm text bar, redrawn in place by the notebook
    set_progress("never")
    try:
        assert parallel._display(5) is None
    finally:
        set_progress("auto")


def test_nested_work_draws_one_bar(bars: list[tuple[str, int, int]]) -> None:
    run_tasks(lambda x: run_tasks(lambda y: y, [1, 2, 3], desc="inner"), [1, 2], desc="outer")
    assert bars == [("outer", 2, 2)]


def _small_shards(tmp_path: Path) -> Dataset:
    dataset = Dataset(tmp_path / "ds", voxel_size=(11, 11, 25))
    layer = dataset.add_layer("color", "color", dtype="uint8")
    layer.add_mag(1, chunk_shape=8, shard_shape=16)
    return dataset


def test_bars_name_what_they_do(tmp_path: Path, bars: list[tuple[str, int, int]]) -> None:
    dataset = _small_shards(tmp_path)
    layer = dataset.get_layer("color")
    data = (np.arange(64 * 64 * 16) % 251).astype(np.uint8).reshape(64, 64, 16)
    layer.get_mag(1).write(data, absolute_offset=(0, 0, 0))
    layer.downsample_mag(1, (2, 2, 1))
    copy = Dataset(tmp_path / "copy", voxel_size=(11, 11, 25))
    copy.add_layer_as_copy(layer)
    back = layer.get_mag(1).read()
    raw = dataset.add_layer("raw", "color", dtype="uint8")
    raw.add_mag(1, chunk_shape=8, shard_shape=16, compress=False).write(data)
    raw.get_mag(1).compress()
    seg = dataset.add_layer("seg", "segmentation", dtype="uint32")
    seg.add_mag(1, chunk_shape=8, shard_shape=16).write(data.astype(np.uint32))
    seg.refresh_largest_segment_id()
    check_dataset_readable(dataset)
    labels = [label for label, _, _ in bars]
    assert "Compressing raw mag 1" in labels
    assert "Scanning seg for the largest segment id" in labels
    assert "Checking color mag 2-2-1" in labels
    assert "Writing color mag 1" in labels
    assert "Downsampling color to 2-2-1" in labels
    assert "Copying layer color mag 1" in labels
    assert "Reading color mag 1" in labels
    assert all(done == total for _, done, total in bars), bars
    np.testing.assert_array_equal(back[0], data)


def test_a_write_advances_per_shard_and_a_small_read_is_not_split(
    tmp_path: Path, bars: list[tuple[str, int, int]]
) -> None:
    mag = _small_shards(tmp_path).get_layer("color").get_mag(1)
    data = np.random.default_rng(1).integers(0, 255, (40, 33, 20), dtype=np.uint8)
    mag.write(data, absolute_offset=(5, 7, 3))
    assert bars == [("Writing color mag 1", 3 * 3 * 2, 3 * 3 * 2)]
    # A read this small ends long before a bar would appear (0.5 s): it is not split.
    read = mag.read(absolute_offset=(5, 7, 3), size=(40, 33, 20))
    assert len(bars) == 1
    np.testing.assert_array_equal(read[0], data)


def test_one_large_read_advances_per_shard(
    tmp_path: Path, bars: list[tuple[str, int, int]]
) -> None:
    """A read of more than `_SMALL_READ_VOXELS` shows a bar with one step per shard."""
    from webknossos_like.dataset.view import _SMALL_READ_VOXELS

    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = dataset.add_layer("color", "color").add_mag(1, chunk_shape=32, shard_shape=64)
    size = (160, 160, 176)
    assert size[0] * size[1] * size[2] > _SMALL_READ_VOXELS
    data = np.random.default_rng(2).integers(0, 255, size, dtype=np.uint8)
    mag.write(data, absolute_offset=(0, 0, 0))
    read = mag.read(size, absolute_offset=(0, 0, 0))
    assert bars[-1] == ("Reading color mag 1", 27, 27)  # 3 x 3 x 3 shards of 64^3
    np.testing.assert_array_equal(read[0], data)


def test_no_split_when_bars_are_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mag = _small_shards(tmp_path).get_layer("color").get_mag(1)
    calls: list[Any] = []
    monkeypatch.setattr(parallel, "_make_bar", lambda *args: calls.append(args))
    set_progress("never")
    try:
        mag.write(np.ones((40, 40, 20), dtype=np.uint8), absolute_offset=(0, 0, 0))
        assert mag.read().sum() == 40 * 40 * 20
    finally:
        set_progress("auto")
    assert calls == []


def test_forced_progress_lines_come_at_intervals(
    forced: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "_LOG_INTERVAL", 0.0)
    run_tasks(lambda x: x, list(range(3)), desc="Copying layer color mag 1")
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] == ["Copying layer color mag 1: 1/3", "Copying layer color mag 1: 2/3"]
    assert lines[2].startswith("Copying layer color mag 1: 3/3 in ") and len(lines) == 3
