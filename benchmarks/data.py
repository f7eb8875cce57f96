"""Deterministic benchmark volumes, generated once and cached as `.npy` files.

* `image`: uint8 `(x, y, z)`, smooth low-frequency value noise (three octaves, trilinearly
  upsampled) plus mild per-voxel noise - LZ4HC keeps ~85% of the bytes, roughly like EM data.
* `segmentation`: uint32 `(x, y, z)` wavy cells from `webknossos_like.sample_data.make_segmentation`
  (cell size 32, so a 512^3 volume has a few thousand labels).

Both are Fortran-ordered (the natural WKW layout). Generating the 512^3 segmentation takes about
17 s and 5 GiB of RAM, so the arrays are cached, keyed by name, shape, seed and `DATA_VERSION`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

DATA_VERSION = 2
SEED = 1234
SEGMENTATION_CELL_SIZE = 32
# Per-voxel noise: 1.0 makes LZ4HC keep ~85% of the bytes, like typical EM (3.0 gives ~97%).
IMAGE_NOISE_SIGMA = 1.0
VOLUMES = ("image", "segmentation")
DTYPES = {"image": np.dtype("uint8"), "segmentation": np.dtype("uint32")}


def default_cache_dir() -> Path:
    """`$WKL_BENCH_CACHE`, else `~/.cache/webknossos_like-benchmarks`."""
    env = os.environ.get("WKL_BENCH_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "webknossos_like-benchmarks"


def _upsample_axis(coarse: np.ndarray, axis: int, factor: int, length: int) -> np.ndarray:
    """Linear interpolation of `coarse` along `axis` onto `length` points, `factor` per cell."""
    position = np.arange(length, dtype=np.float32) / np.float32(factor)
    lower = np.floor(position).astype(np.intp)
    weight = position - lower
    shape = [1, 1, 1]
    shape[axis] = length
    weight = weight.reshape(shape)
    low = np.take(coarse, lower, axis=axis)
    high = np.take(coarse, lower + 1, axis=axis)
    return low * (np.float32(1) - weight) + high * weight


def make_smooth_image(shape: tuple[int, int, int], seed: int = SEED) -> np.ndarray:
    """uint8 smooth noise: octaves at 64, 16 and 4 voxels plus sigma-1 voxel noise."""
    rng = np.random.default_rng(seed)
    image = np.full(shape, 128.0, dtype=np.float32)
    for period, amplitude in ((64, 45.0), (16, 20.0), (4, 8.0)):
        coarse_shape = tuple(n // period + 2 for n in shape)
        field = rng.standard_normal(coarse_shape, dtype=np.float32)
        for axis in range(3):
            field = _upsample_axis(field, axis, period, shape[axis])
        image += np.float32(amplitude) * field
    image += rng.normal(0.0, IMAGE_NOISE_SIGMA, size=shape).astype(np.float32)
    return np.asfortranarray(np.clip(np.rint(image), 0, 255).astype(np.uint8))


def make_bench_segmentation(shape: tuple[int, int, int], seed: int = SEED) -> np.ndarray:
    """uint32 labels via the library's own generator (cell size 32)."""
    from webknossos_like.sample_data import make_segmentation

    labels = make_segmentation(shape, cell_size=SEGMENTATION_CELL_SIZE, seed=seed)
    return np.asfortranarray(labels.astype(np.uint32, copy=False))


def _generate(name: str, shape: tuple[int, int, int]) -> np.ndarray:
    if name == "image":
        return make_smooth_image(shape)
    if name == "segmentation":
        return make_bench_segmentation(shape)
    raise KeyError(f"unknown benchmark volume {name!r}; known: {', '.join(VOLUMES)}")


def volume_path(name: str, shape: tuple[int, int, int], cache_dir: Path | None = None) -> Path:
    """Where the cached `.npy` of a volume lives (it may not exist yet)."""
    folder = default_cache_dir() if cache_dir is None else cache_dir
    dims = "x".join(str(n) for n in shape)
    return folder / f"{name}-{dims}-seed{SEED}-v{DATA_VERSION}.npy"


def ensure_volume(name: str, shape: tuple[int, int, int], cache_dir: Path | None = None) -> Path:
    """Generate (if not cached) and return the `.npy` path of a volume; written atomically."""
    path = volume_path(name, shape, cache_dir)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _generate(name, shape)
    fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, data)
        os.replace(scratch, path)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return path


def load_volume(path: Path) -> np.ndarray:
    """The cached volume, fully in memory (Fortran order preserved)."""
    return np.load(path)


def fingerprint(path: Path) -> str:
    """Short blake2b digest of the `.npy` file, printed in the report header."""
    digest = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def random_boxes(
    volume_shape: tuple[int, int, int], count: int, size: int = 64, seed: int = SEED
) -> list[tuple[int, int, int]]:
    """`count` top-left corners of `size`^3 boxes inside the volume (fixed seed, unaligned)."""
    rng = np.random.default_rng(seed + 7)
    highs = [max(1, n - size + 1) for n in volume_shape]
    corners = np.stack([rng.integers(0, high, size=count) for high in highs], axis=1)
    return [(int(x), int(y), int(z)) for x, y, z in corners]
