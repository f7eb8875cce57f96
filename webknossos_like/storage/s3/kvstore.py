"""`S3KVStore`: the `KVStore` contract on S3 through s3fs, plus ETag-conditional puts.

Every `put` is one whole-object PUT (S3 never shows a partial object). `get_many` and
`get_ranges` issue up to `concurrency` requests at once (s3fs' async batching), so a remote
read never costs one round trip per chunk in sequence. Failures map to our errors naming the
URL: `AccessDeniedError`, `BucketNotFoundError`, `StorageError`; a missing key is None.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ...errors import (
    AccessDeniedError,
    BucketNotFoundError,
    ConcurrentUpdateError,
    InvalidArgumentError,
    ReadOnlyError,
    StorageError,
    UnsupportedFormatError,
)
from ..precomputed._inflate import too_large
from ..precomputed.kvstore import _check_range, _check_read_key, _check_write_key
from .location import S3Location, parse_s3_url
from .options import S3Options

__all__ = ["DEFAULT_CONCURRENCY", "S3KVStore"]

#: Requests in flight at once per `get_many` / `get_ranges` call.
DEFAULT_CONCURRENCY = 16
_DENIED_CODES = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken")


def _no_bucket(exc: BaseException) -> bool:
    """Whether an s3fs error says the bucket (not the key) is missing."""
    text = f"{type(exc).__name__}: {exc}"
    return "NoSuchBucket" in text or "bucket does not exist" in text


def _normalize(location: str) -> str:
    """`posixpath.normpath` for keys that may climb with `..` (reads only)."""
    parts: list[str] = []
    for part in location.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


class S3KVStore:
    """Objects under `s3://bucket/prefix`, read and written through s3fs."""

    supports_listing = True

    def __init__(
        self,
        url: str | S3Location,
        *,
        storage_options: Any = None,
        read_only: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._location = url if isinstance(url, S3Location) else parse_s3_url(url)
        self._options = S3Options.from_mapping(storage_options)
        self._read_only = bool(read_only)
        if concurrency < 1:
            raise InvalidArgumentError(f"concurrency must be at least 1, got {concurrency}")
        self._concurrency = concurrency
        self._fs_state: tuple[int, Any] | None = None
        self._guard = threading.Lock()
        self._bucket_checked = False

    # -- identity and pickling

    @property
    def location(self) -> S3Location:
        """The bucket and prefix this store is rooted at."""
        return self._location

    @property
    def options(self) -> S3Options:
        """The explicit S3 options (credentials, endpoint, region)."""
        return self._options

    @property
    def url(self) -> str:
        """`s3://bucket/prefix`."""
        return self._location.url

    @property
    def supports_writes(self) -> bool:
        """False for a read-only store."""
        return not self._read_only

    @property
    def parallel_reads(self) -> int:
        """Requests one read call may have in flight (`fanout`, `get_many`)."""
        return self._concurrency

    @property
    def read_only(self) -> bool:
        """Whether writes are refused."""
        return self._read_only

    def __repr__(self) -> str:
        return f"S3KVStore({self.url!r}{', read_only=True' if self._read_only else ''})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, S3KVStore):
            return NotImplemented
        return self._spec() == other._spec()

    def __hash__(self) -> int:
        return hash(self._spec())

    def _spec(self) -> tuple[S3Location, S3Options, bool]:
        return (self._location, self._options, self._read_only)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its spec (URL and options), never the live client: Dask workers reconnect."""
        return (_rebuild, (self._location, self._options, self._read_only, self._concurrency))

    # -- the client

    @property
    def fs(self) -> Any:
        """The s3fs file system of this process (made on first use, again after `fork`)."""
        state = self._fs_state
        if state is None or state[0] != os.getpid():
            with self._guard:
                state = self._fs_state
                if state is None or state[0] != os.getpid():
                    try:
                        import s3fs
                    except ImportError as exc:
                        raise UnsupportedFormatError(
                            f"{self.url}: s3:// locations need s3fs; install it with "
                            "pip install 'webknossos_like[s3]'."
                        ) from exc

                    state = (os.getpid(), s3fs.S3FileSystem(**self._options.s3fs_kwargs()))
                    self._fs_state = state
        return state[1]

    def _path(self, key: str) -> str:
        """`bucket/prefix/key` as s3fs names it, `..` resolved within the bucket."""
        return f"{self._location.bucket}/{_normalize(self._location.key(key))}"

    def key_url(self, key: str) -> str:
        """`s3://bucket/prefix/key`."""
        return f"s3://{self._path(key)}".rstrip("/")

    def _error(self, exc: BaseException, url: str, action: str) -> StorageError:
        """Our error for an s3fs / botocore failure."""
        text = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, PermissionError) or any(code in text for code in _DENIED_CODES):
            return AccessDeniedError(
                f"{url}: access denied while trying to {action} ({text}); check the credentials "
                "(AWS_ACCESS_KEY_ID / AWS_PROFILE / storage_options) and the endpoint"
            )
        if _no_bucket(exc):
            return BucketNotFoundError(
                f"{url}: the bucket {self._location.bucket!r} does not exist ({action})"
            )
        return StorageError(f"{url}: cannot {action}: {text}")

    def _missing(self, url: str) -> None:
        """After a not-found: raise `BucketNotFoundError` if the bucket itself is missing
        (checked once per store; a missing key is not an error)."""
        if self._bucket_checked:
            return
        try:
            found = self.fs.exists(self._location.bucket)
        except Exception as exc:
            raise self._error(exc, url, "check the bucket") from exc
        if not found:
            raise BucketNotFoundError(f"{url}: the bucket {self._location.bucket!r} does not exist")
        self._bucket_checked = True

    # -- reads

    def get(self, key: str, *, max_size: int | None = None) -> bytes | None:
        """The object's bytes, or None if absent; longer than `max_size`: `CorruptChunkError`
        (read with a range, so a huge object is never fetched whole)."""
        _check_read_key(key, self.url)
        url = self.key_url(key)
        try:
            if max_size is None:
                data: bytes = self.fs.cat_file(self._path(key))
            else:
                data = self.fs.cat_file(self._path(key), start=0, end=max_size + 1)
        except FileNotFoundError as exc:
            if _no_bucket(exc):
                raise self._error(exc, url, "read") from exc
            self._missing(url)
            return None
        except OSError as exc:
            if "not satisfiable" not in str(exc):  # else: an empty object, ranged
                raise self._error(exc, url, "read") from exc
            return b"" if self.exists(key) else None
        except Exception as exc:
            raise self._error(exc, url, "read") from exc
        if max_size is not None and len(data) > max_size:
            raise too_large(url, max_size)
        return data

    def get_range(
        self, key: str, start: int, end: int, *, max_size: int | None = None
    ) -> bytes | None:
        """Bytes `[start, end)` via one ranged GET (clipped at the end), or None if absent."""
        return self.get_ranges([(key, start, end)])[0]

    def get_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> list[bytes | None]:
        """Many ranged reads at once, `concurrency` in flight; None where the key is absent."""
        paths: list[str] = []
        for key, start, end in ranges:
            _check_read_key(key, self.url)
            _check_range(start, end, self.key_url(key))
            paths.append(self._path(key))
        wanted = [(p, s, e) for p, (_, s, e) in zip(paths, ranges, strict=True) if e > s]
        fetched: list[Any] = []
        if wanted:
            try:
                fetched = self.fs.cat_ranges(
                    [p for p, _, _ in wanted],
                    [s for _, s, _ in wanted],
                    [e for _, _, e in wanted],
                    on_error="return",
                    batch_size=self._concurrency,
                )
            except Exception as exc:
                raise self._error(exc, self.url, "read") from exc
        results: list[bytes | None] = []
        got = iter(fetched)
        for (key, start, end), path in zip(ranges, paths, strict=True):
            if end <= start:
                results.append(b"" if self.exists(key) else None)
                continue
            value = next(got)
            results.append(self._settle(value, f"s3://{path}", key))
        return results

    def _settle(self, value: Any, url: str, key: str) -> bytes | None:
        """A `cat`/`cat_ranges` result: bytes, None for a missing key, else our error."""
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        if isinstance(value, FileNotFoundError) and not _no_bucket(value):
            self._missing(url)
            return None
        if isinstance(value, OSError) and "not satisfiable" in str(value):
            return b"" if self.exists(key) else None  # a range past the end
        if isinstance(value, BaseException):
            raise self._error(value, url, "read") from value
        raise StorageError(f"{url}: unexpected reply {type(value).__name__}")

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes | None]:
        """Whole values of many keys, `concurrency` requests in flight (None where absent)."""
        for key in keys:
            _check_read_key(key, self.url)
        if not keys:
            return {}
        paths = {self._path(key): key for key in keys}
        try:
            found = self.fs.cat(list(paths), on_error="return", batch_size=self._concurrency)
        except Exception as exc:
            raise self._error(exc, self.url, "read") from exc
        if len(paths) == 1 and not isinstance(found, dict):
            found = {next(iter(paths)): found}
        return {
            key: self._settle(found.get(path, FileNotFoundError(path)), f"s3://{path}", key)
            for path, key in paths.items()
        }

    def exists(self, key: str) -> bool:
        """Whether the object exists (a HEAD request)."""
        return self.etag(key) is not None

    def etag(self, key: str) -> str | None:
        """The object's current ETag (None if absent): the version a conditional put names."""
        _check_read_key(key, self.url)
        url = self.key_url(key)
        bucket, _, object_key = self._path(key).partition("/")
        try:
            reply = self.fs.call_s3("head_object", Bucket=bucket, Key=object_key)
        except FileNotFoundError:
            self._missing(url)
            return None
        except Exception as exc:
            raise self._error(exc, url, "look up") from exc
        return str(reply.get("ETag"))

    def get_with_etag(self, key: str, *, max_size: int | None = None) -> tuple[bytes, str] | None:
        """The value and the ETag of that same version (one GET), or None if absent."""
        _check_read_key(key, self.url)
        url = self.key_url(key)
        bucket, _, object_key = self._path(key).partition("/")
        try:
            reply = self.fs.call_s3("get_object", Bucket=bucket, Key=object_key)
        except FileNotFoundError:
            self._missing(url)
            return None
        except Exception as exc:
            raise self._error(exc, url, "read") from exc
        data = self._body(reply, url)
        if max_size is not None and len(data) > max_size:
            raise too_large(url, max_size)
        return data, str(reply.get("ETag"))

    def _body(self, reply: dict[str, Any], url: str) -> bytes:
        """The body of a `get_object` reply, read on s3fs' event loop."""
        from fsspec.asyn import sync

        async def read() -> bytes:
            async with reply["Body"] as body:
                data: bytes = await body.read()
                return data

        try:
            result: bytes = sync(self.fs.loop, read)
        except Exception as exc:
            raise self._error(exc, url, "read") from exc
        return result

    # -- writes

    def _check_writable(self, key: str) -> None:
        if self._read_only:
            raise ReadOnlyError(f"{self.key_url(key)}: the store is read-only")
        _check_write_key(key, self.url)

    def put(self, key: str, data: bytes) -> None:
        """One whole-object PUT: readers see the old or the new object, never a mix."""
        self._check_writable(key)
        self._put(key, bytes(data), {})

    def put_if(self, key: str, data: bytes, etag: str | None) -> None:
        """Put only if the object is still the version `etag` names (None: only if absent);
        else `ConcurrentUpdateError`. S3 checks this on the server (If-Match/If-None-Match)."""
        self._check_writable(key)
        condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
        self._put(key, bytes(data), condition)

    def _put(self, key: str, data: bytes, condition: dict[str, str]) -> None:
        url = self.key_url(key)
        bucket, _, object_key = self._path(key).partition("/")
        try:
            self.fs.call_s3("put_object", Bucket=bucket, Key=object_key, Body=data, **condition)
        except Exception as exc:
            text = str(exc)
            if condition and ("pre-condition" in text or "PreconditionFailed" in text):
                raise ConcurrentUpdateError(
                    f"{url}: another writer changed it since it was read; the update was not "
                    "applied (reload and retry)"
                ) from exc
            if "ConditionalRequestConflict" in text:
                raise ConcurrentUpdateError(f"{url}: a concurrent conditional write") from exc
            raise self._error(exc, url, "write") from exc

    def delete(self, key: str) -> None:
        """Remove the object; an absent one is fine."""
        self._check_writable(key)
        url = self.key_url(key)
        bucket, _, object_key = self._path(key).partition("/")
        try:
            self.fs.call_s3("delete_object", Bucket=bucket, Key=object_key)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._error(exc, url, "delete") from exc

    # -- listing

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Every key below the root that starts with `prefix` (one paged LIST)."""
        _check_read_key(prefix, self.url, prefix=True)
        root = self._path("")
        base = f"{root}/" if self._location.prefix else f"{self._location.bucket}/"
        directory = prefix.rpartition("/")[0]
        try:
            found = self.fs.find(base + directory) if directory or prefix else self.fs.find(base)
        except FileNotFoundError:
            self._missing(self.url)
            return iter(())
        except Exception as exc:
            raise self._error(exc, self.url, "list") from exc
        keys = (path[len(base) :] for path in found if path.startswith(base))
        return iter(sorted(key for key in keys if key.startswith(prefix)))

    def with_read_only(self, read_only: bool) -> S3KVStore:
        """This store, read-only or not (self when unchanged)."""
        if read_only == self._read_only:
            return self
        store = S3KVStore(
            self._location,
            storage_options=self._options,
            read_only=read_only,
            concurrency=self._concurrency,
        )
        store._fs_state = self._fs_state
        return store

    def has_keys(self) -> bool:
        """Whether any object lies below the root (one LIST request for one key)."""
        bucket = self._location.bucket
        prefix = f"{self._location.prefix}/" if self._location.prefix else ""
        try:
            reply = self.fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except Exception as exc:
            raise self._error(exc, self.url, "list") from exc
        return bool(reply.get("KeyCount") or reply.get("Contents"))

    def child(self, prefix: str) -> S3KVStore:
        """The store at `prefix` below this one (`..` allowed, within the bucket)."""
        _check_read_key(prefix, self.url, prefix=True)
        location = S3Location(self._location.bucket, _normalize(self._location.key(prefix)))
        store = S3KVStore(
            location,
            storage_options=self._options,
            read_only=self._read_only,
            concurrency=self._concurrency,
        )
        store._fs_state = self._fs_state
        return store


def _rebuild(
    location: S3Location, options: S3Options, read_only: bool, concurrency: int
) -> S3KVStore:
    """Unpickle an `S3KVStore` from its spec."""
    return S3KVStore(
        location, storage_options=options, read_only=read_only, concurrency=concurrency
    )
