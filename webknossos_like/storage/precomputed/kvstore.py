"""Key-value stores for precomputed volumes: local files, HTTP(S) and memory, behind one contract.

Contract (`KVStore`):

* Keys are `/`-separated paths relative to the store root, e.g. `8_8_40/0-64_0-64_0-64`.
* `get(key)` returns the bytes, or None when the key is absent. Other failures raise
  `StorageError` (an `OSError`) naming the key or URL. `get(key, max_size=n)` refuses a value
  (after decompression) longer than `n` bytes with `CorruptChunkError` naming the file, without
  ever holding more than about `n` bytes of it: hostile files (gzip bombs, sparse files with a
  huge apparent size) cannot exhaust memory.
* `get_range(key, start, end)` returns bytes `[start, end)`, clipped at the end of the value
  (`b""` when `start` is past it), or None when the key is absent.
* `put(key, data)` is atomic: a concurrent reader sees the old or the new value, never a mix.
  `delete(key)` of an absent key is fine. Stores that cannot write raise `ReadOnlyError`.
* `list_prefix(prefix)` yields every key that starts with `prefix` (order unspecified); stores
  without listing raise `StorageError`. Check `supports_writes` / `supports_listing` instead of
  using `isinstance`.
* `child(prefix)` is the store rooted at `root/prefix`; `url` is for messages and `repr`.
* Writes refuse keys that could leave the root (`..`, absolute, empty segments, backslashes,
  or a path that resolves outside through a symlink): `InvalidNameError`. Reads may use `..`
  (precomputed scale keys can), never absolute keys.
* Gzip: file stores read `key`, then `key.gz` (as CloudVolume and neuroglancer-scripts write
  it) and decompress; HTTP stores decode `Content-Encoding: gzip`. Byte ranges always address
  the decompressed bytes.
* File and HTTP stores pickle as their spec (root or URL, options), never live handles.
"""

from __future__ import annotations

import contextlib
import gzip as _gzip
import http.client
import os
import posixpath
import random
import re
import ssl
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

from ..._atomic import TEMP_PREFIX, atomic_write_bytes
from ...errors import (
    CorruptChunkError,
    InvalidArgumentError,
    InvalidNameError,
    ReadOnlyError,
    StorageError,
)
from ._inflate import compressed_size_bound, gunzip_bounded, too_large

if TYPE_CHECKING:
    from ._put_batch import FilePutBatch

__all__ = [
    "FileKVStore",
    "HTTPKVStore",
    "KVStore",
    "MemoryKVStore",
    "normalize_url",
    "open_kvstore",
]

GZIP_SUFFIX = ".gz"
_GZIP_LEVEL = 6  # zlib's default: level 9 costs ~3x the time for a few percent
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_REDIRECTS = 5
_USER_AGENT = "webknossos_like-kvstore"


@runtime_checkable
class KVStore(Protocol):
    """Bytes under `/`-separated keys; see the module docstring for the invariants."""

    @property
    def supports_writes(self) -> bool:
        """Whether `put` and `delete` work (otherwise they raise `ReadOnlyError`)."""

    @property
    def supports_listing(self) -> bool:
        """Whether `list_prefix` works (otherwise it raises `StorageError`)."""

    @property
    def url(self) -> str:
        """Where the store lives, for messages and `repr`."""

    def get(self, key: str, *, max_size: int | None = None) -> bytes | None:
        """The value of `key`, or None if absent; longer than `max_size`: `CorruptChunkError`."""

    def get_range(
        self, key: str, start: int, end: int, *, max_size: int | None = None
    ) -> bytes | None:
        """Bytes `[start, end)` of the value (clipped at its end), or None if absent; `max_size`
        bounds the whole value where a store must decompress it whole."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` atomically."""

    def delete(self, key: str) -> None:
        """Remove `key`; an absent key is not an error."""

    def exists(self, key: str) -> bool:
        """Whether `key` has a value."""

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Every key starting with `prefix`."""

    def child(self, prefix: str) -> KVStore:
        """The store rooted at `root/prefix`."""


# --------------------------------------------------------------------------------------------
# Keys


def _check_write_key(key: str, where: str) -> list[str]:
    """The segments of a key that stays inside the root, or `InvalidNameError`."""
    if not isinstance(key, str):
        raise InvalidNameError(f"{where}: keys are strings, got {type(key).__name__}")
    parts = key.split("/")
    bad = (
        not key
        or key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") for part in parts)
    )
    if bad:
        raise InvalidNameError(
            f"{where}: refusing to write key {key!r}: keys must be relative '/'-separated paths "
            "without '..', '.', empty segments or backslashes"
        )
    return parts


def _check_read_key(key: str, where: str, *, prefix: bool = False) -> str:
    """`key` if it is relative (`..` allowed), else `InvalidNameError`.

    Keys of values must name something (not empty, no trailing `/`); prefixes may be empty.
    """
    if not isinstance(key, str):
        raise InvalidNameError(f"{where}: keys are strings, got {type(key).__name__}")
    if key.startswith(("/", "\\")) or "\x00" in key or re.match(r"^[A-Za-z]:[/\\]", key):
        raise InvalidNameError(f"{where}: key {key!r} must be a relative path")
    if not prefix and (not key or key.endswith("/")):
        raise InvalidNameError(f"{where}: key {key!r} does not name a value")
    return key


def _slice(data: bytes, start: int, end: int) -> bytes:
    return data[start:end] if end > start else b""


def _check_range(start: int, end: int, where: str) -> None:
    if start < 0 or end < 0:
        raise InvalidArgumentError(f"{where}: byte range [{start}, {end}) must not be negative")


def _read_at_most(handle: BinaryIO, size: int, limit: int, where: str) -> bytes:
    """The rest of `handle` (`size` bytes by fstat), or `CorruptChunkError` once it exceeds
    `limit`; buffers are sized by what the file holds, never by a (possibly huge) limit."""
    data = handle.read(min(limit, size) + 1)
    if len(data) > min(limit, size):  # more than fstat said (it grew): read on, in pieces
        while len(data) <= limit:
            more = handle.read(min(limit + 1 - len(data), 1 << 20))
            if not more:
                break
            data += more
    if len(data) > limit:
        raise too_large(where, limit)
    return data


# --------------------------------------------------------------------------------------------
# Local files


class FileKVStore:
    """Flat files under a local folder; `.gz` files are read transparently."""

    supports_listing = True

    def __init__(
        self, root: str | os.PathLike[str], *, gzip: bool = False, read_only: bool = False
    ) -> None:
        self._root = os.path.abspath(os.fspath(root))
        # Writes must resolve inside the fence: the root of the store the user opened, kept by
        # children so that `child("..")` (allowed, for reading) cannot widen it.
        self._fence = self._root
        self._gzip = bool(gzip)
        self._read_only = bool(read_only)

    @property
    def root(self) -> Path:
        """The folder this store reads and writes."""
        return Path(self._root)

    @property
    def gzip(self) -> bool:
        """Whether `put` writes `key.gz` (gzip) instead of `key`."""
        return self._gzip

    @property
    def read_only(self) -> bool:
        """Whether writes are refused."""
        return self._read_only

    @property
    def supports_writes(self) -> bool:
        """False for a read-only store."""
        return not self._read_only

    @property
    def url(self) -> str:
        """The root as a `file://` URL."""
        return Path(self._root).as_uri()

    def __repr__(self) -> str:
        opts = "".join(
            f", {name}=True"
            for name, on in (("gzip", self._gzip), ("read_only", self._read_only))
            if on
        )
        return f"FileKVStore({self._root!r}{opts})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FileKVStore):
            return NotImplemented
        return self._spec() == other._spec()

    def __hash__(self) -> int:
        return hash(self._spec())

    def _spec(self) -> tuple[str, str, bool, bool]:
        return (self._root, self._fence, self._gzip, self._read_only)

    # -- paths

    def _read_path(self, key: str) -> str:
        _check_read_key(key, self._root)
        return os.path.normpath(os.path.join(self._root, *key.split("/")))

    def _write_path(self, key: str) -> str:
        """The path for writing `key`, refused if it (after symlinks) leaves the fence."""
        self._check_writable(key)
        parts = _check_write_key(key, self._root)
        path = os.path.join(self._root, *parts)
        fence = os.path.realpath(self._fence)
        for candidate in (path, path + GZIP_SUFFIX):
            real = os.path.realpath(candidate)
            if os.path.commonpath([fence, real]) != fence:
                raise InvalidNameError(
                    f"{candidate}: refusing to write key {key!r}: it resolves to {real}, "
                    f"outside the store root {fence}"
                )
        return path

    def _check_writable(self, key: str) -> None:
        if self._read_only:
            raise ReadOnlyError(f"{os.path.join(self._root, key)}: the store is read-only")

    # -- reads

    def _read(
        self, path: str, start: int = 0, end: int | None = None, max_size: int | None = None
    ) -> bytes | None:
        """Bytes `[start, end)` of `path` (or of decompressed `path.gz`); None if neither exists.

        `end=None` reads the whole value. A value longer than `max_size` (file size, or size
        after decompression) raises `CorruptChunkError` without being read whole.
        """
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if end is None:
                    if max_size is not None and size > max_size:
                        raise too_large(path, max_size)
                    if max_size is None:
                        return handle.read()
                    return _read_at_most(handle, size, max_size, path)
                end = min(end, size)  # never allocate past EOF
                if end <= start:
                    return b""
                handle.seek(start)
                return handle.read(end - start)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            pass
        except CorruptChunkError:
            raise
        except OSError as exc:
            raise StorageError(f"{path}: cannot read: {exc}") from exc
        gz_path = path + GZIP_SUFFIX
        try:
            with open(gz_path, "rb") as handle:
                if max_size is None:
                    raw = handle.read()
                else:
                    size = os.fstat(handle.fileno()).st_size
                    raw = _read_at_most(handle, size, compressed_size_bound(max_size), gz_path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except CorruptChunkError:
            raise
        except OSError as exc:
            raise StorageError(f"{gz_path}: cannot read: {exc}") from exc
        data = gunzip_bounded(raw, gz_path, max_size)
        return data if end is None else _slice(data, start, end)

    def get(self, key: str, *, max_size: int | None = None) -> bytes | None:
        """Contents of `key` (or of `key.gz`, decompressed), or None if absent; a value longer
        than `max_size` raises `CorruptChunkError`."""
        return self._read(self._read_path(key), max_size=max_size)

    def get_range(
        self, key: str, start: int, end: int, *, max_size: int | None = None
    ) -> bytes | None:
        """Bytes `[start, end)` of `key`, clipped at the end; None if absent. `max_size` bounds
        the whole value only where it must be decompressed whole (`key.gz`)."""
        path = self._read_path(key)
        _check_range(start, end, path)
        return self._read(path, start, end, max_size=max_size)

    def exists(self, key: str) -> bool:
        """Whether `key` or `key.gz` is a file."""
        path = self._read_path(key)
        return os.path.isfile(path) or os.path.isfile(path + GZIP_SUFFIX)

    # -- writes

    def put(self, key: str, data: bytes) -> None:
        """Write `key` (or `key.gz` when `gzip`) atomically; removes the other representation."""
        path = self._write_path(key)
        if self._gzip:
            target, stale = path + GZIP_SUFFIX, path
            payload = _gzip.compress(bytes(data), compresslevel=_GZIP_LEVEL, mtime=0)
        else:
            target, stale = path, path + GZIP_SUFFIX
            payload = bytes(data)
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            atomic_write_bytes(target, payload)
            # After the new file is in place: a reader prefers `key` over `key.gz`, so it sees
            # either the old value or the new one.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        except OSError as exc:
            raise StorageError(f"{target}: cannot write: {exc}") from exc

    def put_batch(self, *, expected: int = 0) -> FilePutBatch:
        """Puts that become durable together on `commit` (one fsync round for many files);
        `expected` puts into one folder have their files created ahead."""
        from ._put_batch import FilePutBatch

        return FilePutBatch(_FencedPaths(self), gzip=self._gzip, expected=expected)

    def delete(self, key: str) -> None:
        """Remove `key` and `key.gz`; absent is fine."""
        path = self._write_path(key)
        for candidate in (path, path + GZIP_SUFFIX):
            try:
                os.unlink(candidate)
            except (FileNotFoundError, NotADirectoryError):
                pass
            except OSError as exc:
                raise StorageError(f"{candidate}: cannot delete: {exc}") from exc

    # -- listing

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Keys starting with `prefix` (`.gz` stripped, temp files skipped, symlinks followed)."""
        _check_read_key(prefix, self._root, prefix=True)
        directory = prefix.rpartition("/")[0]
        return self._walk(prefix, directory)

    def _walk(self, prefix: str, directory: str) -> Iterator[str]:
        start = os.path.normpath(os.path.join(self._root, *directory.split("/")))
        stack = [(start, f"{directory}/" if directory else "", frozenset[str]())]
        while stack:
            folder, rel, ancestors = stack.pop()
            real = os.path.realpath(folder)
            if real in ancestors:  # a symlink cycle
                continue
            ancestors = ancestors | {real}
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name, reverse=True)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise StorageError(f"{folder}: cannot list: {exc}") from exc
            files: set[str] = set()
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                key = rel + entry.name
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if is_dir:
                    if key.startswith(prefix):
                        stack.append((entry.path, key + "/", ancestors))
                else:
                    files.add(key.removesuffix(GZIP_SUFFIX))
            yield from sorted(key for key in files if key.startswith(prefix))

    def child(self, prefix: str) -> FileKVStore:
        """The store at `root/prefix` (`..` allowed; writes stay inside this store's root)."""
        _check_read_key(prefix, self._root, prefix=True)
        new = FileKVStore(
            os.path.join(self._root, *prefix.split("/")),  # abspath() resolves `..` lexically
            gzip=self._gzip,
            read_only=self._read_only,
        )
        new._fence = self._fence
        return new


class _FencedPaths:
    """`FileKVStore._write_path` for the many keys of one batch: each folder is resolved and
    checked against the fence once; after that a key costs two `lstat`s (is the file, or its
    `.gz`, a symlink?) instead of a full `realpath` of every path component."""

    def __init__(self, store: FileKVStore) -> None:
        self._store = store
        self._fence = os.path.realpath(store._fence)
        self._safe_folders: set[str] = set()

    def __call__(self, key: str) -> str:
        """The path for writing `key`, refused (`InvalidNameError`) if it leaves the fence."""
        store = self._store
        store._check_writable(key)
        path = os.path.join(store._root, *_check_write_key(key, store._root))
        folder = os.path.dirname(path)
        known = folder in self._safe_folders
        if known and not _may_be_link(path) and not _may_be_link(path + GZIP_SUFFIX):
            return path
        path = store._write_path(key)  # the full check; raises when outside
        real = os.path.realpath(folder)
        if os.path.commonpath([self._fence, real]) == self._fence:
            self._safe_folders.add(folder)
        return path


def _may_be_link(path: str) -> bool:
    """Whether `path` is a symlink, or cannot be told apart from one (absent is not)."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False
    except OSError:
        return True


# --------------------------------------------------------------------------------------------
# HTTP


def normalize_url(url: str) -> str:
    """`precomputed://X` → `X`; `gs://b/p` → `https://storage.googleapis.com/b/p`;
    `s3://b/p` → `https://b.s3.amazonaws.com/p`; trailing slashes removed."""
    url = os.fspath(url)
    if url.startswith("precomputed://"):
        url = url[len("precomputed://") :]
    if url.startswith("gs://"):
        url = "https://storage.googleapis.com/" + url[len("gs://") :]
    elif url.startswith("s3://"):
        bucket, _, path = url[len("s3://") :].partition("/")
        url = f"https://{bucket}.s3.amazonaws.com/{path}"
    if url.startswith(("http://", "https://")):
        url = url.rstrip("/")
    return url


def _join_url(base: str, key: str) -> str:
    """`base/key` with `.`/`..` resolved lexically (not above the host) and the key quoted."""
    parts = urllib.parse.urlsplit(base)
    path = posixpath.join(parts.path or "/", urllib.parse.quote(key, safe="/"))
    path = "/" + posixpath.normpath(path).lstrip("/")  # normpath("/../x") == "/x"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


class _Response:
    __slots__ = ("body", "headers", "reason", "status")

    def __init__(
        self, status: int, reason: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body


class _Pool(dict[tuple[str, str], http.client.HTTPConnection]):
    """One thread's keep-alive connections, by (scheme, host:port); closed when dropped."""

    def close_all(self) -> None:
        for conn in self.values():
            conn.close()
        self.clear()

    def __del__(self) -> None:  # thread ended or store collected: no leaked sockets
        with contextlib.suppress(Exception):  # e.g. at interpreter shutdown
            self.close_all()


class _Retryable(Exception):
    """A transient failure (connection error or 5xx/429): try again."""


class HTTPKVStore:
    """Read-only store over HTTP(S): keep-alive connections (one per thread and host),
    `Content-Encoding: gzip` decoded, `Range` requests for `get_range`, retries with backoff.

    404 and 410 mean "absent" (None). A 403 is an error (`StorageError`) by default, because a
    private or misconfigured bucket would otherwise read as empty; S3 answers 403 for missing
    keys when anonymous users may not list the bucket, so pass `forbidden_as_missing=True` there.
    """

    supports_writes = False
    supports_listing = False

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30,
        retries: int = 2,
        forbidden_as_missing: bool = False,
        parallel_reads: int = 8,
    ) -> None:
        url = normalize_url(base_url)
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise InvalidArgumentError(f"{base_url}: not an http(s), gs:// or s3:// URL")
        if retries < 0 or timeout <= 0 or parallel_reads < 1:
            raise InvalidArgumentError(
                f"{url}: need retries >= 0, timeout > 0 and parallel_reads >= 1"
            )
        self._parallel_reads = int(parallel_reads)
        self._base = url
        self._timeout = float(timeout)
        self._retries = int(retries)
        self._forbidden_as_missing = bool(forbidden_as_missing)
        self._local = threading.local()
        self._pid = os.getpid()

    @property
    def url(self) -> str:
        """The base URL."""
        return self._base

    @property
    def parallel_reads(self) -> int:
        """Requests one read call may have in flight (each thread keeps its own connections)."""
        return self._parallel_reads

    def __repr__(self) -> str:
        return f"HTTPKVStore({self._base!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HTTPKVStore):
            return NotImplemented
        return self._spec() == other._spec()

    def __hash__(self) -> int:
        return hash(self._spec())

    def _spec(self) -> tuple[str, float, int, bool]:
        return (self._base, self._timeout, self._retries, self._forbidden_as_missing)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_local"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()
        self._pid = os.getpid()

    def key_url(self, key: str) -> str:
        """The URL of `key` (`..` resolved)."""
        _check_read_key(key, self._base, prefix=True)
        return _join_url(self._base, key)

    # -- transport

    def _connections(self) -> _Pool:
        if self._pid != os.getpid():  # forked: never share sockets with the parent
            self._local = threading.local()
            self._pid = os.getpid()
        pool: _Pool | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = _Pool()
        return pool

    def close(self) -> None:
        """Close this thread's connections (they reopen on demand; other threads' close when
        those threads end or the store is collected)."""
        self._connections().close_all()

    def _send_once(self, method: str, url: str, headers: Mapping[str, str]) -> _Response:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if (
            not _is_loopback(host)
            and urllib.request.getproxies().get(parts.scheme)
            and not urllib.request.proxy_bypass(host)
        ):
            return self._send_urllib(method, url, headers)
        pool = self._connections()
        pool_key = (parts.scheme, parts.netloc)
        conn = pool.get(pool_key)
        reused = conn is not None
        if conn is None:
            conn = self._new_connection(parts)
            pool[pool_key] = conn
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        try:
            conn.request(method, target, headers=dict(headers))
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            pool.pop(pool_key, None)
            if reused and isinstance(
                exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
            ):
                # The server closed an idle keep-alive connection: one free retry on a new one.
                return self._send_once(method, url, headers)
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if response.will_close:
            conn.close()
            pool.pop(pool_key, None)
        return _Response(response.status, response.reason, response.getheaders(), body)

    def _new_connection(self, parts: urllib.parse.SplitResult) -> http.client.HTTPConnection:
        host = parts.hostname or ""
        if parts.scheme == "https":
            return http.client.HTTPSConnection(
                host, parts.port, timeout=self._timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(host, parts.port, timeout=self._timeout)

    def _send_urllib(self, method: str, url: str, headers: Mapping[str, str]) -> _Response:
        """Through the environment's proxy (urllib honours `http_proxy` & co.)."""
        request = urllib.request.Request(url, headers=dict(headers), method=method)
        # A fresh opener reads the proxy settings now; urlopen's global one froze them at first use.
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler(urllib.request.getproxies())
        )
        try:
            with opener.open(request, timeout=self._timeout) as response:
                body = response.read()
                return _Response(response.status, response.reason, response.getheaders(), body)
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read() if exc.fp is not None else b""
                return _Response(exc.code, str(exc.reason), exc.headers.items(), body)
        except (OSError, http.client.HTTPException) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc

    def _request(self, method: str, key: str, headers: Mapping[str, str]) -> _Response:
        """One request with redirects and retries; transient failures become `StorageError`."""
        _check_read_key(key, self._base)
        url = self.key_url(key)
        headers = {"User-Agent": _USER_AGENT, **headers}
        attempt = 0
        redirects = 0
        while True:
            try:
                response = self._send_once(method, url, headers)
                if response.status >= 500 or response.status == 429:
                    raise _Retryable(f"HTTP {response.status} {response.reason}")
            except _Retryable as exc:
                if attempt >= self._retries:
                    raise StorageError(
                        f"{url}: request failed after {attempt + 1} attempt(s): {exc}"
                    ) from exc
                time.sleep(min(0.1 * 2**attempt, 2.0) * (0.5 + random.random()))
                attempt += 1
                continue
            location = response.headers.get("location")
            if response.status in _REDIRECTS and location and redirects < _MAX_REDIRECTS:
                url = urllib.parse.urljoin(url, location)
                redirects += 1
                continue
            return response

    def _missing(self, status: int) -> bool:
        return status in (404, 410) or (status == 403 and self._forbidden_as_missing)

    def _error(self, response: _Response, key: str) -> StorageError:
        detail = " ".join(response.body[:300].decode("utf-8", "replace").split())
        return StorageError(
            f"{self.key_url(key)}: HTTP {response.status} {response.reason}"
            + (f": {detail}" if detail else "")
        )

    def _decoded(self, response: _Response, key: str, max_size: int | None = None) -> bytes:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            return gunzip_bounded(response.body, self.key_url(key), max_size)
        if encoding in ("identity", ""):
            if max_size is not None and len(response.body) > max_size:
                raise too_large(self.key_url(key), max_size)
            return response.body
        raise StorageError(f"{self.key_url(key)}: unsupported Content-Encoding {encoding!r}")

    # -- the contract

    def get(self, key: str, *, max_size: int | None = None) -> bytes | None:
        """The body of `base/key` (gzip transfer encoding decoded), or None on 404; a body
        longer than `max_size` (decoded) raises `CorruptChunkError`."""
        response = self._request("GET", key, {"Accept-Encoding": "gzip"})
        if self._missing(response.status):
            return None
        if not 200 <= response.status < 300 or response.status == 206:
            raise self._error(response, key)
        return self._decoded(response, key, max_size)

    def get_range(
        self, key: str, start: int, end: int, *, max_size: int | None = None
    ) -> bytes | None:
        """Bytes `[start, end)` via a `Range` request (a 200 reply is sliced; 416 → `b""`)."""
        _check_read_key(key, self._base)
        url = self.key_url(key)
        _check_range(start, end, url)
        if end <= start:
            return b"" if self.exists(key) else None
        # Ranges address the identity encoding; a gzip reply to a range is only usable whole.
        headers = {"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"}
        response = self._request("GET", key, headers)
        if self._missing(response.status):
            return None
        if response.status == 416:
            return b""
        if response.status == 200:
            return _slice(self._decoded(response, key, max_size), start, end)
        if response.status != 206:
            raise self._error(response, key)
        if response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
            raise StorageError(
                f"{url}: the server sent a compressed partial response (Content-Encoding "
                f"{response.headers['content-encoding']!r}); serve sharded files without "
                "Content-Encoding"
            )
        content_range = response.headers.get("content-range", "")
        match = re.match(r"\s*bytes\s+(\d+)-(\d+)", content_range)
        if match is None or int(match.group(1)) != start:
            raise StorageError(
                f"{url}: asked for bytes {start}-{end - 1}, got Content-Range {content_range!r}"
            )
        return response.body[: end - start]

    def exists(self, key: str) -> bool:
        """Whether a HEAD request for `key` succeeds."""
        response = self._request("HEAD", key, {"Accept-Encoding": "gzip"})
        if self._missing(response.status):
            return False
        if response.status != 200:
            raise self._error(response, key)
        return True

    def put(self, key: str, data: bytes) -> None:
        """Always raises `ReadOnlyError`: HTTP stores are read-only."""
        raise ReadOnlyError(f"{self.key_url(key)}: HTTP stores are read-only")

    def delete(self, key: str) -> None:
        """Always raises `ReadOnlyError`: HTTP stores are read-only."""
        raise ReadOnlyError(f"{self.key_url(key)}: HTTP stores are read-only")

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Always raises `StorageError`: plain HTTP has no listing."""
        raise StorageError(f"{self._base}: listing is not supported over HTTP")

    def child(self, prefix: str) -> HTTPKVStore:
        """The store at `base/prefix` (`..` allowed), same options."""
        return HTTPKVStore(
            self.key_url(prefix),
            timeout=self._timeout,
            retries=self._retries,
            forbidden_as_missing=self._forbidden_as_missing,
        )


# --------------------------------------------------------------------------------------------
# Memory


class MemoryKVStore:
    """A dict-backed store; children share the dict under a key prefix. Not picklable (writes
    in another process would be lost silently)."""

    supports_writes = True
    supports_listing = True

    def __init__(self) -> None:
        self._data: MutableMapping[str, bytes] = {}
        self._prefix = ""

    @classmethod
    def _view(cls, data: MutableMapping[str, bytes], prefix: str) -> MemoryKVStore:
        store = cls()
        store._data = data
        store._prefix = prefix
        return store

    @property
    def url(self) -> str:
        """`memory://` plus the key prefix."""
        return f"memory://{self._prefix}"

    def __repr__(self) -> str:
        return f"MemoryKVStore(<{len(self._data)} keys>, prefix={self._prefix!r})"

    def __getstate__(self) -> None:
        raise TypeError(
            "MemoryKVStore cannot be pickled: a copy in another process would lose its writes; "
            "use a FileKVStore for multi-process work"
        )

    def _read_key(self, key: str, *, prefix: bool = False) -> str | None:
        """The full dict key, or None when `..` climbs above the memory root."""
        _check_read_key(key, self.url, prefix=prefix)
        full = posixpath.normpath(self._prefix + key)
        return None if full == ".." or full.startswith("../") else full

    def _write_key(self, key: str) -> str:
        _check_write_key(key, self.url)
        return self._prefix + key

    def get(self, key: str, *, max_size: int | None = None) -> bytes | None:
        """The stored bytes, or None; longer than `max_size`: `CorruptChunkError`."""
        full = self._read_key(key)
        data = None if full is None else self._data.get(full)
        if data is not None and max_size is not None and len(data) > max_size:
            raise too_large(f"{self.url}{key}", max_size)
        return data

    def get_range(
        self, key: str, start: int, end: int, *, max_size: int | None = None
    ) -> bytes | None:
        """Bytes `[start, end)`, or None (`max_size` does not apply: nothing is decompressed)."""
        _check_range(start, end, self.url + key)
        data = self.get(key)
        return None if data is None else _slice(data, start, end)

    def put(self, key: str, data: bytes) -> None:
        """Store a copy of `data`."""
        self._data[self._write_key(key)] = bytes(data)

    def delete(self, key: str) -> None:
        """Remove `key` if present."""
        self._data.pop(self._write_key(key), None)

    def exists(self, key: str) -> bool:
        """Whether `key` is stored."""
        full = self._read_key(key)
        return full is not None and full in self._data

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Stored keys starting with `prefix` (a snapshot, sorted)."""
        _check_read_key(prefix, self.url, prefix=True)
        full = self._prefix + prefix
        cut = len(self._prefix)
        return iter(sorted(key[cut:] for key in list(self._data) if key.startswith(full)))

    def child(self, prefix: str) -> MemoryKVStore:
        """A view of the same dict under `prefix/`."""
        full = self._read_key(prefix, prefix=True)
        if full is None:
            raise InvalidNameError(f"{self.url}: child {prefix!r} would leave the memory store")
        return MemoryKVStore._view(self._data, "" if full == "." else full + "/")


# --------------------------------------------------------------------------------------------


def file_url_to_path(url: str) -> str:
    """The local path of a `file://` URL (percent-escapes decoded; `localhost` allowed)."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise InvalidArgumentError(f"{url}: file URLs on other hosts are not supported")
    return urllib.request.url2pathname(parts.path)


def open_kvstore(path_or_url: str | os.PathLike[str], **kwargs: Any) -> KVStore:
    """A store for a local path, `file://`, `http(s)://`, `precomputed://`, `gs://`, `s3://`
    or `memory://` (a new empty store); `kwargs` go to the store's constructor."""
    text = os.fspath(path_or_url)
    if text.startswith("precomputed://"):
        text = text[len("precomputed://") :]
    match = _SCHEME_RE.match(text)
    scheme = match.group(1).lower() if match else ""
    if scheme == "s3":
        from ..s3.kvstore import S3KVStore

        return S3KVStore(text, **kwargs)
    if scheme in ("http", "https", "gs"):
        return HTTPKVStore(text, **kwargs)
    if scheme == "memory":
        store = MemoryKVStore(**kwargs)
        rest = text[len("memory://") :].strip("/")
        return store.child(rest) if rest else store
    if scheme == "file":
        return FileKVStore(file_url_to_path(text), **kwargs)
    if scheme:
        raise InvalidArgumentError(
            f"{text}: unsupported URL scheme {scheme!r} (use a path, file://, http(s)://, "
            "gs://, s3://, precomputed:// or memory://)"
        )
    return FileKVStore(text, **kwargs)
