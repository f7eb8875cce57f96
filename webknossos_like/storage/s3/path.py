"""`S3Path`: the few `pathlib.Path` operations the object model uses, on an S3 prefix.

It has no `__fspath__`, so code that would touch the local disk (`open`, `os.rename`, locks)
fails loudly instead of creating a local folder named `s3:`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .kvstore import S3KVStore
from .location import S3Location


class S3Path:
    """A prefix on S3 with a store to ask; folders exist when objects lie below them."""

    def __init__(self, store: S3KVStore) -> None:
        self.store = store

    @property
    def location(self) -> S3Location:
        """Bucket and prefix."""
        return self.store.location

    def __str__(self) -> str:
        return self.store.url

    def __repr__(self) -> str:
        return f"S3Path({self.store.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Path) and other.store.url == self.store.url

    def __hash__(self) -> int:
        return hash(self.store.url)

    def __truediv__(self, other: Any) -> S3Path:
        return S3Path(self.store.child(str(other)))

    @property
    def name(self) -> str:
        """The last segment."""
        return self.location.name

    @property
    def parent(self) -> S3Path:
        """The prefix one level up (the bucket root stays itself)."""
        return S3Path(self.store.child(".."))

    def resolve(self) -> S3Path:
        """Itself (no symlinks on S3)."""
        return self

    def absolute(self) -> S3Path:
        """Itself."""
        return self

    def relative_to(self, other: S3Path) -> str:
        """The prefix below `other`; `ValueError` if it is not below."""
        mine, theirs = self.location, other.location
        if not isinstance(other, S3Path) or mine.bucket != theirs.bucket:
            raise ValueError(f"{self} is not below {other}")
        if mine.prefix == theirs.prefix:
            return "."
        start = f"{theirs.prefix}/" if theirs.prefix else ""
        if not mine.prefix.startswith(start):
            raise ValueError(f"{self} is not below {other}")
        return mine.prefix[len(start) :]

    def is_relative_to(self, other: S3Path) -> bool:
        """Whether this prefix lies below (or is) `other`."""
        try:
            self.relative_to(other)
        except ValueError:
            return False
        return True

    def is_symlink(self) -> bool:
        """Never."""
        return False

    def is_file(self) -> bool:
        """Whether an object has exactly this key."""
        return self.parent.store.exists(self.name)

    def is_dir(self) -> bool:
        """Whether any object lies below this prefix."""
        return self.store.has_keys()

    def exists(self) -> bool:
        """An object with this key or objects below it."""
        return self.is_dir() or self.is_file()

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: prefixes appear with their first object."""

    def read_bytes(self, max_size: int | None = None) -> bytes:
        """The object's bytes; `FileNotFoundError` naming the URL if absent."""
        data = self.parent.store.get(self.name, max_size=max_size)
        if data is None:
            raise FileNotFoundError(f"{self} not found")
        return data

    def write_bytes(self, data: bytes) -> None:
        """One whole-object PUT."""
        self.parent.store.put(self.name, data)

    def rmtree(self) -> None:
        """Delete every object below this prefix, one by one (not atomic)."""
        for key in list(self.store.list_prefix("")):
            self.store.delete(key)

    def iterdir(self) -> Iterator[S3Path]:
        """The direct children (objects and sub-prefixes), from one listing."""
        names = sorted({key.split("/", 1)[0] for key in self.store.list_prefix("")})
        return iter([self / name for name in names])


def remove_tree(path: object) -> bool:
    """Delete an S3 prefix and return True, or return False for a local path (caller's job)."""
    if not isinstance(path, S3Path):
        return False
    path.rmtree()
    return True


def is_s3_path(path: object) -> bool:
    """Whether `path` is an `S3Path` (without importing s3fs for local paths)."""
    return isinstance(path, S3Path)


def tensorstore_kvstore(path: S3Path) -> dict[str, Any]:
    """tensorstore's `s3` kvstore spec for the prefix `path` (same endpoint and region)."""
    location = path.location
    return path.store.options.tensorstore_kvstore(location.bucket, f"{location.prefix}/")
