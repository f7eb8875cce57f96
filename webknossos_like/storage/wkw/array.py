"""WKW mags through the `wkw` package: raw, LZ4 and LZ4HC, with crash-safe shard writes."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import wkw

from ..._atomic import TEMP_PREFIX, current_umask, make_temp_dir
from ...errors import (
    CorruptChunkError,
    DataShapeError,
    DTypeError,
    OutOfBoundsError,
    ReadOnlyError,
    StorageError,
    UnsupportedFormatError,
)
from ...geometry import BoundingBox, Vec3Int
from ...io_pool import threads_for_call
from .._grid import align_outward
from ..backend import MAX_READ_BYTES_ENV, ArrayInfo, check_read_size
from . import _native

HEADER_FILE = "header.wkw"
BLOCK_TYPE_RAW = 1
BLOCK_TYPE_LZ4 = 2
BLOCK_TYPE_LZ4HC = 3
# Voxel type codes of the WKW header, in the order the `wkw` package numbers them (1-based).
_VOXEL_TYPES: list[type[np.generic]] = [
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float32,
    np.float64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
]
_SHARD_FILE_RE = re.compile(r"^z(\d+)/y(\d+)/x(\d+)\.wkw$")
_ALL_CHANNELS = (slice(None),)
# WKW addresses voxels with uint32 coordinates.
_MAX_COORD = 2**32 - 1
#: The native library allocates a whole block (block_len^3 * voxel_size bytes) to read from a
#: shard file and aborts the interpreter (SIGABRT) when that fails. Found in child processes
#: under a 2 GiB address-space limit: raw blocks of 2 GiB abort, 1 GiB read; LZ4 blocks of
#: 1 GiB abort, 512 MiB read. 256 MiB leaves room for both within a few GiB.
MAX_BLOCK_BYTES = 1 << 28
#: It also reads an LZ4 file's whole jump table (8 bytes per block, file_len^3 blocks): 2^10
#: blocks per edge (8 GiB) abort, 2^9 (1 GiB) read; at most 2^8 (a 128 MiB table). Standard WKW
#: uses 32.
MAX_FILE_LEN = 1 << 8


def _parse_header(path: Path) -> ArrayInfo:
    """Parse the 16-byte `header.wkw`, raising `CorruptChunkError` naming the file if it is bad."""
    header_path = path / HEADER_FILE
    try:
        raw = header_path.read_bytes()
    except FileNotFoundError as exc:
        raise StorageError(f"No WKW array at {path}: {HEADER_FILE} not found.") from exc
    except (OSError, ValueError) as exc:
        raise StorageError(f"Cannot read {header_path}: {exc}") from exc
    if len(raw) < 16 or raw[:3] != b"WKW" or raw[3] != 1:
        raise CorruptChunkError(f"{header_path} is not a WKW version 1 header.")
    per_dim_log2 = raw[4]
    block_len = 1 << (per_dim_log2 & 0x0F)
    file_len = 1 << (per_dim_log2 >> 4)
    block_type = raw[5]
    voxel_type_code = raw[6]
    voxel_size = raw[7]
    if block_type not in (BLOCK_TYPE_RAW, BLOCK_TYPE_LZ4, BLOCK_TYPE_LZ4HC):
        raise CorruptChunkError(f"{header_path}: unknown block type {block_type}.")
    if not 1 <= voxel_type_code <= len(_VOXEL_TYPES):
        raise CorruptChunkError(f"{header_path}: unknown voxel type {voxel_type_code}.")
    dtype = np.dtype(_VOXEL_TYPES[voxel_type_code - 1])
    if voxel_size == 0 or voxel_size % dtype.itemsize:
        raise CorruptChunkError(
            f"{header_path}: voxel size {voxel_size} is not a multiple of {dtype} ({dtype.itemsize} bytes)."
        )
    _check_geometry(block_len, file_len, voxel_size, header_path)
    return ArrayInfo(
        data_format="wkw",
        dtype=dtype,
        num_channels=voxel_size // dtype.itemsize,
        chunk_shape=Vec3Int(block_len),
        shard_shape=Vec3Int(block_len * file_len),
        compressed=block_type != BLOCK_TYPE_RAW,
        chunk_parallel_writes=block_type == BLOCK_TYPE_RAW,
    )


def _check_geometry(block_len: int, file_len: int, voxel_size: int, where: object) -> None:
    """Refuse block and file lengths the native library cannot handle (it aborts the process,
    before Python could catch anything): see `MAX_BLOCK_BYTES` and `MAX_FILE_LEN`."""
    block_bytes = block_len**3 * voxel_size
    if block_bytes > MAX_BLOCK_BYTES or file_len > MAX_FILE_LEN:
        raise UnsupportedFormatError(
            f"{where}: WKW blocks of {block_len}^3 voxels of {voxel_size} bytes ({block_bytes} "
            f"bytes) in files of {file_len}^3 blocks are not supported (at most "
            f"{MAX_BLOCK_BYTES} bytes per block and {MAX_FILE_LEN} blocks per file edge: the "
            "native wkw library aborts on larger ones); the header is corrupt or the data needs "
            "converting with a smaller chunk or shard shape."
        )


def _check_edge(name: str, value: Vec3Int) -> int:
    """WKW needs cubic, power-of-two chunk and shard edges; return the edge."""
    for edge in value:
        if edge < 1 or edge & (edge - 1) or edge > 32768:
            raise UnsupportedFormatError(
                f"WKW {name} must be a power of two in 1..32768 on every axis, got {value}."
            )
    if not value.is_uniform():
        raise UnsupportedFormatError(
            f"WKW needs a cubic {name}, got {value} (use data_format='zarr3' for other shapes)."
        )
    return value.x


@functools.lru_cache(maxsize=16)
def morton_corners(chunks_per_edge: int, chunk_edge: int) -> np.ndarray:
    """`(n, 3)` voxel offsets (x, y, z) of the chunks of a shard, in their stored Morton order
    (read-only: the array is cached).

    WKW interleaves the chunk coordinate bits as x0 y0 z0 x1 y1 z1 ... (x lowest).
    """
    count = chunks_per_edge**3
    index = np.arange(count, dtype=np.int64)
    corners = np.zeros((count, 3), dtype=np.int64)
    for bit in range(max(1, chunks_per_edge.bit_length() - 1)):
        for axis in range(3):
            corners[:, axis] |= ((index >> (3 * bit + axis)) & 1) << bit
    result: np.ndarray = corners * chunk_edge
    result.flags.writeable = False
    return result


def _is_within(path: str, root: str) -> bool:
    """Whether real path `path` is `root` or below it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class WKWArray:
    """One WKW mag folder (`header.wkw` + `z*/y*/x*.wkw` shard files)."""

    def __init__(self, path: str | os.PathLike[str], *, info: ArrayInfo | None = None) -> None:
        self._path = Path(path)
        self._info = info if info is not None else _parse_header(self._path)
        self._handle: Any = None
        self._prefix: bytes | None = None
        self._empty: tuple[bytes, int] | None = None
        # Shard files already validated, by (inode, size, mtime): unchanged files are not re-read.
        self._checked: dict[str, tuple[int, int, int]] = {}
        self._lock = threading.Lock()
        # Shard folders (`z*`, `z*/y*`) found to resolve inside the mag folder: not re-checked.
        self._inside_dirs: set[str] = set()
        # Plain values for `read_at`, which runs on every small read.
        self._root = os.fspath(self._path)
        self._shard_edge = self._info.shard_shape.x  # WKW shards are cubic
        self._voxel_bytes = self._info.num_channels * self._info.dtype.itemsize

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        dtype: np.dtype[Any] | type[np.generic] | str,
        num_channels: int,
        chunk_shape: Vec3Int,
        shard_shape: Vec3Int,
        compressed: bool,
        compression: str = "lz4hc",
    ) -> WKWArray:
        """Create the mag folder with its `header.wkw` (written atomically)."""
        dtype = np.dtype(dtype)
        if dtype.type not in _VOXEL_TYPES:
            raise DTypeError(f"WKW cannot store dtype {dtype}.")
        block_len = _check_edge("chunk_shape", chunk_shape)
        shard_len = _check_edge("shard_shape", shard_shape)
        if shard_len % block_len:
            raise UnsupportedFormatError(
                f"shard_shape {shard_shape} must be a multiple of chunk_shape {chunk_shape}."
            )
        _check_geometry(block_len, shard_len // block_len, num_channels * dtype.itemsize, path)
        block_type = BLOCK_TYPE_RAW
        if compressed:
            block_type = {"lz4": BLOCK_TYPE_LZ4, "lz4hc": BLOCK_TYPE_LZ4HC}.get(compression, 0)
            if not block_type:
                raise UnsupportedFormatError(
                    f"Unknown WKW compression {compression!r}; use 'lz4' or 'lz4hc'."
                )
        header = wkw.Header(
            voxel_type=dtype.type,
            num_channels=num_channels,
            block_len=block_len,
            file_len=shard_len // block_len,
            block_type=block_type,
        )
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Build the header in a scratch folder and move the folder into place in one rename.
        scratch = make_temp_dir(target.parent)
        try:
            wkw.Dataset.create(str(scratch), header).close()
            if target.exists():
                if any(target.iterdir()):
                    raise StorageError(
                        f"Cannot create a WKW array at {target}: the folder is not empty."
                    )
                target.rmdir()
            os.replace(scratch, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return cls(target)

    # -- pickling: views travel to worker processes; the native handle does not -----------------
    def __getstate__(self) -> dict[str, Any]:
        return {"path": self._path, "info": self._info}

    def __setstate__(self, state: dict[str, Any]) -> None:
        WKWArray.__init__(self, state["path"], info=state["info"])

    @property
    def path(self) -> Path:
        """The mag folder."""
        return self._path

    @property
    def info(self) -> ArrayInfo:
        """dtype, channels, chunk/shard shape and compression from `header.wkw`."""
        return self._info

    def _dataset(self) -> Any:
        if self._handle is None:
            with self._lock:
                if self._handle is None:
                    try:
                        self._handle = wkw.Dataset.open(str(self._path))
                    except wkw.wkw.WKWException as exc:
                        raise StorageError(f"Cannot open WKW array at {self._path}: {exc}") from exc
        return self._handle

    def close(self) -> None:
        """Release the native handle (reopened on next use)."""
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    # -- reading ------------------------------------------------------------------------------
    def read(self, bbox: BoundingBox) -> np.ndarray:
        """Voxels of `bbox` (mag coordinates) as a Fortran-ordered `(c, x, y, z)` array."""
        info = self._info
        check_read_size(bbox, info.dtype, info.num_channels, os.fspath(self._path))
        if min(bbox.topleft) < 0:
            # WKW has no negative coordinates: those voxels are unwritten (0).
            out = np.zeros((info.num_channels, *bbox.size), dtype=info.dtype, order="F")
            inside = bbox.intersected_with(BoundingBox((0, 0, 0), bbox.bottomright.pairmax(0)))
            if not inside.is_empty():
                rel = inside.offset(-bbox.topleft)
                out[_ALL_CHANNELS + rel.to_slices()] = self._read_raw(inside)
            return out
        return self._read_raw(bbox)

    def read_at(self, topleft: tuple[int, int, int], size: tuple[int, int, int]) -> np.ndarray:
        """`read` of the box at `topleft` with `size` (mag coordinates, positive Python ints).

        The path small random reads take: plain ints instead of geometry objects and one call
        into the native library; anything else (negative or huge coordinates, a read cap set
        in the environment, reads large enough for the io threads) goes through `read`.
        """
        x, y, z = topleft
        sx, sy, sz = size
        info = self._info
        nbytes = sx * sy * sz * self._voxel_bytes
        if (
            x < 0
            or y < 0
            or z < 0
            or max(x + sx, y + sy, z + sz) > _MAX_COORD
            or nbytes >= _native.PARALLEL_MIN_BYTES
            or MAX_READ_BYTES_ENV in os.environ
        ):
            return self.read(BoundingBox(topleft, size))
        self._check_shards(x, y, z, x + sx, y + sy, z + sz)
        try:
            return _native.read(self._dataset(), topleft, size, info.num_channels, info.dtype)
        except wkw.wkw.WKWException as exc:
            box = BoundingBox(topleft, size)
            raise CorruptChunkError(f"Reading {box} from {self._path} failed: {exc}") from exc

    def _header_prefix(self) -> bytes:
        """The first 8 bytes every shard file must share with `header.wkw`; checked against the
        parsed header, so a `header.wkw` swapped since cannot let other block lengths through."""
        if self._prefix is None:
            prefix = (self._path / HEADER_FILE).read_bytes()[:8]
            info = self._info
            expected = (
                info.chunk_shape.x.bit_length() - 1
                | ((info.shard_shape.x // info.chunk_shape.x).bit_length() - 1) << 4,
                info.num_channels * info.dtype.itemsize,
            )
            if len(prefix) < 8 or (prefix[4], prefix[7]) != expected:
                raise CorruptChunkError(
                    f"{self._path / HEADER_FILE} changed since the mag was opened (block or "
                    "voxel size differs); open the mag again."
                )
            self._prefix = prefix
        return self._prefix

    def _check_shards(self, x0: int, y0: int, z0: int, x1: int, y1: int, z1: int) -> None:
        """`_check_shard_file` for every shard file the box `[x0, x1) x ...` touches; a plain-int
        loop with one `stat` per file that was validated before (this runs on every read)."""
        edge, root, checked = self._shard_edge, self._root, self._checked
        for z in range(z0 // edge, (z1 - 1) // edge + 1):
            for y in range(y0 // edge, (y1 - 1) // edge + 1):
                for x in range(x0 // edge, (x1 - 1) // edge + 1):
                    path = f"{root}/z{z}/y{y}/x{x}.wkw"
                    try:
                        st = os.stat(path)
                    except OSError:
                        self._check_shard_file(path)  # missing (fine) or unreadable (raises)
                        continue
                    if checked.get(path) != (st.st_ino, st.st_size, st.st_mtime_ns):
                        self._check_shard_file(path)

    def _check_shard_file(self, path: str) -> None:
        """Refuse shard files the native library would misread (zeros) or crash on.

        Each file starts with the dataset header (bytes 0-7) and its data offset; raw files
        hold every chunk, compressed ones at least their jump table.
        """
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CorruptChunkError(f"Cannot read WKW shard {path}: {exc}") from exc
        version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self._checked.get(path) == version:
            return  # this exact file was validated before
        try:
            with open(path, "rb") as handle:
                head = handle.read(16)
                size = os.fstat(handle.fileno()).st_size
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CorruptChunkError(f"Cannot read WKW shard {path}: {exc}") from exc
        self._verify_shard_head(path, head, size)
        self._checked[path] = version

    def _verify_shard_head(self, path: str, head: bytes, size: int) -> int:
        """Raise `CorruptChunkError` unless a shard file's first 16 bytes and size fit the
        array; return its data offset."""
        info = self._info
        chunks = (info.shard_shape // info.chunk_shape).prod()
        voxel_bytes = info.dtype.itemsize * info.num_channels
        offset = int.from_bytes(head[8:16], "little") if len(head) == 16 else -1
        if info.compressed:
            valid = offset == 16 + 8 * chunks and size >= offset
        else:
            valid = offset >= 16 and size == offset + chunks * info.chunk_shape.prod() * voxel_bytes
        if head[:8] != self._header_prefix() or not valid:
            raise CorruptChunkError(
                f"WKW shard {path} is corrupt (header or size does not match {self._path / HEADER_FILE})."
            )
        return offset

    def _read_raw(self, bbox: BoundingBox) -> np.ndarray:
        if max(bbox.bottomright) > _MAX_COORD:
            raise OutOfBoundsError(f"{bbox} exceeds the uint32 coordinate range of WKW.")
        (x0, y0, z0), (x1, y1, z1) = bbox.topleft, bbox.bottomright
        self._check_shards(x0, y0, z0, x1, y1, z1)
        info = self._info
        threads = self._threads_for(bbox.size.prod() * self._voxel_bytes)
        slabs = _native.z_slabs(z0, z1, info.chunk_shape.z, threads)
        try:
            return _native.read(
                self._dataset(),
                bbox.topleft.to_tuple(),
                bbox.size.to_tuple(),
                info.num_channels,
                info.dtype,
                slabs,
                threads,
            )
        except wkw.wkw.WKWException as exc:
            raise CorruptChunkError(f"Reading {bbox} from {self._path} failed: {exc}") from exc

    @staticmethod
    def _threads_for(nbytes: int) -> int:
        """Threads for a call moving `nbytes` (small calls stay on the calling thread)."""
        return threads_for_call() if nbytes >= _native.PARALLEL_MIN_BYTES else 1

    def chunk_buffer(self, batch_bytes: int = 1 << 20) -> np.ndarray:
        """A scratch array for `iter_stored_chunks`: about `batch_bytes` of whole chunks."""
        info = self._info
        edge = info.chunk_shape.x
        count = (info.shard_shape // info.chunk_shape).prod()
        chunk_bytes = edge**3 * info.num_channels * info.dtype.itemsize
        batch = max(1, min(count, batch_bytes // chunk_bytes))
        return np.empty((batch, edge, edge, edge, info.num_channels), dtype=info.dtype)

    def stored_chunk_corners(self) -> np.ndarray:
        """`(n, 3)` voxel offsets in a shard of the chunks `iter_stored_chunks` yields, in order."""
        info = self._info
        return morton_corners(info.shard_shape.x // info.chunk_shape.x, info.chunk_shape.x)

    def iter_stored_chunks(
        self, shard_index: Vec3Int, batch_bytes: int = 1 << 20, buffer: np.ndarray | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """The chunks of one uncompressed shard file as stored, in batches of about `batch_bytes`:
        `(first chunk index, chunks (n, z, y, x, c))`, chunk i at `morton_corners(...)[i]`.

        Yields nothing if the file does not exist. One buffer is reused for every batch (consume
        each before asking for the next; pass `buffer`, from `chunk_buffer`, to reuse one across
        shards too), so the data is reduced while it is still in the CPU cache. Pyramid building
        uses this instead of assembling the source region (the native read costs ~3x a plain
        file read). The file is validated like every read.
        """
        info = self._info
        if info.compressed:
            raise UnsupportedFormatError(
                f"{self._path} is compressed: its chunks are not stored raw."
            )
        path = os.fspath(self.shard_path(shard_index))
        edge = info.chunk_shape.x
        count = (info.shard_shape // info.chunk_shape).prod()
        try:
            handle = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in finally
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CorruptChunkError(f"Cannot read WKW shard {path}: {exc}") from exc
        try:
            offset = self._verify_shard_head(
                path, handle.read(16), os.fstat(handle.fileno()).st_size
            )
            fits = buffer is not None and (
                buffer.shape[1:] == (edge, edge, edge, info.num_channels)
                and buffer.dtype == info.dtype
                and buffer.flags.c_contiguous
            )
            if buffer is None or not fits:
                buffer = self.chunk_buffer(batch_bytes)
            batch, chunk_bytes = len(buffer), buffer[0].nbytes
            view = buffer.data.cast("B")
            for first in range(0, count, batch):
                n = min(batch, count - first)
                wanted = n * chunk_bytes
                if (
                    os.preadv(handle.fileno(), [view[:wanted]], offset + first * chunk_bytes)
                    != wanted
                ):
                    raise CorruptChunkError(f"WKW shard {path} is shorter than its header says.")
                yield first, buffer[:n]
        except OSError as exc:
            if isinstance(exc, CorruptChunkError):
                raise
            raise CorruptChunkError(f"Cannot read WKW shard {path}: {exc}") from exc
        finally:
            handle.close()

    def list_written_boxes(self) -> Iterator[BoundingBox]:
        """One box per shard file present on disk (mag coordinates)."""
        shard = self._info.shard_shape
        for file in sorted(self._path.glob("z*/y*/x*.wkw")):
            match = _SHARD_FILE_RE.match(file.relative_to(self._path).as_posix())
            if match:
                z, y, x = (int(g) for g in match.groups())
                yield BoundingBox(Vec3Int(x, y, z) * shard, shard)

    def stored_file(self, box: BoundingBox) -> str:
        """The shard file holding a box of `list_written_boxes` (mag coordinates)."""
        return str(self.shard_path(box.topleft // self._info.shard_shape))

    def shard_path(self, shard_index: Vec3Int) -> Path:
        """The file holding shard `shard_index` (shard-grid coordinates)."""
        return self._path / f"z{shard_index.z}" / f"y{shard_index.y}" / f"x{shard_index.x}.wkw"

    # -- writing ------------------------------------------------------------------------------
    def write(self, offset: Vec3Int, data: np.ndarray) -> None:
        """Write `(c, x, y, z)` data at `offset` (mag coordinates).

        Uncompressed shards are written in place (new shard files are created atomically first);
        compressed shards are rebuilt whole in a scratch folder and renamed into place, reading
        the old content of partially covered shards first.
        """
        info = self._info
        if data.ndim != 4 or data.shape[0] != info.num_channels:
            raise DataShapeError(
                f"Expected (c, x, y, z) data with c={info.num_channels}, got shape {data.shape}."
            )
        if data.dtype != info.dtype:
            raise DTypeError(f"Data of dtype {data.dtype} cannot be written to a {info.dtype} mag.")
        bbox = BoundingBox(offset, data.shape[1:])
        if bbox.is_empty():
            return
        if min(bbox.topleft) < 0 or max(bbox.bottomright) > _MAX_COORD:
            raise OutOfBoundsError(
                f"WKW stores coordinates 0..2^32-1 only; cannot write {bbox} to {self._path}."
            )
        if not (data.flags.c_contiguous or data.flags.f_contiguous):
            data = np.asfortranarray(data)
        self._check_shards_inside(bbox)
        if info.compressed:
            self._write_compressed(bbox, data)
        else:
            self._ensure_shard_files(bbox)
            # raw blocks are written in place: slabs cut at block borders never share one
            self._write_slabs(self._dataset(), bbox, data, info.chunk_shape.z)

    def _check_shards_inside(self, bbox: BoundingBox) -> None:
        """Refuse a write whose shard files or their `z*`/`y*` folders are symlinks leaving the
        mag folder (as `cp -rs` makes): writing through them would change files outside the
        dataset. Folders found inside are cached; shard files are checked on every write
        (plain-int loop: this runs on every write)."""
        edge = self._info.shard_shape.x  # WKW shards are cubic
        (x0, y0, z0), (x1, y1, z1) = bbox.topleft, bbox.bottomright
        base = os.fspath(self._path)
        root = ""
        for z in range(z0 // edge, (z1 - 1) // edge + 1):
            for y in range(y0 // edge, (y1 - 1) // edge + 1):
                for folder in (f"{base}/z{z}", f"{base}/z{z}/y{y}"):
                    if folder in self._inside_dirs:
                        continue
                    if os.path.islink(folder):
                        root = root or os.path.realpath(self._path)
                        if not _is_within(os.path.realpath(folder), root):
                            self._refuse(Path(folder))
                    if os.path.isdir(folder):
                        self._inside_dirs.add(folder)
                for x in range(x0 // edge, (x1 - 1) // edge + 1):
                    target = f"{base}/z{z}/y{y}/x{x}.wkw"
                    if os.path.islink(target):
                        root = root or os.path.realpath(self._path)
                        inside = _is_within(os.path.realpath(target), root)
                        self._symlinked_shard(Path(target), inside=inside)

    def _symlinked_shard(self, target: Path, *, inside: bool) -> None:
        """A write is about to touch shard file `target`, a symlink: refuse it if it leaves the
        mag (subclasses may copy the target instead)."""
        if not inside:
            self._refuse(target)

    def _refuse(self, path: Path) -> NoReturn:
        raise ReadOnlyError(
            f"Refusing to write through {path}: it is a symlink to "
            f"{os.path.realpath(path)}, outside the mag folder {self._path}, and writing would "
            "change that foreign file. Replace the link by a copy of its target "
            "(e.g. `cp --remove-destination`) to edit it here."
        )

    def _write_slabs(self, handle: Any, bbox: BoundingBox, data: np.ndarray, edge: int) -> None:
        """Write `data` at `bbox` through `handle`, in z slabs cut at multiples of `edge` on the
        call's io threads."""
        threads = self._threads_for(data.nbytes)
        slabs = _native.z_slabs(bbox.topleft.z, bbox.bottomright.z, edge, threads)
        try:
            _native.write(handle, bbox.topleft.to_tuple(), data, slabs, threads)
        except wkw.wkw.WKWException as exc:
            raise StorageError(f"Writing to {self._path} failed: {exc}") from exc

    def _write_handle(self, handle: Any, offset: Vec3Int, data: np.ndarray) -> None:
        try:
            handle.write(offset.to_tuple(), data)
        except wkw.wkw.WKWException as exc:
            raise StorageError(f"Writing to {self._path} failed: {exc}") from exc

    def _scratch(self) -> Any:
        """A throw-away WKW dataset beside the shard files, with the same header."""
        scratch = make_temp_dir(self._path)
        shutil.copyfile(self._path / HEADER_FILE, scratch / HEADER_FILE)
        return scratch, wkw.Dataset.open(str(scratch))

    def _empty_shard(self) -> tuple[bytes, int]:
        """First 16 bytes and size of an all-zero raw shard file, learned once from one the
        native library writes (so the format stays its own)."""
        if self._empty is None:
            scratch, handle = self._scratch()
            try:
                chunk = self._info.chunk_shape
                zeros = np.zeros((self._info.num_channels, *chunk), self._info.dtype, order="F")
                self._write_handle(handle, Vec3Int.zeros(), zeros)
                made = scratch / "z0" / "y0" / "x0.wkw"
                with open(made, "rb") as file:
                    self._empty = (file.read(16), os.fstat(file.fileno()).st_size)
            finally:
                handle.close()
                shutil.rmtree(scratch, ignore_errors=True)
        return self._empty

    def _ensure_shard_files(self, bbox: BoundingBox) -> None:
        """Create the missing shard files of `bbox` as all-zero (sparse) raw files, each made
        complete under a temporary name and linked into place, so in-place writes can follow."""
        shard = self._info.shard_shape
        missing = [
            box
            for box in align_outward(bbox, shard).chunk(shard)
            if not self.shard_path(box.topleft // shard).exists()
        ]
        if not missing:
            return
        head, size = self._empty_shard()
        mode = 0o666 & ~current_umask()
        for box in missing:
            target = self.shard_path(box.topleft // shard)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, scratch = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
            try:
                try:
                    os.write(fd, head)
                    os.ftruncate(fd, size)  # the chunks: a hole that reads as zeros
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)
                with contextlib.suppress(FileExistsError):
                    os.link(scratch, target)  # never clobbers a file another writer just made
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(scratch)

    def _write_compressed(self, bbox: BoundingBox, data: np.ndarray) -> None:
        shard = self._info.shard_shape
        hull = align_outward(bbox, shard)
        if hull != bbox:
            buffer = np.zeros(
                (self._info.num_channels, *hull.size), dtype=self._info.dtype, order="F"
            )
            for box in hull.chunk(shard):
                if not bbox.contains_bbox(box) and self.shard_path(box.topleft // shard).exists():
                    buffer[_ALL_CHANNELS + box.offset(-hull.topleft).to_slices()] = self._read_raw(
                        box
                    )
            buffer[_ALL_CHANNELS + bbox.offset(-hull.topleft).to_slices()] = data
            data = buffer
        scratch, handle = self._scratch()
        try:
            # each shard file is compressed whole: slabs cut at shard borders
            self._write_slabs(handle, hull, data, shard.z)
            handle.close()
            for box in hull.chunk(shard):
                target = self.shard_path(box.topleft // shard)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(scratch / target.relative_to(self._path), target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
