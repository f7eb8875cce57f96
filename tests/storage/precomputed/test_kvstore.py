"""The precomputed key-value stores: the shared contract, local files, HTTP (a local server), memory."""

from __future__ import annotations

import gzip
import os
import pickle
import re
import socket
import stat
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from webknossos_like import _atomic
from webknossos_like.errors import (
    CorruptChunkError,
    InvalidNameError,
    ReadOnlyError,
    StorageError,
)
from webknossos_like.storage.precomputed.kvstore import (
    FileKVStore,
    HTTPKVStore,
    KVStore,
    MemoryKVStore,
    normalize_url,
    open_kvstore,
)

PAYLOAD = bytes(range(256)) * 4  # 1024 bytes
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")

# --------------------------------------------------------------------------------------------
# A static file server on 127.0.0.1 with Range, gzip_static-style Content-Encoding and faults.


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.ignore_range = False  # answer Range requests with 200 and the whole body
        self.fail_once: set[str] = set()  # paths that answer 500 once
        self.status: dict[str, int] = {}  # paths that always answer with this status
        self.redirect: dict[str, str] = {}  # path -> Location (302)
        self.drop_keepalive = False  # close the connection after each reply without saying so
        self.log: list[
            tuple[str, str, int, dict[str, str], int]
        ] = []  # method, path, status, headers, port
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def requests(self, path: str) -> list[tuple[str, str, int, dict[str, str], int]]:
        with self.lock:
            return [entry for entry in self.log if entry[1] == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _reply(self, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        path = urllib.parse.urlsplit(self.path).path  # absolute form when used as a proxy
        with self.server.lock:
            self.server.log.append(
                (self.command, path, status, dict(self.headers.items()), self.client_address[1])
            )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
        if self.server.drop_keepalive:
            self.close_connection = True

    def _serve(self, head: bool) -> None:
        server = self.server
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path in server.status:
            self._reply(server.status[path], b"denied", {}, head)
            return
        if path in server.fail_once:
            server.fail_once.discard(path)
            self._reply(500, b"try again", {}, head)
            return
        if path in server.redirect:
            self._reply(302, b"", {"Location": server.redirect[path]}, head)
            return
        file = (server.root / path.lstrip("/")).resolve()
        if not file.is_relative_to(server.root.resolve()):
            self._reply(403, b"", {}, head)
            return
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        gz = file.with_name(file.name + ".gz")
        if file.is_file():
            body = file.read_bytes()
        elif gz.is_file() and accepts_gzip:  # like nginx `gzip_static`
            self._reply(200, gz.read_bytes(), {"Content-Encoding": "gzip"}, head)
            return
        elif gz.is_file():  # like GCS decompressive transcoding: whole body, Range ignored
            self._reply(200, gzip.decompress(gz.read_bytes()), {}, head)
            return
        else:
            self._reply(404, b"not found", {}, head)
            return
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        if match is None or server.ignore_range:
            self._reply(200, body, {}, head)
            return
        first, last = int(match.group(1)), int(match.group(2))
        if first >= len(body):
            self._reply(416, b"", {"Content-Range": f"bytes */{len(body)}"}, head)
            return
        last = min(last, len(body) - 1)
        content_range = f"bytes {first}-{last}/{len(body)}"
        self._reply(206, body[first : last + 1], {"Content-Range": content_range}, head)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    root = tmp_path / "served"
    root.mkdir()
    srv = _Server(root)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
def http_store(server: _Server) -> Iterator[HTTPKVStore]:
    store = HTTPKVStore(server.base + "/data", timeout=5, retries=1)
    yield store
    store.close()


# --------------------------------------------------------------------------------------------
# One fixture for the contract of all three stores


@dataclass
class Env:
    store: KVStore
    seed: Callable[[str, bytes], None]  # store a value behind the store's back


@pytest.fixture(params=["file", "memory", "http"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Env:
    if request.param == "file":
        store = FileKVStore(tmp_path / "root")
        return Env(store, FileKVStore(tmp_path / "root").put)
    if request.param == "memory":
        memory = MemoryKVStore()
        return Env(memory, memory.put)
    srv: _Server = request.getfixturevalue("server")
    http = request.getfixturevalue("http_store")
    return Env(http, FileKVStore(srv.root / "data").put)


@pytest.fixture(params=["file", "memory"])
def writable(request: pytest.FixtureRequest, tmp_path: Path) -> KVStore:
    if request.param == "file":
        return FileKVStore(tmp_path / "root")
    return MemoryKVStore()


def test_absent_keys(env: Env) -> None:
    assert env.store.get("nope") is None
    assert env.store.get("no/such/key") is None
    assert env.store.get_range("nope", 0, 10) is None
    assert env.store.get_range("nope", 5, 5) is None
    assert not env.store.exists("nope")


def test_get_and_ranges(env: Env) -> None:
    env.seed("8_8_40/0-64_0-64_0-8", PAYLOAD)
    store = env.store
    assert store.get("8_8_40/0-64_0-64_0-8") == PAYLOAD
    assert store.exists("8_8_40/0-64_0-64_0-8")
    assert store.get_range("8_8_40/0-64_0-64_0-8", 10, 20) == PAYLOAD[10:20]
    assert store.get_range("8_8_40/0-64_0-64_0-8", 0, 1) == PAYLOAD[:1]
    assert store.get_range("8_8_40/0-64_0-64_0-8", 1000, 5000) == PAYLOAD[1000:]  # clipped
    assert store.get_range("8_8_40/0-64_0-64_0-8", 1024, 2000) == b""  # past the end
    assert store.get_range("8_8_40/0-64_0-64_0-8", 7, 7) == b""
    assert not store.exists("8_8_40")  # a folder is not a value
    assert store.get("8_8_40/0-64_0-64_0-8.gz") is None


def test_child_and_parent_segments(env: Env) -> None:
    env.seed("a/k", b"in a")
    env.seed("b/k", b"in b")
    child = env.store.child("a")
    assert child.get("k") == b"in a"
    assert child.get("../b/k") == b"in b"  # precomputed scale keys may contain ..
    assert child.get_range("../b/k", 3, 10) == b"b"
    assert child.child("../b").get("k") == b"in b"
    assert env.store.child("").get("a/k") == b"in a"


@pytest.mark.parametrize("key", ["/abs", "/etc/passwd", ""])
def test_reads_refuse_absolute_and_empty_keys(env: Env, key: str) -> None:
    with pytest.raises(InvalidNameError):
        env.store.get(key)


def test_put_get_delete_exists(writable: KVStore) -> None:
    assert writable.supports_writes
    writable.put("k", b"one")
    writable.put("deep/er/k", b"two")
    assert writable.get("k") == b"one"
    assert writable.get("deep/er/k") == b"two"
    writable.put("k", b"three")  # replaces
    assert writable.get("k") == b"three"
    assert writable.get_range("k", 1, 3) == b"hr"
    writable.delete("k")
    writable.delete("k")  # absent is fine
    writable.delete("never/was")
    assert writable.get("k") is None
    assert not writable.exists("k")
    assert writable.exists("deep/er/k")


def test_list_prefix(writable: KVStore) -> None:
    assert writable.supports_listing
    keys = ["info", "8_8_40/0-64_0-64_0-8", "8_8_40/64-128_0-64_0-8", "16_16_40/0-32_0-32_0-4"]
    for key in keys:
        writable.put(key, b"x")
    assert sorted(writable.list_prefix("")) == sorted(keys)
    assert sorted(writable.list_prefix("8_8_40/")) == sorted(keys[1:3])
    assert sorted(writable.list_prefix("8_8_40/64-")) == [keys[2]]
    assert sorted(writable.list_prefix("1")) == [keys[3]]
    assert list(writable.list_prefix("nothing/")) == []
    child = writable.child("8_8_40")
    assert sorted(child.list_prefix("")) == ["0-64_0-64_0-8", "64-128_0-64_0-8"]


def test_child_writes_land_under_the_prefix(writable: KVStore) -> None:
    child = writable.child("scale")
    child.put("c", b"1")
    assert writable.get("scale/c") == b"1"
    writable.put("scale/d", b"2")
    assert child.get("d") == b"2"
    child.delete("c")
    assert not writable.exists("scale/c")
    assert child.url != writable.url


@pytest.mark.parametrize(
    "key", ["../x", "a/../../x", "/abs", "a//b", "a/", "", "./a", "a/./b", "a\\b", "..", "a/.."]
)
def test_writes_refuse_escaping_keys(writable: KVStore, key: str) -> None:
    with pytest.raises(InvalidNameError):
        writable.put(key, b"x")
    with pytest.raises(InvalidNameError):
        writable.delete(key)
    with pytest.raises(ValueError):  # InvalidNameError is a ValueError
        writable.child("a").put(key, b"x")


# --------------------------------------------------------------------------------------------
# Local files


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_file_atomic_put_leaves_no_temp_files(tmp_path: Path) -> None:
    store = FileKVStore(tmp_path)
    for i in range(5):
        store.put("s/k", bytes([i]) * 100)
    assert store.get("s/k") == bytes([4]) * 100
    assert _all_files(tmp_path) == ["s/k"]


def test_file_failed_put_keeps_old_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileKVStore(tmp_path)
    store.put("k", b"old")

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(StorageError, match="k"):
        store.put("k", b"new")
    monkeypatch.undo()
    assert store.get("k") == b"old"
    assert _all_files(tmp_path) == ["k"]


def test_file_readers_see_old_or_new(tmp_path: Path) -> None:
    store = FileKVStore(tmp_path)
    old, new = b"a" * 200_000, b"b" * 200_000
    store.put("k", old)
    seen: set[tuple[bytes, bytes, int] | None] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            data = store.get("k")
            seen.add(None if data is None else (data[:1], data[-1:], len(data)))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(20):
            store.put("k", new if i % 2 == 0 else old)
    finally:
        stop.set()
        reader.join(timeout=10)
    assert seen <= {(b"a", b"a", len(old)), (b"b", b"b", len(new))}
    assert seen


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_file_modes_follow_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        store = FileKVStore(tmp_path)
        store.put("new/k", b"x")
        FileKVStore(tmp_path, gzip=True).put("new/g", b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new/k").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "new/g.gz").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o777 & ~umask


def test_file_gzip_round_trip(tmp_path: Path) -> None:
    store = FileKVStore(tmp_path, gzip=True)
    assert store.gzip
    store.put("s/k", PAYLOAD)
    assert _all_files(tmp_path) == ["s/k.gz"]
    raw = (tmp_path / "s/k.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert raw[4:8] == b"\0\0\0\0"  # mtime 0: reproducible bytes
    assert gzip.decompress(raw) == PAYLOAD
    assert store.get("s/k") == PAYLOAD
    assert store.get_range("s/k", 100, 110) == PAYLOAD[100:110]
    assert store.exists("s/k")
    assert list(store.list_prefix("s/")) == ["s/k"]
    store.put("s/k", PAYLOAD)
    assert (tmp_path / "s/k.gz").read_bytes() == raw
    # A plain put removes the stale .gz, and a gzip put removes the stale plain file.
    FileKVStore(tmp_path).put("s/k", b"plain")
    assert _all_files(tmp_path) == ["s/k"]
    store.put("s/k", b"zipped")
    assert _all_files(tmp_path) == ["s/k.gz"]
    assert FileKVStore(tmp_path).get("s/k") == b"zipped"
    store.delete("s/k")
    assert _all_files(tmp_path) == []


def test_file_reads_gz_written_by_others(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s/x.gz").write_bytes(gzip.compress(PAYLOAD))
    (tmp_path / "s/y").write_bytes(b"plain")
    store = FileKVStore(tmp_path)  # gzip=False still reads .gz
    assert store.get("s/x") == PAYLOAD
    assert store.get_range("s/x", 1000, 2000) == PAYLOAD[1000:]
    assert store.get_range("s/x", 2000, 3000) == b""
    assert store.exists("s/x")
    assert sorted(store.list_prefix("")) == ["s/x", "s/y"]
    # Both present (a crash between write and cleanup, or two tools): the plain file wins.
    (tmp_path / "s/y.gz").write_bytes(gzip.compress(b"zipped"))
    assert store.get("s/y") == b"plain"
    assert sorted(store.list_prefix("s/")) == ["s/x", "s/y"]
    store.delete("s/y")
    assert store.get("s/y") is None


def test_file_corrupt_gz_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "x.gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(CorruptChunkError, match=re.escape(str(tmp_path / "x.gz"))):
        FileKVStore(tmp_path).get("x")


def test_file_listing_skips_temp_files(tmp_path: Path) -> None:
    store = FileKVStore(tmp_path)
    store.put("s/k", b"x")
    (tmp_path / "s" / f"{_atomic.TEMP_PREFIX}abc").write_bytes(b"half")
    (tmp_path / f"{_atomic.TEMP_PREFIX}dir").mkdir()
    (tmp_path / f"{_atomic.TEMP_PREFIX}dir/k").write_bytes(b"x")
    assert list(store.list_prefix("")) == ["s/k"]


def test_file_symlink_escapes_refused_for_writes(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"keep")
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "link").symlink_to(outside / "secret")
    store = FileKVStore(root)
    for key in ["out/x", "out/secret", "link"]:
        with pytest.raises(InvalidNameError, match="outside"):
            store.put(key, b"evil")
    with pytest.raises(InvalidNameError):
        store.delete("out/secret")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"keep"
    assert store.get("out/secret") == b"keep"  # reads may follow symlinks
    # A symlink that stays inside the root is fine.
    (root / "inner").mkdir()
    (root / "alias").symlink_to(root / "inner", target_is_directory=True)
    store.put("alias/k", b"ok")
    assert (root / "inner/k").read_bytes() == b"ok"


def test_file_child_keeps_the_write_fence(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b/k").write_bytes(b"sibling")
    store = FileKVStore(tmp_path / "a")
    sibling = store.child("../b")
    assert sibling.root == tmp_path / "b"
    assert sibling.get("k") == b"sibling"
    with pytest.raises(InvalidNameError, match="outside"):
        sibling.put("k", b"x")
    assert FileKVStore(tmp_path).child("a").child("../b").get("k") == b"sibling"
    FileKVStore(tmp_path).child("a").child("../b").put("k2", b"ok")  # inside the outer root
    assert (tmp_path / "b/k2").read_bytes() == b"ok"


def test_file_read_only(tmp_path: Path) -> None:
    FileKVStore(tmp_path).put("k", b"x")
    store = FileKVStore(tmp_path, read_only=True)
    assert not store.supports_writes
    assert store.get("k") == b"x"
    with pytest.raises(ReadOnlyError, match="read-only"):
        store.put("k", b"y")
    with pytest.raises(PermissionError):
        store.delete("k")
    assert not store.child("sub").supports_writes
    assert (tmp_path / "k").read_bytes() == b"x"


def test_file_pickle_and_repr(tmp_path: Path) -> None:
    store = FileKVStore(tmp_path / "a", gzip=True).child("../b")
    clone = pickle.loads(pickle.dumps(store))
    assert clone == store
    assert hash(clone) == hash(store)
    with pytest.raises(InvalidNameError):  # the write fence travels with the pickle
        clone.put("k", b"v")
    plain = pickle.loads(pickle.dumps(FileKVStore(tmp_path / "b", gzip=True)))
    plain.put("k", b"v")
    assert store.get("k") == b"v"
    assert (tmp_path / "b/k.gz").exists()
    assert repr(store) == f"FileKVStore({str(tmp_path / 'b')!r}, gzip=True)"
    assert store.url == (tmp_path / "b").as_uri()


def test_file_relative_root_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = FileKVStore("rel")
    monkeypatch.chdir("/")
    store.put("k", b"x")
    assert (tmp_path / "rel/k").read_bytes() == b"x"


def test_file_listing_follows_symlinks_without_looping(tmp_path: Path) -> None:
    store = FileKVStore(tmp_path)
    store.put("inner/k", b"x")
    (tmp_path / "alias").symlink_to(tmp_path / "inner", target_is_directory=True)
    (tmp_path / "inner/loop").symlink_to(tmp_path, target_is_directory=True)
    assert sorted(store.list_prefix("")) == ["alias/k", "inner/k"]


def test_file_get_of_a_folder_or_under_a_file_is_absent(tmp_path: Path) -> None:
    store = FileKVStore(tmp_path)
    store.put("a/b", b"x")
    assert store.get("a") is None
    assert store.get("a/b/c") is None
    assert list(store.list_prefix("a/b/")) == []


# --------------------------------------------------------------------------------------------
# HTTP


def _seed(server: _Server, key: str, data: bytes, *, gz: bool = False) -> None:
    path = server.root / "data" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)


def test_http_get_and_206_ranges(server: _Server, http_store: HTTPKVStore) -> None:
    _seed(server, "shard", PAYLOAD)
    assert http_store.get("shard") == PAYLOAD
    assert http_store.get_range("shard", 100, 200) == PAYLOAD[100:200]
    method, _, status, headers, _ = server.requests("/data/shard")[-1]
    assert (method, status, headers["Range"]) == ("GET", 206, "bytes=100-199")
    assert http_store.get_range("shard", 1000, 4000) == PAYLOAD[1000:]
    assert server.requests("/data/shard")[-1][2] == 206


def test_http_range_past_the_end_is_empty(server: _Server, http_store: HTTPKVStore) -> None:
    _seed(server, "shard", PAYLOAD)
    assert http_store.get_range("shard", 5000, 6000) == b""
    assert server.requests("/data/shard")[-1][2] == 416


def test_http_range_answered_with_whole_body(server: _Server, http_store: HTTPKVStore) -> None:
    _seed(server, "shard", PAYLOAD)
    server.ignore_range = True
    assert http_store.get_range("shard", 100, 200) == PAYLOAD[100:200]
    assert http_store.get_range("shard", 1000, 4000) == PAYLOAD[1000:]
    assert http_store.get_range("shard", 4000, 5000) == b""
    assert {entry[2] for entry in server.requests("/data/shard")} == {200}


def test_http_gzip_content_encoding(server: _Server, http_store: HTTPKVStore) -> None:
    _seed(server, "8_8_40/0-64_0-64_0-8", PAYLOAD, gz=True)
    assert http_store.get("8_8_40/0-64_0-64_0-8") == PAYLOAD
    _, _, status, headers, _ = server.requests("/data/8_8_40/0-64_0-64_0-8")[-1]
    assert status == 200
    assert "gzip" in headers["Accept-Encoding"]
    # A range of a gzip-only file: the server transcodes and ignores Range; we slice.
    assert http_store.get_range("8_8_40/0-64_0-64_0-8", 10, 30) == PAYLOAD[10:30]
    assert http_store.exists("8_8_40/0-64_0-64_0-8")


def test_http_missing_is_none(server: _Server, http_store: HTTPKVStore) -> None:
    assert http_store.get("nope") is None
    assert http_store.get_range("nope", 0, 10) is None
    assert not http_store.exists("nope")
    assert server.requests("/data/nope")[0][2] == 404


def test_http_retries_a_500(server: _Server) -> None:
    _seed(server, "k", b"value")
    server.fail_once.add("/data/k")
    store = HTTPKVStore(server.base + "/data", timeout=5, retries=1)
    assert store.get("k") == b"value"
    assert [entry[2] for entry in server.requests("/data/k")] == [500, 200]
    server.fail_once.add("/data/k")
    with pytest.raises(StorageError, match=r"/data/k.*500"):
        HTTPKVStore(server.base + "/data", timeout=5, retries=0).get("k")
    store.close()


def test_http_persistent_5xx_gives_up(server: _Server) -> None:
    server.status["/data/k"] = 503
    store = HTTPKVStore(server.base + "/data", timeout=5, retries=2)
    with pytest.raises(StorageError, match=r"after 3 attempt"):
        store.get("k")
    assert len(server.requests("/data/k")) == 3
    store.close()


@pytest.mark.parametrize("status", [403, 400, 401, 418])
def test_http_errors_name_the_url(server: _Server, http_store: HTTPKVStore, status: int) -> None:
    server.status["/data/k"] = status
    url = server.base + "/data/k"
    with pytest.raises(StorageError, match=re.escape(url) + f".*{status}"):
        http_store.get("k")
    with pytest.raises(StorageError, match=str(status)):
        http_store.get_range("k", 0, 10)
    with pytest.raises(StorageError, match=str(status)):
        http_store.exists("k")
    assert len(server.requests("/data/k")) == 3  # client errors are not retried


def test_http_forbidden_as_missing(server: _Server) -> None:
    server.status["/data/k"] = 403
    store = HTTPKVStore(server.base + "/data", timeout=5, forbidden_as_missing=True)
    assert store.get("k") is None
    assert store.get_range("k", 0, 4) is None
    assert not store.exists("k")
    store.close()


def test_http_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = HTTPKVStore(f"http://127.0.0.1:{port}/x", timeout=2, retries=1)
    with pytest.raises(StorageError, match=f"127.0.0.1:{port}/x/k"):
        store.get("k")


def test_http_keep_alive_and_stale_connections(server: _Server) -> None:
    _seed(server, "k", b"value")
    store = HTTPKVStore(server.base + "/data", timeout=5, retries=0)
    for _ in range(5):
        assert store.get("k") == b"value"
    assert len({entry[4] for entry in server.requests("/data/k")}) == 1  # one connection
    # The server now drops idle connections without notice; the client reconnects for free.
    server.drop_keepalive = True
    for _ in range(3):
        assert store.get("k") == b"value"
    store.close()


def test_http_threads(server: _Server, http_store: HTTPKVStore) -> None:
    for i in range(8):
        _seed(server, f"k{i}", bytes([i]) * 1000)
    results: dict[int, bytes | None] = {}

    def work(i: int) -> None:
        results[i] = http_store.get_range(f"k{i}", 10, 20)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == {i: bytes([i]) * 10 for i in range(8)}


def test_http_redirect(server: _Server, http_store: HTTPKVStore) -> None:
    _seed(server, "real", b"moved")
    server.redirect["/data/old"] = "/data/real"
    assert http_store.get("old") == b"moved"


def test_http_through_proxy_env(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(server, "k", b"proxied")
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):  # CI machines may set these
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", server.base)
    store = HTTPKVStore("http://kvstore-test.invalid/data", timeout=5, retries=0)
    assert store.get("k") == b"proxied"
    assert store.get_range("k", 1, 3) == b"ro"
    assert store.get("missing") is None
    assert server.requests("/data/k")


def test_http_is_read_only_and_unlisted(http_store: HTTPKVStore) -> None:
    assert not http_store.supports_writes
    assert not http_store.supports_listing
    with pytest.raises(ReadOnlyError):
        http_store.put("k", b"x")
    with pytest.raises(ReadOnlyError):
        http_store.delete("k")
    with pytest.raises(StorageError, match="listing is not supported over HTTP"):
        http_store.list_prefix("")


def test_http_pickle_and_urls(server: _Server, http_store: HTTPKVStore) -> None:
    _seed(server, "k", b"v")
    assert http_store.get("k") == b"v"  # opens a pooled connection
    clone = pickle.loads(pickle.dumps(http_store))
    assert clone == http_store
    assert clone.get("k") == b"v"
    clone.close()
    assert http_store.key_url("a/../b/c d") == server.base + "/data/b/c%20d"
    assert http_store.key_url("../../../x") == server.base + "/x"
    assert http_store.child("s").url == server.base + "/data/s"
    assert repr(http_store) == f"HTTPKVStore({server.base + '/data'!r})"


# --------------------------------------------------------------------------------------------
# Memory, URLs and open_kvstore


def test_memory_children_share_the_dict() -> None:
    store = MemoryKVStore()
    child = store.child("a/b")
    child.put("k", b"x")
    assert store.get("a/b/k") == b"x"
    assert store.child("a").child("b").get("k") == b"x"
    assert child.get("../../../k") is None  # above the memory root: absent
    assert child.url == "memory://a/b/"
    with pytest.raises(InvalidNameError):
        child.child("../../..")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(store)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("precomputed://https://host/path/", "https://host/path"),
        ("gs://bucket/path/to/vol", "https://storage.googleapis.com/bucket/path/to/vol"),
        ("precomputed://gs://bucket/vol", "https://storage.googleapis.com/bucket/vol"),
        ("s3://bucket/vol", "https://bucket.s3.amazonaws.com/vol"),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/a"),
        ("/local/path", "/local/path"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_open_kvstore(tmp_path: Path) -> None:
    store = open_kvstore(tmp_path, gzip=True)
    assert isinstance(store, FileKVStore)
    assert store.gzip
    assert store.root == tmp_path
    from_url = open_kvstore(tmp_path.as_uri(), read_only=True)
    assert isinstance(from_url, FileKVStore)
    assert from_url.root == tmp_path
    assert not from_url.supports_writes
    remote = open_kvstore("precomputed://gs://bucket/vol", timeout=3)
    assert isinstance(remote, HTTPKVStore)
    assert remote.url == "https://storage.googleapis.com/bucket/vol"
    assert isinstance(open_kvstore("https://example.org/v"), HTTPKVStore)
    memory = open_kvstore("memory://")
    assert isinstance(memory, MemoryKVStore)
    assert open_kvstore("memory://") is not memory
    assert isinstance(memory, KVStore)
    with pytest.raises(ValueError, match="ftp"):
        open_kvstore("ftp://host/x")
