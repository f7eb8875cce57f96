"""WKW workloads: full-volume write/read, random 64^3 reads, 2-core compressed writes, first voxel.

Every workload runs through ours (`webknossos_like`), the bare `wkw` package and the
`webknossos` package with chunk 32 / shard 128 (our default) and, where it applies, with
webknossos' default shard 1024. Libraries are imported inside the adapters only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .data import DTYPES, load_volume, random_boxes
from .harness import OURS, Context, Group, Impl, RunOverride, Workload, register, register_group

CHUNK = 32
SHARD = 128
WK_DEFAULT_SHARD = 1024
READ_BOX = 64
WORKERS = 2
LAYERS = {"image": ("color", "color"), "segmentation": ("segmentation", "segmentation")}
VOLUME_TITLES = {"image": "image uint8", "segmentation": "segmentation uint32"}


def _disk_mib(path: Path) -> float:
    """Allocated bytes (raw WKW files of a 1024 shard are sparse), in MiB."""
    total = 0
    for folder, _, files in os.walk(path):
        total += sum(os.stat(os.path.join(folder, name)).st_blocks * 512 for name in files)
    return round(total / 2**20, 1)


# -- one adapter per library: create / open / write / read a single-mag WKW layer ----------------
class Adapter:
    """How one library creates, opens, writes and reads the mag 1 of a one-layer WKW dataset."""

    library = ""
    label = ""
    slug = ""
    shard = SHARD

    def create(self, path: Path, volume: str, compressed: bool) -> Any:
        raise NotImplementedError

    def open(self, path: Path, volume: str) -> Any:
        raise NotImplementedError

    def write(self, handle: Any, data: np.ndarray, offset: tuple[int, int, int]) -> None:
        raise NotImplementedError

    def read(
        self, handle: Any, offset: tuple[int, int, int], size: tuple[int, int, int]
    ) -> np.ndarray:
        raise NotImplementedError

    def before_parallel_write(self, handle: Any, shape: tuple[int, int, int]) -> None:
        """Untimed preparation of a parallel chunked write (webknossos: set the bounding box)."""

    def close(self, handle: Any) -> None:
        """Release native handles before the folder is deleted."""


class OursAdapter(Adapter):
    library = OURS
    label = OURS
    slug = "ours"

    def create(self, path: Path, volume: str, compressed: bool) -> Any:
        import webknossos_like as wkl

        name, category = LAYERS[volume]
        dataset = wkl.Dataset(path, voxel_size=(1, 1, 1))
        layer = dataset.add_layer(name, category, dtype=DTYPES[volume])
        return layer.add_mag(1, chunk_shape=CHUNK, shard_shape=SHARD, compress=compressed)

    def open(self, path: Path, volume: str) -> Any:
        import webknossos_like as wkl

        return wkl.Dataset.open(path).get_layer(LAYERS[volume][0]).get_mag(1)

    def write(self, handle: Any, data: np.ndarray, offset: tuple[int, int, int]) -> None:
        handle.write(data, absolute_offset=offset)

    def read(
        self, handle: Any, offset: tuple[int, int, int], size: tuple[int, int, int]
    ) -> np.ndarray:
        return handle.read(absolute_offset=offset, size=size)  # type: ignore[no-any-return]


class WkwAdapter(Adapter):
    """The bare `wkw` package: `wkw.Dataset` at `<path>/<layer>/1`; compressed writes whole files."""

    library = "wkw"
    label = "wkw"
    slug = "wkw"

    def create(self, path: Path, volume: str, compressed: bool) -> Any:
        import wkw

        header = wkw.Header(
            voxel_type=DTYPES[volume].type,
            num_channels=1,
            block_len=CHUNK,
            file_len=SHARD // CHUNK,
            block_type=wkw.Header.BLOCK_TYPE_LZ4HC if compressed else wkw.Header.BLOCK_TYPE_RAW,
        )
        return wkw.Dataset.create(str(path / LAYERS[volume][0] / "1"), header)

    def open(self, path: Path, volume: str) -> Any:
        import wkw

        return wkw.Dataset.open(str(path / LAYERS[volume][0] / "1"))

    def write(self, handle: Any, data: np.ndarray, offset: tuple[int, int, int]) -> None:
        compressed = handle.header.block_type != 1
        shape = data.shape[-3:]
        if compressed and any(o % SHARD or (n % SHARD) for o, n in zip(offset, shape, strict=True)):
            # wkw only writes whole compressed files: pad (only needed for volumes < 128^3).
            padded_shape = tuple(
                -(-(o % SHARD + n) // SHARD) * SHARD for o, n in zip(offset, shape, strict=True)
            )
            start = tuple(o - o % SHARD for o in offset)
            buffer = np.zeros(padded_shape, dtype=data.dtype, order="F")
            inner = tuple(
                slice(o % SHARD, o % SHARD + n) for o, n in zip(offset, shape, strict=True)
            )
            buffer[inner] = data
            handle.write(start, buffer)
            return
        handle.write(offset, data)

    def read(
        self, handle: Any, offset: tuple[int, int, int], size: tuple[int, int, int]
    ) -> np.ndarray:
        return handle.read(offset, size)  # type: ignore[no-any-return]

    def close(self, handle: Any) -> None:
        handle.close()


class WebknossosAdapter(Adapter):
    """The `webknossos` package with `data_format="wkw"`, chunk 32 and the given shard edge."""

    library = "webknossos"

    def __init__(self, shard: int | None) -> None:
        self.shard = shard or WK_DEFAULT_SHARD
        self._explicit_shard = shard
        self.label = (
            f"webknossos (shard {shard})"
            if shard
            else f"webknossos (default shard {WK_DEFAULT_SHARD})"
        )
        self.slug = f"wk{self.shard}"

    def create(self, path: Path, volume: str, compressed: bool) -> Any:
        import webknossos as wk

        name, category = LAYERS[volume]
        dataset = wk.Dataset(path, voxel_size=(1, 1, 1))
        layer = dataset.add_layer(name, category, dtype=DTYPES[volume], data_format="wkw")
        shard = {} if self._explicit_shard is None else {"shard_shape": self._explicit_shard}
        return layer.add_mag(1, chunk_shape=CHUNK, compress=compressed, **shard)

    def open(self, path: Path, volume: str) -> Any:
        import webknossos as wk

        return wk.Dataset.open(path).get_layer(LAYERS[volume][0]).get_mag(1)

    def write(self, handle: Any, data: np.ndarray, offset: tuple[int, int, int]) -> None:
        handle.write(data, absolute_offset=offset, allow_resize=True)

    def write_chunk(self, handle: Any, data: np.ndarray, offset: tuple[int, int, int]) -> None:
        handle.write(data, absolute_offset=offset)  # allow_resize is unsafe in parallel

    def read(
        self, handle: Any, offset: tuple[int, int, int], size: tuple[int, int, int]
    ) -> np.ndarray:
        return handle.read(absolute_offset=offset, size=size)  # type: ignore[no-any-return]

    def before_parallel_write(self, handle: Any, shape: tuple[int, int, int]) -> None:
        from webknossos import BoundingBox

        handle.layer.bounding_box = BoundingBox((0, 0, 0), shape)


OURS_ADAPTER = OursAdapter()
WKW_ADAPTER = WkwAdapter()
WK128 = WebknossosAdapter(SHARD)
WK_DEFAULT = WebknossosAdapter(None)
ALL_PEERS: list[Adapter] = [WKW_ADAPTER, WK128, WK_DEFAULT]
SHARD128_PEERS: list[Adapter] = [WKW_ADAPTER, WK128]


# -- shared pieces ---------------------------------------------------------------------------------
def _fixture(ctx: Context, adapter: Adapter, volume: str, compressed: bool) -> Path:
    """A dataset of `volume` written by `adapter` itself, built once per harness run."""
    key = f"{adapter.slug}-{volume}-{'lz4hc' if compressed else 'raw'}"

    def build(path: Path) -> None:
        data = load_volume(ctx.volume_path(volume))  # not cached: freed before timing
        handle = adapter.create(path, volume, compressed)
        adapter.write(handle, data, (0, 0, 0))
        adapter.close(handle)

    return ctx.fixture(key, build)


def _check_equal(
    ctx: Context, volume: str, array: np.ndarray, offset: tuple[int, int, int]
) -> None:
    source = load_volume(ctx.volume_path(volume))
    x, y, z = offset
    nx, ny, nz = array.shape[-3:]
    expected = source[x : x + nx, y : y + ny, z : z + nz]
    if array.shape[0] != 1 or not np.array_equal(array[0], expected):
        raise AssertionError(f"{volume} data read back at {offset} differs from the source")


def _shard_offsets(shape: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    return [
        (x, y, z)
        for z in range(0, shape[2], SHARD)
        for y in range(0, shape[1], SHARD)
        for x in range(0, shape[0], SHARD)
    ]


def _chunk_of(data: np.ndarray, offset: tuple[int, int, int]) -> np.ndarray:
    x, y, z = offset
    return data[x : x + SHARD, y : y + SHARD, z : z + SHARD]


# -- full-volume write ------------------------------------------------------------------------------
def _full_write(adapter: Adapter, volume: str, compressed: bool) -> Impl:
    def setup(ctx: Context) -> Any:
        return SimpleNamespace(ctx=ctx, data=ctx.volume(volume), path=None, handle=None)

    def prepare(state: Any) -> None:
        if state.path is not None:
            adapter.close(state.handle)
            shutil.rmtree(state.path, ignore_errors=True)
        state.path = state.ctx.fresh_dir("write")
        state.handle = adapter.create(state.path, volume, compressed)

    def run(state: Any) -> None:
        adapter.write(state.handle, state.data, (0, 0, 0))

    def check(state: Any, _: Any) -> dict[str, Any]:
        handle = adapter.open(state.path, volume)
        _check_equal(state.ctx, volume, adapter.read(handle, (0, 0, 0), state.ctx.shape), (0, 0, 0))
        adapter.close(handle)
        return {"disk_mib": _disk_mib(state.path)}

    return Impl(adapter.library, run, setup, prepare, check, label=adapter.label)


# -- full-volume read -------------------------------------------------------------------------------
def _full_read(adapter: Adapter, volume: str, compressed: bool) -> Impl:
    def setup(ctx: Context) -> Any:
        path = _fixture(ctx, adapter, volume, compressed)
        return SimpleNamespace(ctx=ctx, handle=adapter.open(path, volume))

    def run(state: Any) -> np.ndarray:
        return adapter.read(state.handle, (0, 0, 0), state.ctx.shape)

    def check(state: Any, result: np.ndarray) -> None:
        _check_equal(state.ctx, volume, result, (0, 0, 0))

    return Impl(adapter.library, run, setup, check=check, label=adapter.label)


# -- random reads -----------------------------------------------------------------------------------
def _random_reads(adapter: Adapter, volume: str, compressed: bool) -> Impl:
    def setup(ctx: Context) -> Any:
        path = _fixture(ctx, adapter, volume, compressed)
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


# -- compressed write on two cores ------------------------------------------------------------------
def _parallel_write(adapter: Adapter, volume: str) -> Impl:
    def setup(ctx: Context) -> Any:
        return SimpleNamespace(ctx=ctx, data=ctx.volume(volume), path=None, handle=None)

    def prepare(state: Any) -> None:
        if state.path is not None:
            adapter.close(state.handle)
            shutil.rmtree(state.path, ignore_errors=True)
        state.path = state.ctx.fresh_dir("pwrite")
        state.handle = adapter.create(state.path, volume, True)
        adapter.before_parallel_write(state.handle, state.ctx.shape)

    def run(state: Any) -> None:
        write = getattr(adapter, "write_chunk", adapter.write)
        data, handle = state.data, state.handle
        if adapter.library == OURS:
            import webknossos_like as wkl

            executor: Any = wkl.executors.threads(WORKERS)
        else:
            executor = ThreadPoolExecutor(max_workers=WORKERS)
        with executor:
            list(
                executor.map(
                    lambda o: write(handle, _chunk_of(data, o), o), _shard_offsets(state.ctx.shape)
                )
            )

    def check(state: Any, _: Any) -> dict[str, Any]:
        handle = adapter.open(state.path, volume)
        _check_equal(state.ctx, volume, adapter.read(handle, (0, 0, 0), state.ctx.shape), (0, 0, 0))
        adapter.close(handle)
        return {"disk_mib": _disk_mib(state.path)}

    return Impl(adapter.library, run, setup, prepare, check, label=adapter.label)


# -- compress an existing raw mag on two cores ------------------------------------------------------
def _compress(adapter: Adapter, volume: str) -> Impl:
    def setup(ctx: Context) -> Any:
        return SimpleNamespace(
            ctx=ctx, data=ctx.volume(volume), path=None, handle=None, target=None
        )

    def prepare(state: Any) -> None:
        if state.path is not None:
            adapter.close(state.handle)
            shutil.rmtree(state.path, ignore_errors=True)
        state.path = state.ctx.fresh_dir("compress")
        state.handle = adapter.create(state.path, volume, False)
        adapter.write(state.handle, state.data, (0, 0, 0))
        state.target = state.path / "compressed"

    def run(state: Any) -> None:
        if adapter.library == OURS:
            import webknossos_like as wkl

            with wkl.executors.threads(WORKERS) as executor:
                state.handle.compress(executor=executor)
        elif adapter.library == "wkw":
            _wkw_compress(state.handle, str(state.target))
        else:
            from cluster_tools import get_executor

            with get_executor("multiprocessing", max_workers=WORKERS) as executor:
                state.handle.compress(executor=executor)

    def check(state: Any, _: Any) -> dict[str, Any]:
        if adapter.library == "wkw":
            import wkw

            handle = wkw.Dataset.open(str(state.target))
            folder = state.target
        else:
            handle = adapter.open(state.path, volume)
            folder = state.path / LAYERS[volume][0]
        _check_equal(state.ctx, volume, adapter.read(handle, (0, 0, 0), state.ctx.shape), (0, 0, 0))
        adapter.close(handle)
        return {"disk_mib": _disk_mib(folder)}

    return Impl(adapter.library, run, setup, prepare, check, label=adapter.label)


def _wkw_compress(source: Any, target: str) -> None:
    """Bare wkw: a compressed header at `target`, then `wkw.File.compress` per file on 2 threads."""
    import wkw

    source.compress(target).close()
    files = sorted(source.list_files())

    def one(file: str) -> None:
        destination = os.path.join(target, os.path.relpath(file, source.root))
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        wkw.File.compress(file, destination)

    with ThreadPoolExecutor(max_workers=WORKERS) as executor:
        list(executor.map(one, files))


# -- time to first voxel ----------------------------------------------------------------------------
_FIRST_VOXEL_CODE = {
    OURS: (
        "import webknossos_like as wkl\n"
        "mag = wkl.Dataset.open({path!r}).get_layer('color').get_mag(1)\n"
        "data = mag.read(absolute_offset={offset!r}, size={size!r})\n"
    ),
    "wkw": (
        "import wkw\ndata = wkw.Dataset.open({path!r} + '/color/1').read({offset!r}, {size!r})\n"
    ),
    "webknossos": (
        "import webknossos as wk\n"
        "mag = wk.Dataset.open({path!r}).get_layer('color').get_mag(1)\n"
        "data = mag.read(absolute_offset={offset!r}, size={size!r})\n"
    ),
}
_FIRST_VOXEL_CHECK = "assert data.shape == (1, *{size!r}), data.shape\n"


def _first_voxel(adapter: Adapter) -> Impl:
    def setup(ctx: Context) -> Any:
        path = _fixture(ctx, adapter, "image", True)
        edge = min(READ_BOX, *ctx.shape)
        offset = tuple(max(0, n // 2 - edge // 2 - 3) for n in ctx.shape)
        source = _FIRST_VOXEL_CODE[adapter.library] + _FIRST_VOXEL_CHECK
        code = source.format(path=str(path), offset=offset, size=(edge,) * 3)
        return SimpleNamespace(ctx=ctx, code=code)

    def run(state: Any) -> RunOverride:
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                [sys.executable, "-c", state.code], stdout=subprocess.DEVNULL, stderr=errors
            )
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                errors.seek(0)
                tail = errors.read().decode(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"first-voxel subprocess failed: {' | '.join(tail)}")
        return RunOverride(peak_rss_kib=int(usage.ru_maxrss), rss_before_kib=0)

    return Impl(adapter.library, run, setup, label=adapter.label)


# -- registration -----------------------------------------------------------------------------------
register_group(
    Group(
        "wkw-full",
        "WKW: full-volume write and read",
        [
            "Each library writes the whole volume with one call at offset 0 into an empty mag of a "
            "fresh dataset created untimed before each repetition (chunk 32^3; shard 128^3 unless "
            "the peer says otherwise): ours `mag.write(data, absolute_offset=(0,0,0))`; bare wkw "
            "`wkw.Dataset.write` (block_type 1 raw / 3 LZ4HC, whole files); webknossos "
            '`mag.write(..., allow_resize=True)` on a `data_format="wkw"` layer.',
            "Reads: one `read` of the whole volume from a dataset the same library wrote earlier "
            "(untimed); every result is checked against the source volume.",
            "Compressed = LZ4HC (ours `compress=True`, webknossos `compress=True`, wkw block_type 3).",
            "The segmentation is a `segmentation` layer in ours and webknossos: ours computes the "
            "largest segment id of every write (a full `array.max()`), webknossos does not.",
        ],
    )
)
register_group(
    Group(
        "wkw-random",
        "WKW: random 64^3 reads",
        [
            "The same fixed-seed list of unaligned 64^3 boxes for every library (1000 in a full run, "
            "200 with --quick), read one after another through one open handle/mag view.",
        ],
    )
)
register_group(
    Group(
        "wkw-parallel",
        "WKW: compressed writes on 2 cores",
        [
            "Chunked write: the volume is cut into shard-aligned 128^3 pieces, each written with its "
            "own call from a 2-thread pool: ours `mag.write(piece, absolute_offset=...)` via "
            "`webknossos_like.executors.threads(2)` (the layer grows with every write); bare wkw "
            "`wkw.Dataset.write` on one shared handle from a `ThreadPoolExecutor(2)`; webknossos "
            "`mag.write(piece, absolute_offset=...)` from a `ThreadPoolExecutor(2)` after setting "
            "the layer bounding box untimed (its `allow_resize` is not safe in parallel).",
            "Compress in place: a raw mag (written untimed) is converted to LZ4HC: ours "
            "`mag.compress(executor=webknossos_like.executors.threads(2))`; webknossos "
            '`mag.compress(executor=cluster_tools.get_executor("multiprocessing", max_workers=2))` '
            "(spawned worker processes, start-up included; their memory is not in any RSS column); "
            "bare wkw `Dataset.compress(target)` for the header then `wkw.File.compress` per file "
            "on a 2-thread pool (into a new folder, not in place).",
        ],
    )
)
register_group(
    Group(
        "wkw-first-voxel",
        "Time to first voxel",
        [
            "Wall time of a fresh `python -c` process that imports the package, opens the "
            "compressed image dataset (written earlier by the same library) and reads one 64^3 box; "
            "one untimed warm-up run, median of at least 5. Peak RSS is that process's `ru_maxrss` "
            "(from `os.wait4`).",
        ],
    )
)

for _volume in ("image", "segmentation"):
    for _compressed in (False, True):
        _kind = "LZ4HC" if _compressed else "raw"
        _tag = "lz4hc" if _compressed else "raw"
        register(
            Workload(
                f"wkw.write.{_tag}.{_volume}",
                "wkw-full",
                f"write {_kind}, {VOLUME_TITLES[_volume]}",
                _full_write(OURS_ADAPTER, _volume, _compressed),
                [_full_write(a, _volume, _compressed) for a in ALL_PEERS],
            )
        )
        register(
            Workload(
                f"wkw.read.{_tag}.{_volume}",
                "wkw-full",
                f"read {_kind}, {VOLUME_TITLES[_volume]}",
                _full_read(OURS_ADAPTER, _volume, _compressed),
                [_full_read(a, _volume, _compressed) for a in ALL_PEERS],
            )
        )

for _volume, _compressed in (("image", False), ("image", True), ("segmentation", True)):
    _kind = "LZ4HC" if _compressed else "raw"
    register(
        Workload(
            f"wkw.random64.{'lz4hc' if _compressed else 'raw'}.{_volume}",
            "wkw-random",
            f"random 64^3 reads, {_kind}, {VOLUME_TITLES[_volume]}",
            _random_reads(OURS_ADAPTER, _volume, _compressed),
            [_random_reads(a, _volume, _compressed) for a in ALL_PEERS],
        )
    )

for _volume in ("image", "segmentation"):
    register(
        Workload(
            f"wkw.parallel-write.lz4hc.{_volume}",
            "wkw-parallel",
            f"chunked LZ4HC write, 2 threads, {VOLUME_TITLES[_volume]}",
            _parallel_write(OURS_ADAPTER, _volume),
            [_parallel_write(a, _volume) for a in SHARD128_PEERS],
        )
    )
for _volume in ("image", "segmentation"):
    register(
        Workload(
            f"wkw.compress.{_volume}",
            "wkw-parallel",
            f"compress raw mag to LZ4HC, 2 workers, {VOLUME_TITLES[_volume]}",
            _compress(OURS_ADAPTER, _volume),
            [_compress(a, _volume) for a in SHARD128_PEERS],
        )
    )

register(
    Workload(
        "wkw.first-voxel",
        "wkw-first-voxel",
        "import + open + read one 64^3 box (fresh process)",
        _first_voxel(OURS_ADAPTER),
        [_first_voxel(a) for a in SHARD128_PEERS],
        warmup=1,
        min_repeat=5,
    )
)
