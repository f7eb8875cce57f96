"""`datasource-properties.json` on S3: whole-object puts guarded by ETags, never last-writer-wins.

S3 has no lock and no rename. Each save is one PUT of the whole file with `If-Match` (the ETag
read before the change) or `If-None-Match: *` (creation), so S3 itself refuses a save that would
overwrite another writer's. `update` re-reads and re-applies the change on such a refusal, as the
local file lock does; after `MAX_ATTEMPTS` it raises `ConcurrentUpdateError`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ...errors import ConcurrentUpdateError, DatasetNotFoundError, InvalidPropertiesError
from ...properties.converter import dumps, loads
from ...properties.models import DatasetProperties
from ...properties.properties_file import PROPERTIES_FILE_NAME
from .kvstore import S3KVStore

T = TypeVar("T")

#: Conditional-write attempts of one `update` before giving up.
MAX_ATTEMPTS = 20
#: Largest properties file read (a hostile object is refused, not fetched whole).
MAX_PROPERTIES_BYTES = 64 << 20


class S3PropertiesFile:
    """The properties object of one dataset prefix on S3 (a `PropertiesSource`)."""

    def __init__(self, store: S3KVStore) -> None:
        self.store = store
        self.path = store.key_url(PROPERTIES_FILE_NAME)
        #: ETag of the version last loaded or saved through this object.
        self.last_stamp: str | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"S3PropertiesFile({self.store.url!r})"

    @property
    def lock(self) -> threading.RLock:
        """An in-process lock only: across processes the conditional PUT is the guard."""
        return self._lock

    def exists(self) -> bool:
        """Whether the properties object exists."""
        return self.store.exists(PROPERTIES_FILE_NAME)

    def _read(self) -> tuple[DatasetProperties, str]:
        got = self.store.get_with_etag(PROPERTIES_FILE_NAME, max_size=MAX_PROPERTIES_BYTES)
        if got is None:
            raise DatasetNotFoundError(f"no dataset at {self.store.url}: {self.path} not found")
        raw, etag = got
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidPropertiesError(f"not UTF-8 text: {error}", path=self.path) from None
        return loads(text, path=self.path), etag

    def load(self) -> DatasetProperties:
        """Read and validate the object; remembers its ETag."""
        props, etag = self._read()
        self.last_stamp = etag
        return props

    def is_stale(self) -> bool:
        """Whether the object changed since this object last loaded or saved it (one HEAD)."""
        return self.store.etag(PROPERTIES_FILE_NAME) != self.last_stamp

    def _put(self, text: str, etag: str | None) -> None:
        self.store.put_if(PROPERTIES_FILE_NAME, text.encode(), etag)
        self.last_stamp = self.store.etag(PROPERTIES_FILE_NAME)

    def save(self, props: DatasetProperties) -> None:
        """Put the whole object if it is still the version last seen (absent for a new one)."""
        with self._lock:
            self._put(dumps(props), self.last_stamp)

    def update(self, mutate: Callable[[DatasetProperties], T]) -> tuple[DatasetProperties, T]:
        """Read the freshest version, `mutate` it, put it conditionally; retry on a conflict."""
        with self._lock:
            for attempt in range(MAX_ATTEMPTS):
                props, etag = self._read()
                before = dumps(props)
                result = mutate(props)
                after = dumps(props)
                if after == before:
                    self.last_stamp = etag
                    return props, result
                try:
                    self._put(after, etag)
                except ConcurrentUpdateError:
                    time.sleep(min(0.01 * 2**attempt, 0.5) * (0.5 + random.random()))
                    continue
                return props, result
            raise ConcurrentUpdateError(
                f"{self.path}: {MAX_ATTEMPTS} conditional writes in a row lost to other writers"
            )
