"""The running server: tensorstore reads identical voxels over HTTP; nothing outside the dataset leaks."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tensorstore as ts

from webknossos_like import BoundingBox, Dataset
from webknossos_like.serve import ServeError, ServerHandle, serve_dataset

from .conftest import OFFSET, SECRET, SHAPE, Sample, fetch


def open_ts(server: ServerHandle, layer: str, scale_index: int = 0) -> object:
    """A tensorstore array of one served scale, without caching (every read goes to the server)."""
    spec = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "http", "base_url": server.layer_url(layer) + "/"},
        "scale_index": scale_index,
        "context": {"cache_pool": {"total_bytes_limit": 0}},
    }
    return ts.open(spec, read=True).result()


@pytest.mark.parametrize("layer", ["color", "segmentation"])
def test_tensorstore_reads_every_mag_identically(
    server: ServerHandle, sample: Sample, layer: str
) -> None:
    source = Dataset.open(sample.path, read_only=True).get_layer(layer)
    assert len(source.mags) >= 3
    for index, (mag, view) in enumerate(source.mags.items()):
        array = open_ts(server, layer, index)
        expected = view.read()  # (c, x, y, z) over the layer box rounded out to the mag
        box = view.bounding_box.in_mag(mag)
        assert list(array.domain.inclusive_min[:3]) == box.topleft.to_list()
        assert list(array.domain.exclusive_max[:3]) == box.bottomright.to_list()
        got = np.moveaxis(array.read().result(), 3, 0)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    if layer == "segmentation":
        assert int(got.max()) > 2**40  # really 64-bit labels
    mag1 = np.moveaxis(open_ts(server, layer).read().result(), 3, 0)[0]
    np.testing.assert_array_equal(mag1, sample.image if layer == "color" else sample.labels)


def test_tensorstore_reads_an_edge_region(server: ServerHandle, sample: Sample) -> None:
    array = open_ts(server, "segmentation")
    x0, y0, z0 = (o + s - 7 for o, s in zip(OFFSET, SHAPE, strict=True))
    got = array[x0:, y0:, z0:].read().result()[..., 0]
    np.testing.assert_array_equal(got, sample.labels[-7:, -7:, -7:])


def test_sharded_layer_is_passed_through_with_ranges(server: ServerHandle, sample: Sample) -> None:
    before = len(server.request_log)
    array = open_ts(server, "sharded")
    box = BoundingBox((50, 30, 10), (20, 9, 3))
    got = array[50:70, 30:39, 10:13].read().result()[..., 0]
    local = BoundingBox(OFFSET, SHAPE)
    inner = box.offset(-local.topleft).to_slices()
    np.testing.assert_array_equal(got, sample.labels[inner] - np.uint64(1 << 40))
    shard_requests = [r for r in server.request_log[before:] if r.path.endswith(".shard")]
    assert shard_requests and all(r.status == 206 for r in shard_requests)
    whole = np.moveaxis(array.read().result(), 3, 0)
    stored = Dataset.open(sample.path, read_only=True).get_layer("sharded").get_mag(1).read()
    np.testing.assert_array_equal(whole, stored)


def test_passthrough_is_byte_for_byte(server: ServerHandle, sample: Sample) -> None:
    for name in ("sharded/info", "sharded/1/0.shard", "plain/1/37-69_21-53_5-37"):
        reply = fetch(server, f"/{name}")
        assert reply.status == 200
        assert reply.body == (sample.path / name).read_bytes()
    shard = (sample.path / "sharded/1/0.shard").read_bytes()
    reply = fetch(
        server, "/sharded/1/0.shard", headers={"Range": "bytes=8-23", "Accept-Encoding": "gzip"}
    )
    assert reply.status == 206 and reply.body == shard[8:24]
    assert reply.headers["content-range"] == f"bytes 8-23/{len(shard)}"
    assert "content-encoding" not in reply.headers
    reply = fetch(server, "/sharded/1/0.shard", headers={"Range": f"bytes={len(shard)}-"})
    assert reply.status == 416 and reply.headers["content-range"] == f"bytes */{len(shard)}"


SECRET_TARGETS = [
    "/plain/../outside/secret.txt",
    "/plain/1/../../../outside/secret.txt",
    "/plain/%2e%2e/%2e%2e/outside/secret.txt",
    "/plain/%2E%2E%2F%2E%2E%2Foutside%2Fsecret.txt",
    "/plain/1/..%2F..%2F..%2Foutside%2Fsecret.txt",
    "/%2e%2e/outside/secret.txt",
    "/..%2Foutside%2Fsecret.txt",
    "//etc/passwd",
    "/%2Fetc%2Fpasswd",
    "/plain/%2Fetc%2Fpasswd",
    "/plain/1/leak",  # a symlink inside the layer pointing to the secret file
    "/plain/leakdir/secret.txt",  # a symlinked folder leading outside
    "/plain/1/ghost",  # `ghost.gz`, a symlink outside, found by the `.gz` fallback
    "/plain/..\\..\\outside\\secret.txt",
    "/v/wkl/../../outside/secret.txt",
    "/v/wkl/%2e%2e/%2e%2e/etc/passwd",
    "/color/1/../../../outside/secret.txt",
    "/plain/.info.lock",
]


@pytest.mark.parametrize("target", SECRET_TARGETS)
def test_nothing_outside_the_dataset_is_served(server: ServerHandle, target: str) -> None:
    for method in ("GET", "HEAD"):
        reply = fetch(server, target, method)
        assert reply.status in (403, 404), (target, reply.status)
        assert SECRET not in reply.body and b"root:" not in reply.body


def test_absolute_form_and_garbage_targets(server: ServerHandle) -> None:
    assert fetch(server, "http://evil.example/etc/passwd").status == 400
    assert fetch(server, "/plain/1/%ff%fe").status == 400
    reply = fetch(server, "/color/1/" + "9" * 5000)
    assert reply.status in (400, 414) and b"Traceback" not in reply.body


def test_malformed_chunk_names(server: ServerHandle) -> None:
    for target in ("/color/1/abc", "/segmentation/1/1-2_3-4_5", "/sharded/1/0.shrd"):
        reply = fetch(server, target)
        assert reply.status == 400 and b"Traceback" not in reply.body
        assert reply.headers["access-control-allow-origin"] == "*"


def test_head_cors_and_content_types(server: ServerHandle) -> None:
    chunk = "/segmentation/1/37-101_21-85_5-53"
    got, head = fetch(server, chunk), fetch(server, chunk, "HEAD")
    assert got.status == head.status == 200 and head.body == b""
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.body))
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["access-control-allow-origin"] == "*"
    info = fetch(server, "/color/info")
    assert info.headers["content-type"] == "application/json" and json.loads(info.body)
    assert fetch(server, "/color/1/1000-1064_21-85_5-53", "HEAD").status == 404
    options = fetch(server, "/color/info", "OPTIONS")
    assert options.status == 204 and options.headers["access-control-allow-origin"] == "*"
    assert fetch(server, "/color/info", "POST").status == 405


def test_gzip_only_when_accepted(server: ServerHandle) -> None:
    target = "/color/1/37-101_21-85_5-53"
    plain = fetch(server, target)
    assert "content-encoding" not in plain.headers and len(plain.body) == 64 * 64 * 48
    packed = fetch(server, target, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed.body) == plain.body
    refused = fetch(server, target, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_concurrent_requests(server: ServerHandle) -> None:
    info = json.loads(fetch(server, "/color/info").body)["scales"][0]
    offset, size = info["voxel_offset"], info["size"]
    names = []
    for x in range(offset[0], offset[0] + size[0], 64):
        for y in range(offset[1], offset[1] + size[1], 64):
            end_x, end_y = min(x + 64, offset[0] + size[0]), min(y + 64, offset[1] + size[1])
            names.append(f"/color/1/{x}-{end_x}_{y}-{end_y}_{offset[2]}-{offset[2] + size[2]}")
    expected = {name: fetch(server, name).body for name in names}
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda name: (name, fetch(server, name)), names * 8))
    assert all(reply.status == 200 and reply.body == expected[name] for name, reply in replies)


def test_binds_to_localhost_and_closes(sample: Sample) -> None:
    with serve_dataset(sample.path) as handle:
        assert handle.host == "127.0.0.1" and handle.url == f"http://127.0.0.1:{handle.port}"
        assert fetch(handle, "/color/info").status == 200
        with pytest.raises(ServeError):
            serve_dataset(sample.path, port=handle.port)
    assert handle.closed
    with pytest.raises(OSError):
        fetch(handle, "/color/info")


def test_metadata_changes_are_picked_up(tmp_path: object, sample: Sample) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "growing"
    dataset = Dataset(folder, voxel_size=(4, 4, 40))
    with serve_dataset(folder) as handle:
        assert json.loads(fetch(handle, "/").body)["layers"] == []
        layer = dataset.add_layer("late", "color", dtype="uint16")
        layer.add_mag(1).write(np.arange(8 * 8 * 8, dtype=np.uint16).reshape(8, 8, 8))
        info = json.loads(fetch(handle, "/late/info").body)
        assert info["data_type"] == "uint16" and info["scales"][0]["size"] == [8, 8, 8]
        body = fetch(handle, "/late/1/0-8_0-8_0-8").body
        np.testing.assert_array_equal(
            np.frombuffer(body, np.uint16).reshape(8, 8, 8).T, layer.get_mag(1).read()[0]
        )


@pytest.mark.regression(
    reason="bug: `wkl serve` followed a precomputed layer folder symlinked outside the dataset "
    "and served any file in it, such as a private key"
)
def test_a_symlinked_layer_serves_its_volume_and_nothing_else(tmp_path: Path) -> None:
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n"
    foreign = Dataset(tmp_path / "foreign", voxel_size=(1, 1, 1))
    volume = foreign.add_layer("pc", "color", data_format="neuroglancerPrecomputed")
    volume.add_mag(1, chunk_shape=32).write(np.full((32, 32, 32), 5, np.uint8))
    (volume.path / "id_rsa").write_bytes(key)
    (volume.path / "1" / "id_rsa").write_bytes(key)
    home = tmp_path / "home"
    home.mkdir()
    (home / "id_rsa").write_bytes(key)
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("linked", "color", data_format="neuroglancerPrecomputed").add_mag(1).write(
        np.ones((8, 8, 8), np.uint8)
    )
    shutil.rmtree(ds.path / "linked")
    os.symlink(volume.path, ds.path / "linked")  # the layer folder now lies elsewhere
    ds.add_layer("home", "color", data_format="neuroglancerPrecomputed").add_mag(1)
    shutil.rmtree(ds.path / "home")
    os.symlink(home, ds.path / "home")  # a "layer" folder that holds no volume at all
    with serve_dataset(ds.path) as server:
        for target in ("/linked/id_rsa", "/linked/1/id_rsa", "/home/id_rsa", "/home/info"):
            for method in ("GET", "HEAD"):
                reply = fetch(server, target, method)
                assert reply.status in (403, 404), (target, reply.status)
                assert key not in reply.body
        info = fetch(server, "/linked/info")  # the referenced volume itself stays readable
        assert info.status == 200 and json.loads(info.body)["scales"]
        chunk = fetch(server, "/linked/1/0-32_0-32_0-32")
        assert chunk.status == 200 and key not in chunk.body


def test_symlinked_wkw_layer_and_scale_folders_leak_nothing(tmp_path: Path) -> None:
    """A WKW layer folder symlinked outside is served as voxels through the library only; a
    precomputed scale folder or chunk file symlinked outside is refused even when the foreign
    file carries a valid chunk name."""
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "0-32_0-32_0-32").write_bytes(key * 100)
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    for name in ("pc", "pc2"):
        layer = ds.add_layer(name, "color", data_format="neuroglancerPrecomputed")
        layer.add_mag(1, chunk_shape=32).write(np.ones((32, 32, 32), np.uint8))
    wkw_layer = ds.add_layer("w", "color")
    wkw_layer.add_mag(1).write(np.full((8, 8, 8), 3, np.uint8))
    shutil.rmtree(ds.path / "pc" / "1")
    os.symlink(outside, ds.path / "pc" / "1")  # a scale folder leading outside
    chunk = ds.path / "pc2" / "1" / "0-32_0-32_0-32"
    chunk.unlink()
    os.symlink(outside / "0-32_0-32_0-32", chunk)  # one chunk file leading outside
    shutil.copytree(ds.path / "w", outside / "w", symlinks=True)
    (outside / "w" / "id_rsa").write_bytes(key)
    (outside / "w" / "1" / "id_rsa").write_bytes(key)
    shutil.rmtree(ds.path / "w")
    os.symlink(outside / "w", ds.path / "w")  # the WKW layer folder lies elsewhere
    with serve_dataset(ds.path) as server:
        for target in (
            "/pc/1/0-32_0-32_0-32",
            "/pc2/1/0-32_0-32_0-32",
            "/w/id_rsa",
            "/w/1/id_rsa",
            "/w/%2e%2e/outside/w/id_rsa",
            "/w/1/..%2Fid_rsa",
        ):
            for method in ("GET", "HEAD"):
                reply = fetch(server, target, method)
                assert 400 <= reply.status < 500, (target, reply.status)
                assert key not in reply.body
        voxels = fetch(server, "/w/1/0-8_0-8_0-8")  # the layer's data, read through the library
        assert voxels.status == 200 and key not in voxels.body
        assert np.frombuffer(voxels.body, np.uint8).max() == 3
