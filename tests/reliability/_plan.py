"""What the crash tests write and how they check it: formats, the region sequence, the data.

Shared by the test process and the writer child (`_writer.py`), so both derive the same regions
and voxels from a seed without sending arrays around.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from webknossos_like import BoundingBox, Dataset, MagView
from webknossos_like.properties import loads as loads_properties
from webknossos_like.storage.precomputed.info import loads_info

TEMP_PREFIX = ".wkl-tmp-"
LAYER = "data"
PRECOMPUTED = "neuroglancerPrecomputed"
# Regions live in the cells of a lattice of 64^3 cells: disjoint, so every reported write must
# read back exactly; each is 32..64 voxels per axis at a random place inside its cell.
CELL = 64
LATTICE = (8, 8, 4)


@dataclass(frozen=True)
class Format:
    """One storage configuration under test."""

    name: str
    category: str
    dtype: str
    data_format: str
    mag_kwargs: dict[str, Any]
    #: Create the layer with its final bounding box, so writes never grow it.
    presized: bool = False

    @property
    def is_precomputed(self) -> bool:
        return self.data_format == PRECOMPUTED


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("wkw_raw", "color", "uint8", "wkw", {"compress": False}),
        Format("wkw_lz4", "color", "uint8", "wkw", {"compress": True}),
        Format("zarr3_raw", "color", "uint8", "zarr3", {"compress": False, "shard_shape": 64}),
        Format("zarr3_zstd", "segmentation", "uint32", "zarr3", {"compress": True}),
        Format("precomputed_raw", "color", "uint8", PRECOMPUTED, {"compress": False}),
        Format("precomputed_cseg", "segmentation", "uint32", PRECOMPUTED, {"compress": True}),
        Format("precomputed_sharded", "color", "uint8", PRECOMPUTED, {"sharded": True}),
        Format(
            "precomputed_raw_presized", "color", "uint8", PRECOMPUTED, {"compress": False}, True
        ),
        Format(
            "precomputed_cseg_presized",
            "segmentation",
            "uint32",
            PRECOMPUTED,
            {"compress": True},
            True,
        ),
        Format(
            "precomputed_sharded_presized", "color", "uint8", PRECOMPUTED, {"sharded": True}, True
        ),
    )
}
#: The whole lattice, mag-1 voxels.
FULL_BOX = BoundingBox((0, 0, 0), tuple(CELL * n for n in LATTICE))


def setup_dataset(path: Path, fmt: Format) -> MagView:
    """A fresh dataset with one empty layer and mag 1 in the given format."""
    ds = Dataset(path, voxel_size=(1.0, 1.0, 1.0))
    layer = ds.add_layer(
        LAYER,
        fmt.category,
        dtype=fmt.dtype,
        data_format=fmt.data_format,
        bounding_box=FULL_BOX if fmt.presized else None,
    )
    mag = layer.add_mag(1, **fmt.mag_kwargs)
    if fmt.name.startswith("precomputed_cseg"):
        assert mag._backend.scale.encoding == "compressed_segmentation"
    return mag


@dataclass(frozen=True)
class Region:
    """One write of the sequence: mag-1 offset and size."""

    index: int
    offset: tuple[int, int, int]
    size: tuple[int, int, int]


def regions(seed: int, count: int | None = None) -> list[Region]:
    """The seeded write sequence: disjoint regions in a random order of lattice cells."""
    rng = np.random.default_rng([seed, 1])
    cells = [
        (x, y, z) for x in range(LATTICE[0]) for y in range(LATTICE[1]) for z in range(LATTICE[2])
    ]
    order = rng.permutation(len(cells))
    out = []
    for index, cell_index in enumerate(order[: len(cells) if count is None else count]):
        cell = np.array(cells[cell_index])
        size = rng.integers(32, CELL + 1, 3)
        offset = cell * CELL + rng.integers(0, CELL - size + 1)
        out.append(Region(index, tuple(int(v) for v in offset), tuple(int(v) for v in size)))
    return out


def region_data(seed: int, region: Region, fmt: Format) -> np.ndarray:
    """The `(x, y, z)` voxels of a region: never 0, so a missing write is visible."""
    rng = np.random.default_rng([seed, 2, region.index])
    if fmt.dtype == "uint8":
        return rng.integers(1, 256, region.size, dtype=np.uint8)
    # Segmentation: a few labels per region (compressible blocks), distinct between regions.
    labels = np.uint32(1000 * (region.index + 1)) + rng.integers(0, 5, region.size).astype(
        np.uint32
    )
    return labels.astype(fmt.dtype)


def temp_leftovers(root: Path) -> list[Path]:
    """Crash leftovers (`.wkl-tmp-*` files and folders) anywhere under `root`."""
    return [p for p in root.rglob(f"{TEMP_PREFIX}*")]


def check_dataset(path: Path, fmt: Format, seed: int, reported: int) -> list[str]:
    """Problems after a crash: metadata must parse, reported writes read back intact.

    `reported` writes (indices 0..reported-1) returned in the writer; the next one may have been
    under way: it may hold anything, but reading it (and the whole mag) must not raise.
    """
    problems: list[str] = []
    props_file = path / "datasource-properties.json"
    try:
        text = props_file.read_text(encoding="utf-8")
        json.loads(text)
        loads_properties(text, path=props_file)
    except Exception as exc:  # every failure is a finding, reported as text
        return [f"properties JSON does not parse: {type(exc).__name__}: {exc}"]
    if fmt.data_format == "zarr3":
        for meta in (path / LAYER / "zarr.json", path / LAYER / "1" / "zarr.json"):
            try:
                json.loads(meta.read_text(encoding="utf-8"))
            except Exception as exc:
                return [f"{meta.name} does not parse: {type(exc).__name__}: {exc}"]
    if fmt.is_precomputed:
        info_file = path / LAYER / "info"
        try:
            loads_info(info_file.read_bytes(), path=info_file)
        except Exception as exc:
            return [f"info does not parse: {type(exc).__name__}: {exc}"]
    try:
        layer = Dataset.open(path).get_layer(LAYER)
        mag = layer.get_mag(1)
        box = layer.bounding_box
    except Exception as exc:
        return [f"dataset does not open: {type(exc).__name__}: {exc}"]
    plan = regions(seed, reported + 1)
    for region in plan[:reported]:
        try:
            got = mag.read(absolute_offset=region.offset, size=region.size)
        except Exception as exc:
            problems.append(
                f"write {region.index} {region}: read raised {type(exc).__name__}: {exc}"
            )
            continue
        expected = region_data(seed, region, fmt)
        if not np.array_equal(got[0], expected):
            lost = int((got[0] != expected).sum())
            problems.append(f"write {region.index} {region}: {lost} voxels differ after the crash")
        if not box.contains_bbox(BoundingBox(region.offset, region.size)):
            problems.append(f"write {region.index} {region}: outside the layer box {box}")
    for extra in plan[reported:]:
        try:
            mag.read(absolute_offset=extra.offset, size=extra.size)
        except Exception as exc:
            problems.append(
                f"in-flight write {extra.index}: read raised {type(exc).__name__}: {exc}"
            )
    try:
        if not box.is_empty():
            mag.read()
        list(mag.get_bounding_boxes_on_disk())
    except Exception as exc:
        problems.append(f"reading the whole mag raised {type(exc).__name__}: {exc}")
    return problems


def iter_files(root: Path) -> Iterator[tuple[str, int, int]]:
    """(relative path, mtime_ns, size) of every file and folder under `root`."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            yield os.path.relpath(full, root), st.st_mtime_ns, st.st_size
