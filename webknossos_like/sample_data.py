"""Built-in synthetic sample data: an EM-like image with a matching segmentation, deterministic."""

from __future__ import annotations

import numpy as np

from .geometry import Vec3Int, Vec3IntLike

DEFAULT_SHAPE = (256, 256, 128)
DEFAULT_CELL_SIZE = 16


def _smooth_field(
    shape: tuple[int, int, int], rng: np.random.Generator, amplitude: float
) -> np.ndarray:
    """A smooth displacement field: a few random low-frequency sine waves."""
    x, y, z = (np.arange(n, dtype=np.float32) for n in shape)
    field = np.zeros(shape, dtype=np.float32)
    for _ in range(4):
        fx, fy, fz = rng.uniform(0.01, 0.05, size=3).astype(np.float32)
        px, py, pz = rng.uniform(0, 2 * np.pi, size=3).astype(np.float32)
        field += (
            np.sin(fx * x + px)[:, None, None]
            * np.sin(fy * y + py)[None, :, None]
            * np.sin(fz * z + pz)[None, None, :]
        )
    field *= np.float32(amplitude / 4)
    return field


def make_segmentation(
    shape: Vec3IntLike = DEFAULT_SHAPE, cell_size: int = DEFAULT_CELL_SIZE, seed: int = 0
) -> np.ndarray:
    """uint32 labels `(x, y, z)`: wavy cells of about `cell_size` voxels, random non-zero ids."""
    size = Vec3Int(shape)
    rng = np.random.default_rng(seed)
    dims = size.to_tuple()
    coords = [np.arange(n, dtype=np.float32) for n in dims]
    cells = []
    for axis in range(3):
        warped = _smooth_field(dims, rng, amplitude=cell_size * 0.6)
        grid = np.expand_dims(coords[axis], [a for a in range(3) if a != axis])
        cells.append(np.floor((grid + warped) / cell_size + 1).astype(np.int64))
    counts = [int(c.max()) + 1 for c in cells]
    flat = (cells[0] * counts[1] + cells[1]) * counts[2] + cells[2]
    # Dense renumbering through a lookup table (linear time, unlike np.unique's sort).
    present = np.zeros(counts[0] * counts[1] * counts[2], dtype=bool)
    present[flat] = True
    num_cells = int(present.sum())
    ids = rng.permutation(np.arange(1, 10 * num_cells + 1, dtype=np.uint32))[:num_cells]
    lookup = np.zeros(present.shape, dtype=np.uint32)
    lookup[present] = ids
    labels: np.ndarray = lookup[flat]
    return labels


def make_image(segmentation: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 EM-like image `(x, y, z)`: bright cell interiors, dark membranes at label borders, noise."""
    rng = np.random.default_rng(seed + 1)
    boundary = np.zeros(segmentation.shape, dtype=bool)
    for axis in range(3):
        change = np.diff(segmentation, axis=axis) != 0
        lower = [slice(None)] * 3
        lower[axis] = slice(0, -1)
        boundary[tuple(lower)] |= change
    image = np.full(segmentation.shape, 170, dtype=np.float32)
    image += (segmentation % 37).astype(np.float32) - 18  # a stable per-cell brightness
    image[boundary] = 60
    image += rng.normal(0, 12, size=segmentation.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_sample(shape: Vec3IntLike = DEFAULT_SHAPE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The sample `(image uint8, segmentation uint32)`, both `(x, y, z)` and Fortran-ordered."""
    segmentation = make_segmentation(shape, seed=seed)
    image = make_image(segmentation, seed=seed)
    return np.asfortranarray(image), np.asfortranarray(segmentation)
