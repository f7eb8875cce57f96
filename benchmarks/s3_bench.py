"""Object storage workloads: Zarr v3 and precomputed on a local S3 server, ours vs tensorstore.

Each child starts its own S3 server (moto in server mode, a separate process on 127.0.0.1, so
its Python does not share our interpreter's lock) and a fresh bucket, untimed. The volume is the
image uint8 cut to at most 256^3 (the server keeps every object in memory). Ours opens
`s3://bucket/ds` with the endpoint from the environment; tensorstore uses its `s3` kvstore with
the same endpoint, the same layout (Zarr v3: chunk 32^3, shard 128^3, zstd as webknossos
writes; precomputed: unsharded raw 64^3 chunks) and its default context. Absolute times say
more about moto than about S3; the ratios compare the two clients on the same server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from types import SimpleNamespace
from typing import Any

import numpy as np

from .data import DTYPES, load_volume, random_boxes
from .harness import OURS, Context, Group, Impl, Workload, register, register_group

VOLUME = "image"
EDGE = 256  # at most this many voxels per axis
READ_BOX = 64
KEY, SECRET = "bench-key", "bench-secret"
TENSORSTORE = "tensorstore"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server() -> SimpleNamespace:
    """moto's S3 in its own process, credentials and endpoint in the environment, one bucket."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION="us-east-1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET
    )
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(Bucket=bucket)
            break
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.1)
    return SimpleNamespace(proc=proc, endpoint=endpoint, bucket=bucket)


def _stop_server(state: Any) -> None:
    state.server.proc.terminate()
    state.server.proc.wait(timeout=10)


def _volume(ctx: Context) -> np.ndarray:
    edges = tuple(min(n, EDGE) for n in ctx.shape)
    data = load_volume(ctx.volume_path(VOLUME))
    return np.ascontiguousarray(data[: edges[0], : edges[1], : edges[2]])


# -- the two clients ------------------------------------------------------------------------------
def _ours_create(state: Any, fmt: str) -> Any:
    import webknossos_like as wkl

    ds = wkl.Dataset(f"s3://{state.server.bucket}/{uuid.uuid4().hex[:8]}", voxel_size=(1, 1, 1))
    if fmt == "zarr3":
        layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3")
        return layer.add_mag(1, chunk_shape=32, shard_shape=128, compress=True)
    layer = ds.add_layer("color", "color", dtype="uint8", data_format="neuroglancerPrecomputed")
    return layer.add_mag(1, chunk_shape=64, encoding="raw", sharded=False)


def _ts_spec(state: Any, fmt: str, shape: tuple[int, int, int]) -> dict[str, Any]:
    kvstore = {
        "driver": "s3",
        "bucket": state.server.bucket,
        "path": f"{uuid.uuid4().hex[:8]}/color/",
        "endpoint": state.server.endpoint,
        "aws_region": "us-east-1",
    }
    if fmt == "zarr3":
        from .zarr3_bench import tensorstore_spec

        spec = tensorstore_spec(state.scratch, np.dtype(DTYPES[VOLUME]), shape, 128)
        return {**spec, "kvstore": {**kvstore, "path": kvstore["path"] + "1/"}}
    return {
        "driver": "neuroglancer_precomputed",
        "kvstore": kvstore,
        "multiscale_metadata": {"type": "image", "data_type": "uint8", "num_channels": 1},
        "scale_metadata": {
            "size": list(shape),
            "voxel_offset": [0, 0, 0],
            "resolution": [1, 1, 1],
            "encoding": "raw",
            "chunk_size": [64, 64, 64],
        },
        "create": True,
    }


def _ts_create(state: Any, fmt: str) -> Any:
    import tensorstore as ts

    handle = ts.open(_ts_spec(state, fmt, state.data.shape)).result()
    return handle if fmt == "zarr3" else handle[ts.d["channel"][0]]


def _ts_write(handle: Any, data: np.ndarray, fmt: str) -> None:
    target = handle[0] if fmt == "zarr3" else handle
    nx, ny, nz = data.shape
    target[:nx, :ny, :nz].write(data).result()


def _ts_read(handle: Any, fmt: str, offset: tuple[int, ...], size: tuple[int, ...]) -> np.ndarray:
    target = handle[0] if fmt == "zarr3" else handle
    (x, y, z), (nx, ny, nz) = offset, size
    return np.asarray(target[x : x + nx, y : y + ny, z : z + nz].read().result())


def _ours_read(mag: Any, offset: tuple[int, ...], size: tuple[int, ...]) -> np.ndarray:
    return np.asarray(mag.read(absolute_offset=offset, size=size)[0])


# -- workloads --------------------------------------------------------------------------------------
def _setup(ctx: Context, library: str, fmt: str, fixture: bool) -> Any:
    state = SimpleNamespace(server=_start_server(), data=_volume(ctx), scratch=ctx.scratch)
    state.boxes = random_boxes(state.data.shape, max(20, ctx.random_reads // 10), size=READ_BOX)
    if fixture:  # reads use a volume the same library wrote (untimed)
        state.handle = _create(state, library, fmt)
        _write(state, library, fmt)
    return state


def _create(state: Any, library: str, fmt: str) -> Any:
    return _ours_create(state, fmt) if library == OURS else _ts_create(state, fmt)


def _write(state: Any, library: str, fmt: str) -> None:
    if library == OURS:
        state.handle.write(state.data[None], absolute_offset=(0, 0, 0))
    else:
        _ts_write(state.handle, state.data, fmt)


def _read(
    state: Any, library: str, fmt: str, offset: tuple[int, ...], size: tuple[int, ...]
) -> np.ndarray:
    if library == OURS:
        return _ours_read(state.handle, offset, size)
    return _ts_read(state.handle, fmt, offset, size)


def _impl(library: str, fmt: str, kind: str) -> Impl:
    def setup(ctx: Context) -> Any:
        return _setup(ctx, library, fmt, fixture=kind != "write")

    def prepare(state: Any) -> None:
        if kind == "write":
            state.handle = _create(state, library, fmt)  # a fresh array for every repetition

    def run(state: Any) -> Any:
        if kind == "write":
            _write(state, library, fmt)
            return None
        if kind == "read":
            return _read(state, library, fmt, (0, 0, 0), state.data.shape)
        for box in state.boxes:
            _read(state, library, fmt, box, (READ_BOX,) * 3)
        return None

    def check(state: Any, result: Any) -> dict[str, Any] | None:
        got = result if kind == "read" else _read(state, library, fmt, (0, 0, 0), state.data.shape)
        if not np.array_equal(got, state.data):
            raise AssertionError(f"{library} {fmt} {kind}: data read back differs")
        return None

    label = OURS if library == OURS else TENSORSTORE
    return Impl(library, run, setup, prepare, check, _stop_server, label=label)


register_group(
    Group(
        "s3",
        "Object storage (S3, local moto server): write, read, random 64^3 reads",
        [
            "Image uint8, at most 256^3 (16 MiB in a full run), on a moto S3 server in its own "
            "process on 127.0.0.1 (started untimed in every child, fresh bucket). Ours: "
            "`Dataset('s3://bucket/ds')` with the endpoint from `AWS_ENDPOINT_URL`, default "
            "settings (Zarr v3 through tensorstore; precomputed through s3fs, up to 16 requests "
            "in flight). Peer: tensorstore's `s3` kvstore, default context, same layout.",
            "Reads use a volume the same library wrote (untimed). Random reads: 1/10 of the "
            "run's random-read count, at least 20 boxes.",
            "Absolute times mostly measure moto (Python); compare the ratios.",
        ],
    )
)

TITLES = {"zarr3": "Zarr v3 (zstd, shard 128^3)", "precomputed": "precomputed (raw, unsharded)"}
KINDS = {"write": "write", "read": "full read", "random": "random 64^3 reads"}
for _fmt, _fmt_title in TITLES.items():
    for _kind, _kind_title in KINDS.items():
        if _fmt == "zarr3" and _kind == "random":
            continue  # the random reads row is the precomputed one (our own S3 reader)
        register(
            Workload(
                f"s3.{_fmt}.{_kind}",
                "s3",
                f"{_fmt_title}: {_kind_title}",
                _impl(OURS, _fmt, _kind),
                [_impl(TENSORSTORE, _fmt, _kind)],
            )
        )
