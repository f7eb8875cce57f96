"""Zarr v3 workloads: full-volume write/read, random 64^3 reads, pyramid to mag 8.

Every workload runs through ours (`webknossos_like`, `data_format="zarr3"`), the `webknossos`
package (whose default format is Zarr v3) and bare tensorstore (`zarr3` driver with the codecs
webknossos writes), all with chunk 32^3, zstd and the same shard: 128^3, and webknossos' default
1024^3 (one shard bigger than the whole volume). The pyramid has no tensorstore peer.
Libraries are imported inside the adapters only.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .data import DTYPES, load_volume, random_boxes
from .harness import OURS, Context, Group, Impl, Workload, register, register_group

CHUNK = 32
SHARDS = (128, 1024)  # ours' usual shard, and webknossos' default
ZSTD_LEVEL = 5  # what webknossos 4.3.3 writes for `compress=True`
READ_BOX = 64
COARSEST = 8
TARGET_MAGS = (2, 4, 8)
MIN_REPEAT_PYRAMID = 5
# webknossos 4.3.3 materialises whole 1024^3 shards: writing a 128^3 uint32 volume into one took
# 19 s and 8.4 GiB RSS, and at 512^3 both the write and the pyramid of the uint32 segmentation
# were killed by the OOM killer on a 23 GiB machine. Those two rows have no webknossos peer.
WK_OOM_ROWS = {("write", 1024, "segmentation"), ("pyramid", 1024, "segmentation")}
LAYERS = {"image": ("color", "color"), "segmentation": ("segmentation", "segmentation")}
VOLUME_TITLES = {"image": "image uint8", "segmentation": "segmentation uint32"}

Box = tuple[int, int, int]


def _disk_mib(path: Path) -> float:
    """Allocated bytes of the files under `path`, in MiB."""
    total = 0
    for folder, _, files in os.walk(path):
        total += sum(os.stat(os.path.join(folder, name)).st_blocks * 512 for name in files)
    return round(total / 2**20, 1)


# -- one adapter per library: create / open / write / read mag 1 of a one-layer Zarr v3 dataset --
class Adapter:
    """How one library creates, opens, writes and reads mag 1 (`<path>/<layer>/1`)."""

    library = ""
    label = ""
    slug = ""

    def __init__(self, shard: int) -> None:
        self.shard = shard

    def create(self, path: Path, volume: str, shape: Box) -> Any:
        raise NotImplementedError

    def open(self, path: Path, volume: str) -> Any:
        raise NotImplementedError

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        raise NotImplementedError

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        """`(1, x, y, z)`; a view is fine."""
        raise NotImplementedError


class OursAdapter(Adapter):
    library = OURS
    label = OURS

    def __init__(self, shard: int) -> None:
        super().__init__(shard)
        self.slug = f"ours{shard}"

    def create(self, path: Path, volume: str, shape: Box) -> Any:
        import webknossos_like as wkl

        name, category = LAYERS[volume]
        dataset = wkl.Dataset(path, voxel_size=(1, 1, 1))
        layer = dataset.add_layer(name, category, dtype=DTYPES[volume], data_format="zarr3")
        return layer.add_mag(1, chunk_shape=CHUNK, shard_shape=self.shard, compress=True)

    def open(self, path: Path, volume: str) -> Any:
        import webknossos_like as wkl

        return wkl.Dataset.open(path).get_layer(LAYERS[volume][0]).get_mag(1)

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        handle.write(data, absolute_offset=offset)

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        return handle.read(absolute_offset=offset, size=size)  # type: ignore[no-any-return]


class WebknossosAdapter(Adapter):
    """`webknossos` 4.3.3, `data_format="zarr3"`, chunk 32, the given shard, `compress=True` (zstd)."""

    library = "webknossos"

    def __init__(self, shard: int) -> None:
        super().__init__(shard)
        self.label = "webknossos"
        self.slug = f"wk{shard}"

    def create(self, path: Path, volume: str, shape: Box) -> Any:
        import webknossos as wk

        name, category = LAYERS[volume]
        dataset = wk.Dataset(path, voxel_size=(1, 1, 1))
        layer = dataset.add_layer(name, category, dtype=DTYPES[volume], data_format="zarr3")
        return layer.add_mag(1, chunk_shape=CHUNK, shard_shape=self.shard, compress=True)

    def open(self, path: Path, volume: str) -> Any:
        import webknossos as wk

        return wk.Dataset.open(path).get_layer(LAYERS[volume][0]).get_mag(1)

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        # allow_unaligned: a 128^3 quick volume does not fill a 1024^3 shard
        handle.write(data, absolute_offset=offset, allow_resize=True, allow_unaligned=True)

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        return handle.read(absolute_offset=offset, size=size)  # type: ignore[no-any-return]


def tensorstore_spec(path: Path, dtype: np.dtype[Any], shape: Box, shard: int) -> dict[str, Any]:
    """The `zarr3` array webknossos 4.3.3 writes for `compress=True`: `(c, x, y, z)`, shards of
    `shard`^3 holding 32^3 chunks stored Fortran-order (transpose 3,2,1,0), zstd level 5 with
    checksum, a crc32c-protected shard index; the shape rounded up to whole shards."""
    rounded = [-(-n // shard) * shard for n in shape]
    return {
        "driver": "zarr3",
        "kvstore": f"file://{path}/",
        "metadata": {
            "shape": [1, *rounded],
            "data_type": dtype.name,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, *[shard] * 3]}},
            "chunk_key_encoding": {"name": "default"},
            "fill_value": 0,
            "dimension_names": ["c", "x", "y", "z"],
            "codecs": [
                {
                    "name": "sharding_indexed",
                    "configuration": {
                        "chunk_shape": [1, CHUNK, CHUNK, CHUNK],
                        "codecs": [
                            {"name": "transpose", "configuration": {"order": [3, 2, 1, 0]}},
                            {"name": "bytes", "configuration": {"endian": "little"}},
                            {
                                "name": "zstd",
                                "configuration": {"level": ZSTD_LEVEL, "checksum": True},
                            },
                        ],
                        "index_codecs": [
                            {"name": "bytes", "configuration": {"endian": "little"}},
                            {"name": "crc32c"},
                        ],
                    },
                }
            ],
        },
        "create": True,
    }


class TensorstoreAdapter(Adapter):
    """Bare tensorstore: `zarr3` driver on a `file://` kvstore at `<path>/<layer>/1`."""

    library = "tensorstore"
    label = "tensorstore"

    def __init__(self, shard: int) -> None:
        super().__init__(shard)
        self.slug = f"ts{shard}"

    def create(self, path: Path, volume: str, shape: Box) -> Any:
        import tensorstore as ts

        mag_dir = path / LAYERS[volume][0] / "1"
        return ts.open(tensorstore_spec(mag_dir, DTYPES[volume], shape, self.shard)).result()

    def open(self, path: Path, volume: str) -> Any:
        import tensorstore as ts

        spec = {"driver": "zarr3", "kvstore": f"file://{path / LAYERS[volume][0] / '1'}/"}
        return ts.open({**spec, "open": True}).result()

    def write(self, handle: Any, data: np.ndarray, offset: Box) -> None:
        x, y, z = offset
        nx, ny, nz = data.shape
        handle[0, x : x + nx, y : y + ny, z : z + nz].write(data).result()

    def read(self, handle: Any, offset: Box, size: Box) -> np.ndarray:
        x, y, z = offset
        nx, ny, nz = size
        return handle[:, x : x + nx, y : y + ny, z : z + nz].read().result()  # type: ignore[no-any-return]


OURS_ADAPTERS = {shard: OursAdapter(shard) for shard in SHARDS}
PEERS: dict[int, list[Adapter]] = {
    shard: [WebknossosAdapter(shard), TensorstoreAdapter(shard)] for shard in SHARDS
}


# -- shared pieces ---------------------------------------------------------------------------------
def _fixture(ctx: Context, adapter: Adapter, volume: str) -> Path:
    """A dataset of `volume` written by `adapter` itself, built once per harness run."""

    def build(path: Path) -> None:
        data = load_volume(ctx.volume_path(volume))  # not cached: freed before timing
        handle = adapter.create(path, volume, ctx.shape)
        adapter.write(handle, data, (0, 0, 0))

    return ctx.fixture(f"z3-{adapter.slug}-{volume}", build)


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


# -- pyramid: downsample mag 1 to mags 2, 4, 8 (isotropic, compressed, sequential) ------------------
def _downsample(adapter: Adapter, layer: Any) -> None:
    if adapter.library == OURS:
        layer.downsample(
            coarsest_mag=COARSEST, sampling_mode="isotropic", compress=True, executor=None
        )
        return
    import webknossos as wk
    from cluster_tools import get_executor

    with get_executor("sequential") as executor:
        layer.downsample(
            coarsest_mag=wk.Mag(COARSEST),
            sampling_mode="isotropic",
            compress=True,
            chunk_shape=CHUNK,
            shard_shape=adapter.shard,
            executor=executor,
        )


def _open_layer(adapter: Adapter, path: Path, volume: str) -> Any:
    return adapter.open(path, volume).layer


def _pyramid(adapter: Adapter, volume: str) -> Impl:
    from .pyramid_bench import _check_mag2, _mag_edge

    mode = "mode" if volume == "segmentation" else "median"

    def setup(ctx: Context) -> Any:
        source = _fixture(ctx, adapter, volume)
        # Untimed warm-up on a 64^3 copy: imports, numba kernels and first-call costs.
        tiny = ctx.fresh_dir("warmup")
        edge = min(64, *ctx.shape)
        small = np.asfortranarray(load_volume(ctx.volume_path(volume))[:edge, :edge, :edge])
        adapter.write(adapter.create(tiny, volume, (edge,) * 3), small, (0, 0, 0))
        _downsample(adapter, _open_layer(adapter, tiny, volume))
        shutil.rmtree(tiny, ignore_errors=True)
        return SimpleNamespace(ctx=ctx, source=source, path=None, layer=None)

    def prepare(state: Any) -> None:
        if state.path is not None:
            state.layer = None
            shutil.rmtree(state.path, ignore_errors=True)
        state.path = state.ctx.fresh_dir("pyramid")
        shutil.copytree(state.source, state.path)
        state.layer = _open_layer(adapter, state.path, volume)

    def run(state: Any) -> None:
        _downsample(adapter, state.layer)

    def check(state: Any, _: Any) -> dict[str, Any]:
        layer = _open_layer(adapter, state.path, volume)
        mags = sorted(_mag_edge(m) for m in layer.mags)
        if mags != [1, *TARGET_MAGS]:
            raise AssertionError(f"mags after downsampling: {mags}")
        mag2 = None
        for mag in TARGET_MAGS:
            shape = tuple(max(1, n // mag) for n in state.ctx.shape)
            data = layer.get_mag(mag).read(absolute_offset=(0, 0, 0), size=state.ctx.shape)[0]
            if data.shape != shape:
                raise AssertionError(f"mag {mag} has shape {data.shape}, expected {shape}")
            if mag == 2:
                mag2 = data
        _check_mag2(load_volume(state.ctx.volume_path(volume)), mag2, mode)
        return {"disk_mib": _disk_mib(state.path / LAYERS[volume][0])}

    label = adapter.label
    if adapter.library != OURS:
        label = "webknossos (numba, sequential executor)"
    return Impl(adapter.library, run, setup, prepare, check, label=label)


# -- registration -----------------------------------------------------------------------------------
register_group(
    Group(
        "zarr3",
        "Zarr v3: write, read, random 64^3 reads, pyramid",
        [
            "One-layer datasets with mag 1 as a sharded Zarr v3 array `(c, x, y, z)`: chunk 32^3, "
            f"zstd level {ZSTD_LEVEL} with checksum, shard 128^3 or webknossos' default 1024^3 "
            "(shown in the row; at 1024 the whole volume is one partly filled shard). Ours: "
            '`add_layer(..., data_format="zarr3").add_mag(1, chunk_shape=32, shard_shape=S, '
            "compress=True)` and `mag.write`/`mag.read`; webknossos 4.3.3: the same calls on a "
            '`data_format="zarr3"` layer, writes with `allow_resize=True, allow_unaligned=True`; '
            "tensorstore: the `zarr3` driver on a `file://` kvstore, opened with exactly the "
            "array metadata webknossos writes (transpose 3,2,1,0, bytes, zstd; bytes + crc32c "
            "shard index; shape rounded up to whole shards), its default context.",
            "Writes go into a fresh empty mag (created untimed) with one call at offset 0; reads and "
            "random reads use a dataset the same library wrote earlier (untimed). Every result is "
            "checked against the source (untimed; random reads: the first 20 boxes). Random reads: "
            "the same fixed-seed unaligned 64^3 boxes as the WKW table (1000 in a full run, 200 "
            "with --quick), one after another through one open handle.",
            "Pyramid: `layer.downsample` of a compressed mag 1 the same library wrote, to mags 2, "
            '4 and 8 (`sampling_mode="isotropic"`, `compress=True`, median for the image, mode '
            "for the segmentation), sequential: ours `executor=None`; webknossos "
            '`executor=cluster_tools.get_executor("sequential")` with `chunk_shape=32, '
            "shard_shape=S` for the new mags (ours takes them from mag 1). A 64^3 warm-up pyramid "
            "is built untimed first. Tensorstore has no pyramid: no peer there.",
            "webknossos 4.3.3 holds whole 1024^3 shards in memory (4 GiB for uint32): writing a "
            "128^3 uint32 volume into one took 19 s and 8.4 GiB RSS, and at 512^3 its write and its "
            "pyramid of the uint32 segmentation were killed by the OOM killer on a 23 GiB machine, "
            "so those two 1024^3 segmentation rows have no webknossos peer (its read rows do: the "
            "fixture it reads is written once, untimed).",
        ],
    )
)

for _shard in SHARDS:
    _ours = OURS_ADAPTERS[_shard]
    _peers = PEERS[_shard]
    for _volume in ("image", "segmentation"):
        _what = f"{VOLUME_TITLES[_volume]}, shard {_shard}"
        _key = f"shard{_shard}.{_volume}"
        register(
            Workload(
                f"zarr3.write.{_key}",
                "zarr3",
                f"zarr3 write zstd, {_what}",
                _full_write(_ours, _volume),
                [
                    _full_write(a, _volume)
                    for a in _peers
                    if a.library != "webknossos" or ("write", _shard, _volume) not in WK_OOM_ROWS
                ],
            )
        )
        register(
            Workload(
                f"zarr3.read.{_key}",
                "zarr3",
                f"zarr3 read zstd, {_what}",
                _full_read(_ours, _volume),
                [_full_read(a, _volume) for a in _peers],
            )
        )
        register(
            Workload(
                f"zarr3.random64.{_key}",
                "zarr3",
                f"zarr3 random 64^3 reads, {_what}",
                _random_reads(_ours, _volume),
                [_random_reads(a, _volume) for a in _peers],
            )
        )
        _pyramid_peers = [
            _pyramid(a, _volume)
            for a in _peers
            if a.library == "webknossos" and ("pyramid", _shard, _volume) not in WK_OOM_ROWS
        ]
        if _pyramid_peers:  # a row needs a peer to compare with
            register(
                Workload(
                    f"zarr3.pyramid.{_key}",
                    "zarr3",
                    f"zarr3 pyramid to mag 8, {_what}",
                    _pyramid(_ours, _volume),
                    _pyramid_peers,
                    min_repeat=MIN_REPEAT_PYRAMID,
                )
            )
