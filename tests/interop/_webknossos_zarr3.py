"""Helpers for the Zarr v3 interop tests: the layer recipes both libraries build, and comparisons.

Each recipe is written once through the real `webknossos` package and once through ours, with the
expected voxels computed here in NumPy (independent of both libraries). Only public API of both
packages is used; nothing here is copied from webknossos-libs.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

with warnings.catch_warnings():
    # webknossos warns at import time about optional image readers that are not installed.
    warnings.simplefilter("ignore")
    import cluster_tools
    import webknossos as wk

import webknossos_like as wkl

ZARR3 = "zarr3"
VOXEL_SIZE = (4.0, 4.0, 40.0)
PROPERTIES = "datasource-properties.json"
Box = tuple[tuple[int, int, int], tuple[int, int, int]]

# mag-1 offset and size of the pyramid source: non-zero, unaligned with chunks and shards
PYRAMID_OFFSET = (40, 24, 8)
PYRAMID_SIZE = (200, 150, 40)


# -- small conversions that work on both libraries' objects ------------------------------------
def mag_tuple(mag: Any) -> tuple[int, int, int]:
    """`(x, y, z)` of a webknossos or webknossos_like Mag."""
    return tuple(int(v) for v in mag.to_list())  # type: ignore[return-value]


def box_tuple(box: Any) -> Box:
    """`(topleft, size)` of a webknossos or webknossos_like bounding box."""
    return (
        tuple(int(v) for v in box.topleft),  # type: ignore[return-value]
        tuple(int(v) for v in box.size),  # type: ignore[return-value]
    )


def mag_box(box: Box, mag: tuple[int, int, int]) -> Box:
    """The mag-1 box `box` widened outwards to multiples of `mag` (what a coarse mag covers)."""
    (x, y, z), (sx, sy, sz) = box
    start = tuple(o // m * m for o, m in zip((x, y, z), mag, strict=True))
    end = tuple(-(-(o + s) // m) * m for o, s, m in zip((x, y, z), (sx, sy, sz), mag, strict=True))
    return start, tuple(e - s for s, e in zip(start, end, strict=True))  # type: ignore[return-value]


def sequential_executor() -> Any:
    """webknossos' implicit executor spawns a process pool; keep its work in this process."""
    return cluster_tools.get_executor("sequential")


def properties(path: Path) -> dict[str, Any]:
    return json.loads((path / PROPERTIES).read_text())  # type: ignore[no-any-return]


def zarr_json(mag_dir: Path) -> dict[str, Any]:
    return json.loads((mag_dir / "zarr.json").read_text())  # type: ignore[no-any-return]


def stored_files(mag_dir: Path) -> list[str]:
    return sorted(p.relative_to(mag_dir).as_posix() for p in mag_dir.rglob("*") if p.is_file())


# -- what a layer should contain ----------------------------------------------------------------
@dataclass
class Expected:
    """The ground truth of one layer: metadata, and the mag-1 voxels `(c, x, y, z)` of its box."""

    category: str
    dtype: np.dtype[Any]
    num_channels: int
    bbox: Box
    mag1: np.ndarray  # (c, x, y, z) covering exactly `bbox`; zeros where nothing was written
    largest_segment_id: int | None = None
    mags: set[tuple[int, int, int]] = field(default_factory=set)
    # mag -> (compressed, chunk edge, shard edge); None = not checked (defaults of the writer)
    storage: dict[tuple[int, int, int], tuple[bool, int | None, int | None]] = field(
        default_factory=dict
    )
    # coarse mags written directly (not downsampled): mag -> (mag-1 offset, (c, x, y, z) data)
    direct: dict[tuple[int, int, int], tuple[tuple[int, int, int], np.ndarray]] = field(
        default_factory=dict
    )


def paste(canvas: np.ndarray, box: Box, data: np.ndarray, offset: tuple[int, int, int]) -> None:
    """Put `data` `(c, x, y, z)` written at mag-1 `offset` into `canvas`, which covers `box`."""
    start = tuple(o - b for o, b in zip(offset, box[0], strict=True))
    sx, sy, sz = data.shape[1:]
    canvas[:, start[0] : start[0] + sx, start[1] : start[1] + sy, start[2] : start[2] + sz] = data


# -- the recipes --------------------------------------------------------------------------------
def build(lib: Any, path: Path, *, default_format: bool = False) -> dict[str, Expected]:
    """The same layers written through `lib` (`wk` or `wkl`); returns the expectation per layer.

    * `color`: uint8, the writer's default chunk and compression, shard 128 (webknossos' default
      1024^3 shard makes every unaligned write rewrite 1 GiB; `test_we_write_into_a_webknossos_
      zarr3_dataset` covers it once); two writes, the second unaligned and outside the first, so
      the box grows. With `default_format=True` (webknossos
      only) no `data_format` is passed at all: webknossos' default must be Zarr v3.
    * `rgb`: 3 x uint8, chunk 16, shard 64, compressed.
    * `seg64`: uint64 segmentation with ids beyond 2**53 and an explicit largest_segment_id.
    * `pyramid`: uint8 written at a non-zero, unaligned offset, then `layer.downsample()`.
    * `mixed`: uint16, mag 1 uncompressed (shard 128), mag 2-2-1 compressed (written directly).
    """
    is_wk = lib is wk
    rng = np.random.default_rng(7 if is_wk else 8)
    ds = lib.Dataset(path, voxel_size=VOXEL_SIZE)
    fmt = {} if default_format else {"data_format": ZARR3}
    grow = {"allow_resize": True, "allow_unaligned": True} if is_wk else {}
    out: dict[str, Expected] = {}

    # color: default storage settings, a write that grows the box, an unaligned write
    first_offset, first = (32, 16, 8), rng.integers(1, 256, (1, 64, 48, 24), dtype=np.uint8)
    second_offset, second = (101, 70, 37), rng.integers(1, 256, (1, 29, 21, 13), dtype=np.uint8)
    color = ds.add_layer("color", "color", dtype="uint8", **fmt)
    color_mag = color.add_mag(1, shard_shape=128)
    color_mag.write(first[0], absolute_offset=first_offset, **grow)
    color_mag.write(second[0], absolute_offset=second_offset, **grow)
    box: Box = ((32, 16, 8), (130 - 32, 91 - 16, 50 - 8))
    canvas = np.zeros((1, *box[1]), dtype=np.uint8)
    paste(canvas, box, first, first_offset)
    paste(canvas, box, second, second_offset)
    out["color"] = Expected(
        "color",
        np.dtype("uint8"),
        1,
        box,
        canvas,
        mags={(1, 1, 1)},
        storage={(1, 1, 1): (True, 32, 128)},
    )

    # rgb: 3 channels, small chunks and shards
    rgb_offset = (0, 64, 32)
    rgb_data = rng.integers(0, 256, (3, 40, 30, 20), dtype=np.uint8)
    rgb = ds.add_layer("rgb", "color", dtype="uint8", num_channels=3, **fmt)
    rgb.add_mag(1, chunk_shape=16, shard_shape=64, compress=True).write(
        rgb_data, absolute_offset=rgb_offset, **grow
    )
    out["rgb"] = Expected(
        "color",
        np.dtype("uint8"),
        3,
        (rgb_offset, (40, 30, 20)),
        rgb_data,
        mags={(1, 1, 1)},
        storage={(1, 1, 1): (True, 16, 64)},
    )

    # seg64: uint64 ids beyond 2**53 (float64 would round them)
    seg_offset = (128, 0, 0)
    seg_data = rng.integers(2**60, 2**63, (1, 32, 32, 32), dtype=np.uint64)
    seg_data[0, 3, 4, 5] = 2**63 + 12_345  # the known maximum, not representable as float64
    largest = int(seg_data.max())
    seg = ds.add_layer("seg64", "segmentation", dtype="uint64", largest_segment_id=largest, **fmt)
    seg.add_mag(1, chunk_shape=32, shard_shape=128, compress=True).write(
        seg_data[0], absolute_offset=seg_offset, **grow
    )
    out["seg64"] = Expected(
        "segmentation",
        np.dtype("uint64"),
        1,
        (seg_offset, (32, 32, 32)),
        seg_data,
        largest_segment_id=largest,
        mags={(1, 1, 1)},
        storage={(1, 1, 1): (True, 32, 128)},
    )

    # pyramid: non-zero unaligned offset, then the library's own downsampling
    pyramid_data = rng.integers(0, 256, (1, *PYRAMID_SIZE), dtype=np.uint8)
    pyramid = ds.add_layer("pyramid", "color", dtype="uint8", **fmt)
    pyramid.add_mag(1, chunk_shape=32, shard_shape=128, compress=True).write(
        pyramid_data[0], absolute_offset=PYRAMID_OFFSET, **grow
    )
    if is_wk:
        with sequential_executor() as executor:
            # webknossos would give the new mags its default 1024^3 shards (slow to fill)
            pyramid.downsample(shard_shape=128, executor=executor)
    else:
        pyramid.downsample()
    out["pyramid"] = Expected(
        "color",
        np.dtype("uint8"),
        1,
        (PYRAMID_OFFSET, PYRAMID_SIZE),
        pyramid_data,
        mags={mag_tuple(m) for m in pyramid.mags},
        storage={(1, 1, 1): (True, 32, 128)},
    )

    # mixed: an uncompressed mag 1 and a compressed mag 2-2-1, each written directly
    mixed_offset = (64, 32, 16)
    mixed_1 = rng.integers(0, 65_536, (1, 64, 40, 20), dtype=np.uint16)
    mixed_2 = rng.integers(0, 65_536, (1, 32, 20, 20), dtype=np.uint16)
    mixed = ds.add_layer("mixed", "color", dtype="uint16", **fmt)
    mixed.add_mag(1, chunk_shape=32, shard_shape=128, compress=False).write(
        mixed_1[0], absolute_offset=mixed_offset, **grow
    )
    mixed.add_mag("2-2-1", chunk_shape=32, shard_shape=128, compress=True).write(
        mixed_2[0], absolute_offset=mixed_offset, **grow
    )
    out["mixed"] = Expected(
        "color",
        np.dtype("uint16"),
        1,
        (mixed_offset, (64, 40, 20)),
        mixed_1,
        mags={(1, 1, 1), (2, 2, 1)},
        storage={(1, 1, 1): (False, 32, 128), (2, 2, 1): (True, 32, 128)},
        direct={(2, 2, 1): (mixed_offset, mixed_2)},
    )
    return out


# -- reading the same box through either library ------------------------------------------------
def read_box(layer: Any, mag: tuple[int, int, int], box: Box) -> np.ndarray:
    """`(c, x, y, z)` of the mag-aligned `box` from one mag of a webknossos or ours layer."""
    topleft, size = mag_box(box, mag)
    view = layer.get_mag(mag)
    return np.asarray(view.read(absolute_offset=topleft, size=size))


def storage_of_wk(layer: Any, mag: tuple[int, int, int]) -> tuple[bool, int, int]:
    info = layer.get_mag(mag).info
    return bool(info.compression_mode), int(info.chunk_shape.x), int(info.shard_shape.x)


def storage_of_ours(layer: Any, mag: tuple[int, int, int]) -> tuple[bool, int, int]:
    info = layer.get_mag(mag).info
    return bool(info.compressed), int(info.chunk_shape.x), int(info.shard_shape.x)


__all__ = [
    "PROPERTIES",
    "PYRAMID_OFFSET",
    "PYRAMID_SIZE",
    "VOXEL_SIZE",
    "ZARR3",
    "Expected",
    "box_tuple",
    "build",
    "mag_box",
    "mag_tuple",
    "properties",
    "read_box",
    "sequential_executor",
    "storage_of_ours",
    "storage_of_wk",
    "stored_files",
    "wk",
    "wkl",
    "zarr_json",
]
