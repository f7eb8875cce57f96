"""`s3://bucket/prefix` URLs: parsed once, joined without ever becoming local paths."""

from __future__ import annotations

import attrs

from ...errors import InvalidArgumentError

SCHEME = "s3://"


def is_s3_url(location: str) -> bool:
    """Whether `location` is an `s3://` URL (case-insensitive scheme)."""
    return location[: len(SCHEME)].lower() == SCHEME


@attrs.frozen
class S3Location:
    """A bucket and a key prefix without leading or trailing `/` (empty: the bucket root)."""

    bucket: str
    prefix: str = ""

    @property
    def url(self) -> str:
        """`s3://bucket/prefix`, for messages and to reopen."""
        return f"{SCHEME}{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def name(self) -> str:
        """The last segment of the prefix (the bucket for the root), like `Path.name`."""
        return self.prefix.rsplit("/", 1)[-1] if self.prefix else self.bucket

    def key(self, relative: str) -> str:
        """The full object key of `relative` below the prefix."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def child(self, relative: str) -> S3Location:
        """The location `relative` below this one."""
        relative = relative.strip("/")
        return S3Location(self.bucket, self.key(relative) if relative else self.prefix)

    def __str__(self) -> str:
        return self.url


def parse_s3_url(url: str) -> S3Location:
    """`s3://bucket/prefix/` → `S3Location("bucket", "prefix")`; refuses a missing bucket."""
    if not is_s3_url(url):
        raise InvalidArgumentError(f"{url}: not an s3:// URL")
    rest = url[len(SCHEME) :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InvalidArgumentError(f"{url}: an s3:// URL needs a bucket, e.g. s3://bucket/dataset")
    parts = [p for p in prefix.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise InvalidArgumentError(f"{url}: '.' and '..' segments are not allowed in s3:// URLs")
    return S3Location(bucket, "/".join(parts))
