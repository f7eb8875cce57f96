"""White-box check of the mechanism: files are written as temp files, synced, renamed into place.

A whole workflow runs in every format (create the dataset, add layers and mags, write - growing
the layer -, downsample, compress) while `open`, `os.open`, `os.fsync`, `os.replace` and
`os.rename` are recorded. Inside the dataset folder:
- nothing but a temp file (`.wkl-tmp-*`, or a file inside a `.wkl-tmp-*` scratch folder) or a
  lock file is ever opened for writing by Python - so no reader can see a half-written file;
- every rename moves a temp path onto its final name on the same file system, inside the
  dataset;
- every temp file that Python wrote is fsynced before it is renamed.
The native `wkw` library writes its scratch shards and (by design, for raw mags) modifies raw
shard files in place; those writes do not pass through Python and are not seen here (the crash
tests cover them).
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import Dataset

from ._plan import TEMP_PREFIX

PRECOMPUTED = "neuroglancerPrecomputed"
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# An unnamed file in a folder (filelock 4 probes the lock's folder this way): no reader sees it.
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)


class Recorder:
    """Python-level file writes, fsyncs and renames under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        self.opened: list[str] = []
        self.synced: set[str] = set()
        #: (source, target, source is a folder, both on the same file system)
        self.renames: list[tuple[str, str, bool, bool]] = []

    def inside(self, path: Any) -> str | None:
        if isinstance(path, int):
            return None
        real = os.path.realpath(os.fspath(path))
        return real if os.path.commonpath([self.root, real]) == self.root else None


@pytest.fixture
def recorder(fast_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    rec = Recorder(fast_tmp)
    real_open, real_os_open = builtins.open, os.open
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        path = rec.inside(file)
        if path and any(c in mode for c in "wax+"):
            rec.opened.append(path)
        return real_open(file, mode, *args, **kwargs)

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        full = rec.inside(path) if kwargs.get("dir_fd") is None else None
        anonymous = _O_TMPFILE and flags & _O_TMPFILE == _O_TMPFILE
        if full and flags & _WRITE_FLAGS and not anonymous:
            rec.opened.append(full)
        return real_os_open(path, flags, *args, **kwargs)

    def fsync(fd: Any) -> None:
        number = fd if isinstance(fd, int) else fd.fileno()
        target = os.readlink(f"/proc/self/fd/{number}")
        rec.synced.add(os.path.realpath(target))
        real_fsync(fd)

    def recorded(real: Any) -> Any:
        def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            source, target = rec.inside(src), rec.inside(dst)
            if source or target:
                same_fs = (
                    os.stat(os.path.dirname(os.fspath(src))).st_dev
                    == os.stat(os.path.dirname(os.fspath(dst))).st_dev
                )
                rec.renames.append(
                    (
                        source or os.fspath(src),
                        target or os.fspath(dst),
                        os.path.isdir(src),
                        same_fs,
                    )
                )
            real(src, dst, *args, **kwargs)

        return rename

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", recorded(real_replace))
    monkeypatch.setattr(os, "rename", recorded(real_rename))
    yield rec


def _is_temp(path: str) -> bool:
    return any(part.startswith(TEMP_PREFIX) for part in Path(path).parts)


def _workflow(root: Path, fmt: str) -> None:
    ds = Dataset(root / "ds", voxel_size=(1, 1, 1))
    if fmt.startswith("wkw"):
        layer = ds.add_layer("l", "color")
        mag = layer.add_mag(1, chunk_shape=16, shard_shape=32, compress=fmt == "wkw_lz4")
    else:
        category, dtype = (
            ("segmentation", "uint32") if fmt == "precomputed_cseg" else ("color", "uint8")
        )
        layer = ds.add_layer("l", category, dtype=dtype, data_format=PRECOMPUTED)
        mag = layer.add_mag(
            1,
            chunk_shape=16,
            compress=fmt != "precomputed_raw",
            sharded=fmt == "precomputed_sharded",
        )
    rng = np.random.default_rng(0)
    for offset in ((0, 0, 0), (40, 8, 0), (8, 40, 24)):  # unaligned, growing the layer
        mag.write(rng.integers(1, 9, (24, 24, 24)).astype(mag.dtype), absolute_offset=offset)
    layer.downsample(coarsest_mag=2)
    if fmt == "wkw_raw":
        mag.compress()
    ds.name = "renamed"


@pytest.mark.parametrize(
    "fmt", ["wkw_raw", "wkw_lz4", "precomputed_raw", "precomputed_cseg", "precomputed_sharded"]
)
def test_files_are_written_as_temp_files_and_renamed(
    fmt: str, fast_tmp: Path, recorder: Recorder
) -> None:
    _workflow(fast_tmp, fmt)
    assert recorder.renames, "nothing was renamed into place"
    assert recorder.opened and recorder.synced, "the recorder saw no writes"
    in_place = [p for p in recorder.opened if not _is_temp(p) and not p.endswith(".lock")]
    assert not in_place, f"files written in place: {sorted(set(in_place))[:5]}"
    for source, target, is_dir, same_fs in recorder.renames:
        assert recorder.inside(target), f"rename to {target}, outside the dataset"
        if _is_temp(target):
            # Within scratch space, or retiring a live folder (compress() swaps mags this way;
            # its crash window is test_crash_points.py::test_crash_during_compress).
            assert _is_temp(source) or is_dir, f"{source} moved away to {target}"
            continue
        assert _is_temp(source), f"rename from a non-temp path {source}"
        assert same_fs, f"{source} -> {target} crosses file systems: not atomic"
        python_written = source in recorder.opened
        if python_written and not is_dir:
            assert source in recorder.synced, f"{source} renamed onto {target} without fsync"
    kinds = {Path(target).name for _, target, _, _ in recorder.renames}
    assert "datasource-properties.json" in kinds
    if fmt.startswith("precomputed"):
        assert "info" in kinds
