"""S3-compatible object storage (AWS, MinIO, Ceph): URL parsing, options and a `KVStore`."""

from __future__ import annotations

from .location import S3Location, is_s3_url, parse_s3_url
from .options import S3Options

__all__ = ["S3KVStore", "S3Location", "S3Options", "is_s3_url", "parse_s3_url"]


def __getattr__(name: str) -> object:
    """`S3KVStore` loads s3fs on first use, so `import webknossos_like` does not need it."""
    if name == "S3KVStore":
        from .kvstore import S3KVStore

        return S3KVStore
    raise AttributeError(name)
