"""`datasource-properties.json` on disk: load, atomic save, and locked read-modify-write updates."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from webknossos_like._atomic import atomic_write_text
from webknossos_like._locks import ExclusiveLock, exclusive_lock
from webknossos_like.errors import DatasetNotFoundError, InvalidPropertiesError
from webknossos_like.properties.converter import dumps, loads
from webknossos_like.properties.models import DatasetProperties

__all__ = ["LOCK_FILE_NAME", "PROPERTIES_FILE_NAME", "PropertiesFile"]

T = TypeVar("T")

PROPERTIES_FILE_NAME: Final = "datasource-properties.json"
LOCK_FILE_NAME: Final = ".datasource-properties.json.lock"


class PropertiesFile:
    """The properties file of one dataset folder.

    Writes go through an inter-process lock and an atomic rename, and `update` re-applies each
    change to the freshest file under the lock, so concurrent writers never lose updates.
    """

    def __init__(self, dataset_path: str | os.PathLike[str]) -> None:
        self.dataset_path = Path(dataset_path)
        self.path = self.dataset_path / PROPERTIES_FILE_NAME
        self.lock_path = self.dataset_path / LOCK_FILE_NAME
        #: `stamp()` of the version last loaded or saved through this object.
        self.last_stamp: tuple[int, int, int] | None = None

    def __repr__(self) -> str:
        return f"PropertiesFile({str(self.dataset_path)!r})"

    @property
    def lock(self) -> ExclusiveLock:
        """The process-shared, reentrant inter-process lock guarding this file (blocks without timeout)."""
        return exclusive_lock(self.lock_path)

    def exists(self) -> bool:
        """Whether the properties file exists (i.e. the folder holds a dataset)."""
        return self.path.is_file()

    def read_text(self) -> str:
        """The raw file text; a missing file raises `DatasetNotFoundError`, bad UTF-8 `InvalidPropertiesError`."""
        try:
            raw = self.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise DatasetNotFoundError(
                f"no dataset at {self.dataset_path}: {self.path} not found"
            ) from None
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidPropertiesError(f"not UTF-8 text: {error}", path=self.path) from None

    def stamp(self) -> tuple[int, int, int] | None:
        """(inode, size, mtime) of the file: every save renames a new file into place, so a
        different stamp means another version (None if missing)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def load(self) -> DatasetProperties:
        """Read and validate the file (no lock needed: saves replace it atomically)."""
        stamp = self.stamp()  # taken first: a save in between makes the next check reload
        props = loads(self.read_text(), path=self.path)
        self.last_stamp = stamp
        return props

    def is_stale(self) -> bool:
        """Whether the file changed since this object last loaded or saved it (one `stat`)."""
        return self.stamp() != self.last_stamp

    def save(self, props: DatasetProperties) -> None:
        """Validate, serialize and atomically replace the file under the lock."""
        text = dumps(props)
        self._check_folder()
        with self.lock:
            atomic_write_text(self.path, text)
            self.last_stamp = self.stamp()

    def update(self, mutate: Callable[[DatasetProperties], T]) -> tuple[DatasetProperties, T]:
        """Under the lock: load the current file, `mutate` it in place, save if it changed.

        Returns the (possibly updated) properties and `mutate`'s return value. If `mutate`
        raises, nothing is written and the exception propagates.
        """
        self._check_folder()
        with self.lock:
            props = self.load()
            before = dumps(props)
            result = mutate(props)
            after = dumps(props)
            if after != before:
                atomic_write_text(self.path, after)
                self.last_stamp = self.stamp()
            return props, result

    def _check_folder(self) -> None:
        """Refuse to write into a folder that does not exist (creating datasets is the caller's job)."""
        if not self.dataset_path.is_dir():
            raise DatasetNotFoundError(f"no dataset folder at {self.dataset_path}")
