"""Neuroglancer precomputed workloads: full-volume write/read and random 64^3 reads.

Unsharded volumes with chunk 64^3: the image uint8 with `raw` encoding and the segmentation
uint32 with `compressed_segmentation` (block 8^3), both without gzip, written and read through
ours (`webknossos_like`, `data_format="neuroglancerPrecomputed"`), tensorstore
(`neuroglancer_precomputed` driver), cloud-volume and neuroglancer-scripts (chunk by chunk via
its `PrecomputedIO`). Libraries are imported inside the adapters only.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .data import DTYPES, load_volume, random_boxes
from .harness import (
    OURS,
    Context,
    Group,
    Impl,
    Library,
    Workload,
    register,
    register_group,
    register_library,
)

CHUNK = 64
READ_BOX = 64
CSEG_BLOCK = 8
# volume -> (layer folder, layer category / precomputed type, encoding)
LAYERS = {
    "image": ("img", "color", "image", "raw"),
    "segmentation": ("seg", "segmentation", "segmentation", "compressed_segmentation"),
}
ENCODING_TITLES = {"raw": "raw", "compressed_segmentation": "compressed_segmentation"}

VOLUME_TITLES = {"image": "image uint8", "segmentation": "segmentation uint32"}

Box = tuple[int, int, int]


def _disk_mib(path: Path) -> float:
    """Allocated bytes of the files under `path`, in MiB."""
    total = 0
    for folder, _, files in os.walk(path):
        total += sum(os.stat(os.path.join(folder, name)).st_blocks * 512 for name in files)
    return round(total / 2**20, 1)


def _info(volume: str, shape: Box) -> dict[str, Any]:
    """The precomputed `info` every peer writes (same as the one ours writes)."""
    _, _, kind, encoding = LAYERS[volume]
    scale: dict[str, Any] = {
        "key": "1",
        "size": list(shape),
        "resolution": [1.0, 1.0, 1.0],
        "chunk_sizes": [[CHUNK, CHUNK, CHUNK]],
        "encoding": encoding,
        "voxel_offset": [0, 0, 0],
    }
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [CSEG_BLOCK] * 3
    return {
        "@type": "neuroglancer_multiscale_volume",
        "type": kind,
        "data_type": DTYPES[volume].name,
        "num_channels": 1,
        "scales": [scale],
    }


# -- one adapter per library: create / open / write / read the scale "1" of a volume --------------
class Adapter:
    """How one library creates, opens, writes and reads an unsharded precomputed volume.

    `path` is the dataset folder; the precomputed volume (`info` + scale "1") is `path/<layer>`.
    `read` returns `(1, x, y, z)` (a view is fine).
    """

    library = ""
    label = ""
    slug = ""

    def create(self, path: Path, volume: str, shape: Box) -> Any:
        raise NotImplementedError

    def open(self, path: Path, volume: str) -> Any:
        raise NotImplementedError

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        raise NotImplementedError

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        raise NotImplementedError


class OursAdapter(Adapter):
    library = OURS
    label = OURS
    slug = "ours"

    def create(self, path: Path, volume: str, shape: Box) -> Any:
        import webknossos_like as wkl

        name, category, _, encoding = LAYERS[volume]
        dataset = wkl.Dataset(path, voxel_size=(1, 1, 1))
        layer = dataset.add_layer(
            name, category, dtype=DTYPES[volume], data_format="neuroglancerPrecomputed"
        )
        return layer.add_mag(1, chunk_shape=CHUNK, compress=False, encoding=encoding, sharded=False)

    def open(self, path: Path, volume: str) -> Any:
        import webknossos_like as wkl

        return wkl.Dataset.open(path).get_layer(LAYERS[volume][0]).get_mag(1)

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        handle.write(data, absolute_offset=offset)

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        return handle.read(absolute_offset=offset, size=size)  # type: ignore[no-any-return]


class OursSequentialAdapter(OursAdapter):
    """Ours with `webknossos_like.io_threads(1)`: every chunk of a call on the calling thread."""

    library = "ours-sequential"
    label = "ours, io_threads=1"
    slug = "ours"  # the same fixture files as ours

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        import webknossos_like as wkl

        with wkl.io_threads(1):
            super().write(handle, data, offset)

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        import webknossos_like as wkl

        with wkl.io_threads(1):
            return super().read(handle, offset, size)


class TensorstoreAdapter(Adapter):
    """`neuroglancer_precomputed` driver on a `file://` kvstore; (x, y, z, c) domain."""

    library = "tensorstore"
    label = "tensorstore"
    slug = "ts"

    def create(self, path: Path, volume: str, shape: Box) -> Any:
        import tensorstore as ts

        info = _info(volume, shape)
        scale = dict(info["scales"][0])
        scale["chunk_size"] = scale.pop("chunk_sizes")[0]
        del scale["key"]
        spec = {
            "driver": "neuroglancer_precomputed",
            "kvstore": f"file://{path / LAYERS[volume][0]}/",
            "multiscale_metadata": {
                "type": info["type"],
                "data_type": info["data_type"],
                "num_channels": 1,
            },
            "scale_metadata": scale,
            "create": True,
        }
        return ts.open(spec).result()

    def open(self, path: Path, volume: str) -> Any:
        import tensorstore as ts

        spec = {
            "driver": "neuroglancer_precomputed",
            "kvstore": f"file://{path / LAYERS[volume][0]}/",
            "open": True,
        }
        return ts.open(spec).result()

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        x, y, z = offset
        nx, ny, nz = data.shape
        handle[x : x + nx, y : y + ny, z : z + nz, 0].write(data).result()

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        x, y, z = offset
        nx, ny, nz = size
        array = handle[x : x + nx, y : y + ny, z : z + nz, :].read().result()
        return np.moveaxis(array, -1, 0)


class CloudVolumeAdapter(Adapter):
    """`CloudVolume("file://...", compress=False, fill_missing=True)`; (x, y, z, c) cutouts."""

    library = "cloud-volume"
    label = "cloud-volume"
    slug = "cv"

    def _volume(self, path: Path, volume: str, info: dict[str, Any] | None = None) -> Any:
        from cloudvolume import CloudVolume

        return CloudVolume(
            f"file://{path / LAYERS[volume][0]}",
            info=info,
            compress=False,
            fill_missing=True,
            progress=False,
        )

    def create(self, path: Path, volume: str, shape: Box) -> Any:
        handle = self._volume(path, volume, _info(volume, shape))
        handle.commit_info()
        return handle

    def open(self, path: Path, volume: str) -> Any:
        return self._volume(path, volume)

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        x, y, z = offset
        nx, ny, nz = data.shape
        handle[x : x + nx, y : y + ny, z : z + nz] = data

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        x, y, z = offset
        nx, ny, nz = size
        return np.moveaxis(np.asarray(handle[x : x + nx, y : y + ny, z : z + nz]), -1, 0)


class NeuroglancerScriptsAdapter(Adapter):
    """`PrecomputedIO` over a `FileAccessor(flat=True, gzip=False)`, one call per 64^3 chunk.

    It has no sub-volume API: a write loops over the chunks it covers (chunk-aligned offsets
    only) and a read assembles the chunks a box touches into one array.
    """

    library = "neuroglancer-scripts"
    label = "neuroglancer-scripts"
    slug = "ngs"

    def _accessor(self, path: Path, volume: str) -> Any:
        from neuroglancer_scripts.file_accessor import FileAccessor

        return FileAccessor(str(path / LAYERS[volume][0]), flat=True, gzip=False)

    def create(self, path: Path, volume: str, shape: Box) -> Any:
        from neuroglancer_scripts.precomputed_io import get_IO_for_new_dataset

        (path / LAYERS[volume][0]).mkdir(parents=True)
        return get_IO_for_new_dataset(_info(volume, shape), self._accessor(path, volume))

    def open(self, path: Path, volume: str) -> Any:
        from neuroglancer_scripts.precomputed_io import get_IO_for_existing_dataset

        return get_IO_for_existing_dataset(self._accessor(path, volume))

    @staticmethod
    def _chunks(handle: Any, offset: Box, size: Box) -> list[tuple[int, ...]]:
        """`(xmin, xmax, ymin, ymax, zmin, zmax)` of every chunk a box touches."""
        full = handle.scale_info("1")["size"]
        ranges = []
        for o, n, edge in zip(offset, size, full, strict=True):
            first = o - o % CHUNK
            ranges.append([(c, min(c + CHUNK, edge)) for c in range(first, o + n, CHUNK)])
        return [
            (x0, x1, y0, y1, z0, z1)
            for z0, z1 in ranges[2]
            for y0, y1 in ranges[1]
            for x0, x1 in ranges[0]
        ]

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        if any(o % CHUNK for o in offset):
            raise ValueError("neuroglancer-scripts writes whole chunks only")
        ox, oy, oz = offset
        for coords in self._chunks(handle, offset, data.shape):
            x0, x1, y0, y1, z0, z1 = coords
            piece = data[x0 - ox : x1 - ox, y0 - oy : y1 - oy, z0 - oz : z1 - oz]
            handle.write_chunk(piece.T[np.newaxis], "1", coords)  # (c, z, y, x)

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        ox, oy, oz = offset
        nx, ny, nz = size
        dtype = np.dtype(handle.info["data_type"])
        out = np.empty((1, nx, ny, nz), dtype=dtype, order="F")
        for coords in self._chunks(handle, offset, size):
            x0, x1, y0, y1, z0, z1 = coords
            chunk = handle.read_chunk("1", coords)[0].T  # (x, y, z) view
            sx, sy, sz = max(x0, ox), max(y0, oy), max(z0, oz)
            ex, ey, ez = min(x1, ox + nx), min(y1, oy + ny), min(z1, oz + nz)
            out[0, sx - ox : ex - ox, sy - oy : ey - oy, sz - oz : ez - oz] = chunk[
                sx - x0 : ex - x0, sy - y0 : ey - y0, sz - z0 : ez - z0
            ]
        return out


# Our sequential mode, reported as a peer so that the table shows what the thread pool adds.
register_library(Library("ours-sequential", ("webknossos_like", "wkw"), "webknossos_like"))

OURS_ADAPTER = OursAdapter()
NGS = NeuroglancerScriptsAdapter()
PEERS: list[Adapter] = [TensorstoreAdapter(), OursSequentialAdapter(), CloudVolumeAdapter(), NGS]


# -- shared pieces ---------------------------------------------------------------------------------
def _fixture(ctx: Context, adapter: Adapter, volume: str) -> Path:
    """A dataset of `volume` written by `adapter` itself, built once per harness run."""

    def build(path: Path) -> None:
        data = load_volume(ctx.volume_path(volume))  # not cached: freed before timing
        handle = adapter.create(path, volume, ctx.shape)
        adapter.write(handle, data, (0, 0, 0))

    return ctx.fixture(f"pc-{adapter.slug}-{volume}", build)


def _check_equal(ctx: Context, volume: str, array: np.ndarray, offset: Box) -> None:
    source = load_volume(ctx.volume_path(volume))
    x, y, z = offset
    nx, ny, nz = array.shape[-3:]
    expected = source[x : x + nx, y : y + ny, z : z + nz]
    if array.shape[0] != 1 or not np.array_equal(array[0], expected):
        raise AssertionError(f"{volume} data read back at {offset} differs from the source")


# -- full-volume write ------------------------------------------------------------------------------
def _full_write(adapter: Adapter, volume: str) -> Impl:
    def setup(ctx: Context) -> Any:
        return SimpleNamespace(ctx=ctx, data=ctx.volume(volume), path=None, handle=None)

    def prepare(state: Any) -> None:
        if state.path is not None:
            state.handle = None
            shutil.rmtree(state.path, ignore_errors=True)
        state.path = state.ctx.fresh_dir("write")
        state.handle = adapter.create(state.path, volume, state.ctx.shape)

    def run(state: Any) -> None:
        adapter.write(state.handle, state.data, (0, 0, 0))

    def check(state: Any, _: Any) -> dict[str, Any]:
        handle = adapter.open(state.path, volume)
        _check_equal(state.ctx, volume, adapter.read(handle, (0, 0, 0), state.ctx.shape), (0, 0, 0))
        return {"disk_mib": _disk_mib(state.path / LAYERS[volume][0])}

    return Impl(adapter.library, run, setup, prepare, check, label=adapter.label)


# -- full-volume read -------------------------------------------------------------------------------
def _full_read(adapter: Adapter, volume: str) -> Impl:
    def setup(ctx: Context) -> Any:
        path = _fixture(ctx, adapter, volume)
        return SimpleNamespace(ctx=ctx, handle=adapter.open(path, volume))

    def run(state: Any) -> np.ndarray:
        return adapter.read(state.handle, (0, 0, 0), state.ctx.shape)

    def check(state: Any, result: np.ndarray) -> None:
        _check_equal(state.ctx, volume, result, (0, 0, 0))

    return Impl(adapter.library, run, setup, check=check, label=adapter.label)


# -- random reads -----------------------------------------------------------------------------------
def _random_reads(adapter: Adapter, volume: str) -> Impl:
    def setup(ctx: Context) -> Any:
        path = _fixture(ctx, adapter, volume)
        edge = min(READ_BOX, *ctx.shape)
        boxes = random_boxes(ctx.shape, ctx.random_reads, size=edge)
        return SimpleNamespace(
            ctx=ctx, handle=adapter.open(path, volume), boxes=boxes, size=(edge,) * 3
        )

    def run(state: Any) -> None:
        read, handle, size = adapter.read, state.handle, state.size
        for box in state.boxes:
            read(handle, box, size)

    def check(state: Any, _: Any) -> None:
        for box in state.boxes[:20]:
            _check_equal(state.ctx, volume, adapter.read(state.handle, box, state.size), box)

    return Impl(adapter.library, run, setup, check=check, label=adapter.label)


# -- registration -----------------------------------------------------------------------------------
register_group(
    Group(
        "precomputed",
        "Neuroglancer precomputed: write, read, random 64^3 reads",
        [
            "Unsharded precomputed volume, chunk 64^3, no gzip: the image uint8 with `raw` "
            "encoding, the segmentation uint32 with `compressed_segmentation` (block 8^3). Every "
            "library writes the same `info` (scale key `1`) into `<dataset>/<layer>`: ours "
            '`add_layer(..., data_format="neuroglancerPrecomputed").add_mag(1, chunk_shape=64, '
            "encoding=..., sharded=False)` and `mag.write`/`mag.read` with default settings "
            "(chunk work of one call on `io_threads` = the usable cores), and again as the peer "
            "`ours, io_threads=1` (inside `webknossos_like.io_threads(1)`: our sequential "
            "mode, what every call does inside an executor worker); tensorstore "
            "`neuroglancer_precomputed` driver on a `file://` kvstore (its default context, i.e. "
            "its own thread pools for I/O and copying); cloud-volume "
            '`CloudVolume("file://...", compress=False, fill_missing=True)` (default `parallel=1`, '
            "no cache); neuroglancer-scripts `PrecomputedIO` over "
            "`FileAccessor(flat=True, gzip=False)`, one `write_chunk`/`read_chunk` per 64^3 "
            "chunk (it has no sub-volume API: the harness loops over the chunks and, for "
            "unaligned boxes, copies the touched parts of up to 8 chunks into one array).",
            "Writes go into a fresh empty volume (created untimed) with one call at offset 0; "
            "reads and random reads use a volume the same library wrote earlier (untimed). "
            "tensorstore and cloud-volume return `(x, y, z, c)`; it is transposed to "
            "`(c, x, y, z)` as a view (no copy). Every result is checked against the source "
            "(untimed; random reads: the first 20 boxes).",
            "Random reads: the same fixed-seed unaligned 64^3 boxes as the WKW table "
            "(1000 in a full run, 200 with --quick), one after another through one open handle. "
            "neuroglancer-scripts has no row for the compressed_segmentation random reads: its "
            "decoder is pure Python (24 s for 200 boxes at 128^3, about 2 min per repetition "
            "at 512^3).",
        ],
    )
)

for _volume in ("image", "segmentation"):
    _encoding = LAYERS[_volume][3]
    _tag = "raw" if _encoding == "raw" else "cseg"
    _what = f"{ENCODING_TITLES[_encoding]}, {VOLUME_TITLES[_volume]}"
    register(
        Workload(
            f"precomputed.write.{_tag}.{_volume}",
            "precomputed",
            f"precomputed write {_what}",
            _full_write(OURS_ADAPTER, _volume),
            [_full_write(a, _volume) for a in PEERS],
        )
    )
    register(
        Workload(
            f"precomputed.read.{_tag}.{_volume}",
            "precomputed",
            f"precomputed read {_what}",
            _full_read(OURS_ADAPTER, _volume),
            [_full_read(a, _volume) for a in PEERS],
        )
    )
    register(
        Workload(
            f"precomputed.random64.{_tag}.{_volume}",
            "precomputed",
            f"precomputed random 64^3 reads, {_what}",
            _random_reads(OURS_ADAPTER, _volume),
            # neuroglancer-scripts decodes compressed_segmentation in pure Python: 1000 boxes
            # (8 chunks each) take ~2 min per repetition at 512^3, so it is left out there.
            [_random_reads(a, _volume) for a in PEERS if _tag == "raw" or a is not NGS],
        )
    )
