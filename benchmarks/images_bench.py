"""Image import workloads: a folder of uint8 TIFF slices to a WKW layer with `from_images`.

Full run: 512 slices of 1024^2 (the cached 512^3 image volume tiled 2x2 in x/y); quick runs
tile the smaller cube 4x4 (128 slices of 512^2). Ours (`webknossos_like`, sequential and on
`executors.threads(2)`) and the `webknossos` package on a sequential `cluster_tools` executor
write the same layout (chunk 32^3, shard 128^3, compressed); only `from_images` is timed. A
third row times decoding alone (our slice reader, nothing written) against our whole import:
its ratio is the share of the import spent decoding TIFF, which says what limits it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .data import load_volume
from .harness import OURS, Context, Group, Impl, Workload, register, register_group

CHUNK = 32
SHARD = 128
WORKERS = 2
FULL_XY = 1024


def _xy_tiles(ctx: Context) -> int:
    """How often the cached cube is tiled in x and y: 1024^2 slices in full runs, 4x otherwise."""
    edge = ctx.shape[0]
    return FULL_XY // edge if edge == 512 and not ctx.quick else 4


def _write_folder(ctx: Context, path: Path) -> None:
    """The input: one uncompressed TIFF per z, as a microscope writes them (untimed)."""
    import tifffile

    cube = load_volume(ctx.volume_path("image"))
    tiles = _xy_tiles(ctx)
    path.mkdir(parents=True)
    for z in range(cube.shape[2]):
        plane = np.tile(np.ascontiguousarray(cube[:, :, z].T), (tiles, tiles))
        tifffile.imwrite(path / f"slice_{z}.tif", plane)


def _disk_mib(path: Path) -> float:
    total = 0
    for folder, _, files in os.walk(path):
        total += sum(os.stat(os.path.join(folder, name)).st_blocks * 512 for name in files)
    return round(total / 2**20, 1)


def _import(library: str, folder: Path, target: Path, threads: bool) -> Any:
    """One `from_images` call; returns the dataset."""
    common: dict[str, Any] = dict(
        voxel_size=(1, 1, 1),
        layer_name="color",
        layer_category="color",
        data_format="wkw",
        chunk_shape=CHUNK,
        shard_shape=SHARD,
        compress=True,
    )
    if library == OURS:
        import webknossos_like as wkl

        if threads:
            with wkl.executors.threads(WORKERS) as executor:
                return wkl.Dataset.from_images(folder, target, executor=executor, **common)
        return wkl.Dataset.from_images(folder, target, **common)
    import webknossos as wk
    from cluster_tools import get_executor

    with get_executor("sequential") as executor:
        return wk.Dataset.from_images(folder, target, executor=executor, **common)


def _decode_only(folder: Path) -> int:
    """Read every slice through our reader, slab by slab, writing nothing; returns the voxels."""
    from webknossos_like.images import open_image_source

    source = open_image_source(folder)
    depth = source.info.size.z
    total = 0
    for start in range(0, depth, SHARD):
        total += source.read_slab(start, min(depth, start + SHARD)).size
    return total


def _impl(
    library: str, threads: bool = False, decode: bool = False, label: str | None = None
) -> Impl:
    def setup(ctx: Context) -> Any:
        folder = ctx.fixture(
            f"images-tiff-{ctx.shape[0]}-{_xy_tiles(ctx)}", lambda p: _write_folder(ctx, p)
        )
        # Untimed warm-up on a few slices: imports and first-call costs.
        warm = ctx.fresh_dir("warm-in")
        warm.mkdir()
        for name in sorted(os.listdir(folder))[:4]:
            shutil.copy(folder / name, warm / name)
        _import(library, warm, ctx.fresh_dir("warm-out"), threads)
        return SimpleNamespace(ctx=ctx, folder=folder, target=None)

    def prepare(state: Any) -> None:
        if state.target is not None:
            shutil.rmtree(state.target, ignore_errors=True)
        state.target = state.ctx.fresh_dir("imported")

    def run(state: Any) -> Any:
        if decode:
            return _decode_only(state.folder)
        return _import(library, state.folder, state.target, threads)

    def check(state: Any, result: Any) -> dict[str, Any] | None:
        import tifffile

        tiles = _xy_tiles(state.ctx)
        edge = state.ctx.shape[0] * tiles
        if decode:
            if result != edge * edge * state.ctx.shape[2]:
                raise AssertionError(f"decoded {result} voxels")
            return None
        import webknossos_like as wkl

        layer = wkl.Dataset.open(state.target).get_layer("color")
        if layer.bounding_box.size.to_tuple() != (edge, edge, state.ctx.shape[2]):
            raise AssertionError(f"layer box {layer.bounding_box}")
        for z in (0, state.ctx.shape[2] // 2, state.ctx.shape[2] - 1):
            expected = tifffile.imread(state.folder / f"slice_{z}.tif").T
            got = layer.get_mag(1).read(absolute_offset=(0, 0, z), size=(edge, edge, 1))[0, :, :, 0]
            if not np.array_equal(got, expected):
                raise AssertionError(f"slice {z} differs from its TIFF")
        return {"disk_mib": _disk_mib(state.target)}

    return Impl(library, run, setup, prepare, check, label=label)


register_group(
    Group(
        "images",
        "Images: import a folder of TIFF slices (from_images)",
        [
            "Input: one uncompressed uint8 TIFF per slice, 512 slices of 1024^2 in the full run "
            "(the cached 512^3 image volume tiled 2x2 in x and y; 512 MiB), 128 slices of 512^2 "
            "with --quick. Both libraries write a compressed WKW layer with chunk 32^3 and "
            "shard 128^3 (the same on-disk layout; webknossos' default shard would hold the whole "
            "stack in memory): `Dataset.from_images(folder, target, voxel_size=(1, 1, 1), "
            'layer_name="color", layer_category="color", data_format="wkw", chunk_shape=32, '
            "shard_shape=128, compress=True, executor=...)`; webknossos 4.3.3 on "
            '`cluster_tools.get_executor("sequential")`. Only `from_images` is timed; each '
            "repetition writes a fresh target.",
            "The decode row reads every slice through our reader (tifffile), 128 slices per "
            "slab, and writes nothing; its peer is our whole sequential import, so the ratio is "
            "the share of the import spent decoding: the rest is WKW's LZ4HC compression and "
            "writing, which is what limits the import.",
            "Checked (untimed): the layer box is the stack's size and the first, middle and last "
            "slices equal their TIFF files.",
        ],
    )
)

register(
    Workload(
        "images.tiff-folder.sequential",
        "images",
        "TIFF folder to WKW, sequential",
        _impl(OURS),
        [_impl("webknossos", label="webknossos (sequential executor)")],
    )
)
register(
    Workload(
        "images.tiff-folder.threads",
        "images",
        f"TIFF folder to WKW, ours on {WORKERS} threads",
        _impl(OURS, threads=True),
        [_impl("webknossos", label="webknossos (sequential executor)")],
    )
)
register(
    Workload(
        "images.tiff-folder.decode-share",
        "images",
        "decode only (our reader, nothing written) vs our whole import",
        _impl(OURS, decode=True),
        [_impl(OURS, label="ours, whole import (sequential)")],
    )
)
