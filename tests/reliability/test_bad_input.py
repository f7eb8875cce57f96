"""Bad arguments get a clear error from `webknossos_like.errors` before any byte is written.

For every format a dataset holds a layer with mags 1 and 2 and some data. Each case tries a
wrong call; it must raise the expected error class, and afterwards every file and folder of the
dataset (path, mtime, size) and the properties text must be exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset, MagView
from webknossos_like.errors import (
    AlignmentError,
    DataShapeError,
    DTypeError,
    GeometryError,
    InvalidArgumentError,
    InvalidMagError,
    MagExistsError,
    OutOfBoundsError,
    ReadOnlyError,
    UnsupportedFormatError,
    WebknossosLikeError,
)

from ._plan import iter_files

PRECOMPUTED = "neuroglancerPrecomputed"
FORMATS: dict[str, dict[str, Any]] = {
    "wkw_raw": {"category": "color", "dtype": "uint8", "mag": {"compress": False}},
    "wkw_lz4": {"category": "color", "dtype": "uint8", "mag": {"compress": True}},
    "zarr3_raw": {
        "category": "color",
        "dtype": "uint8",
        "data_format": "zarr3",
        "mag": {"compress": False},
    },
    "zarr3_zstd": {
        "category": "segmentation",
        "dtype": "uint32",
        "data_format": "zarr3",
        "mag": {"compress": True},
    },
    "precomputed_raw": {
        "category": "color",
        "dtype": "uint8",
        "data_format": PRECOMPUTED,
        "mag": {"compress": False},
    },
    "precomputed_cseg": {
        "category": "segmentation",
        "dtype": "uint32",
        "data_format": PRECOMPUTED,
        "mag": {"compress": True},
    },
    "precomputed_sharded": {
        "category": "color",
        "dtype": "uint8",
        "data_format": PRECOMPUTED,
        "mag": {"sharded": True},
    },
}


class Env:
    """The dataset of one case: its path, layer, mags 1 and 2, and the layer dtype."""

    def __init__(self, path: Path, fmt: str) -> None:
        spec = FORMATS[fmt]
        self.path = path
        self.fmt = fmt
        self.dtype = np.dtype(spec["dtype"])
        ds = Dataset(path, voxel_size=(1, 1, 1))
        layer = ds.add_layer(
            "l", spec["category"], dtype=spec["dtype"], data_format=spec.get("data_format", "wkw")
        )
        layer.add_mag(1, **spec["mag"]).write(np.ones((40, 40, 40), self.dtype))
        layer.add_mag(2, **spec["mag"]).write(np.ones((20, 20, 20), self.dtype))

    @property
    def layer(self) -> Any:
        return Dataset.open(self.path).get_layer("l")

    @property
    def mag1(self) -> MagView:
        return self.layer.get_mag(1)

    @property
    def mag2(self) -> MagView:
        return self.layer.get_mag(2)

    def data(self, *shape: int, dtype: Any = None) -> np.ndarray:
        return np.ones(shape, self.dtype if dtype is None else dtype)


Case = tuple[str, Callable[[Env], Any], type[WebknossosLikeError]]


def _wider(env: Env) -> str:
    return {"uint8": "uint16", "uint32": "uint64"}[env.dtype.name]


def _too_large(env: Env) -> np.ndarray:
    """Data of a wider dtype holding one value the layer's dtype cannot."""
    data = env.data(8, 8, 8, dtype=_wider(env))
    data[3, 3, 3] = np.iinfo(env.dtype).max + 1
    return data


def _setitem(env: Env, value: Any) -> None:
    env.mag1[0:8, 0:8, 0:8] = value


def _set_bbox(env: Env, box: BoundingBox) -> None:
    env.layer.bounding_box = box


CASES: list[Case] = [
    # Other dtypes are cast when every value fits (tests/dataset/test_casting.py); these do not.
    (
        "fractional floats",
        lambda e: e.mag1.write(e.data(8, 8, 8, dtype=np.float64) * 1.5),
        DTypeError,
    ),
    ("NaN", lambda e: e.mag1.write(e.data(8, 8, 8, dtype=np.float64) * np.nan), DTypeError),
    ("negative values", lambda e: e.mag1.write(-e.data(8, 8, 8, dtype=np.int8)), DTypeError),
    ("too large values", lambda e: e.mag1.write(_too_large(e)), DTypeError),
    ("strings", lambda e: e.mag1.write(np.full((8, 8, 8), "a")), DTypeError),
    ("2 channels", lambda e: e.mag1.write(e.data(2, 8, 8, 8)), DataShapeError),
    ("2-D data", lambda e: e.mag1.write(e.data(8, 8)), DataShapeError),
    ("5-D data", lambda e: e.mag1.write(e.data(1, 1, 8, 8, 8)), DataShapeError),
    ("zero-size data", lambda e: e.mag1.write(e.data(0, 8, 8)), DataShapeError),
    (
        "data larger than the box",
        lambda e: e.mag1.write(
            e.data(8, 8, 8), absolute_bounding_box=BoundingBox((0, 0, 0), (4, 8, 8))
        ),
        DataShapeError,
    ),
    (
        "zero-size box",
        lambda e: e.mag1.write(
            e.data(8, 8, 8), absolute_bounding_box=BoundingBox((0, 0, 0), (0, 8, 8))
        ),
        DataShapeError,
    ),
    (
        "negative-size box",
        lambda e: e.mag1.write(
            e.data(8, 8, 8), absolute_bounding_box=BoundingBox((8, 0, 0), (-8, 8, 8))
        ),
        GeometryError,
    ),
    ("read negative size", lambda e: e.mag1.read(size=(-8, 8, 8)), GeometryError),
    ("read zero size", lambda e: e.mag1.read(size=(8, 0, 8)), GeometryError),
    (
        "mag 2 offset x=1",
        lambda e: e.mag2.write(e.data(8, 8, 8), absolute_offset=(1, 0, 0)),
        AlignmentError,
    ),
    (
        "mag 2 offset z=3",
        lambda e: e.mag2.write(e.data(8, 8, 8), absolute_offset=(0, 0, 3)),
        AlignmentError,
    ),
    (
        "mag 2 unaligned box",
        lambda e: e.mag2.write(
            e.data(4, 4, 4), absolute_bounding_box=BoundingBox((2, 2, 1), (8, 8, 8))
        ),
        AlignmentError,
    ),
    (
        "mag 2 unaligned read",
        lambda e: e.mag2.read(absolute_offset=(3, 0, 0), size=(8, 8, 8)),
        AlignmentError,
    ),
    (
        "read-only dataset",
        lambda e: (
            Dataset.open(e.path, read_only=True).get_layer("l").get_mag(1).write(e.data(8, 8, 8))
        ),
        ReadOnlyError,
    ),
    (
        "outside a writable sub-view",
        lambda e: e.mag1.get_view(size=(16, 16, 16)).write(
            e.data(8, 8, 8), relative_offset=(12, 0, 0)
        ),
        OutOfBoundsError,
    ),
    ("setitem wrong shape", lambda e: _setitem(e, e.data(3, 3, 3)), DataShapeError),
    ("setitem float scalar", lambda e: _setitem(e, 1.5), DTypeError),
    ("setitem negative scalar", lambda e: _setitem(e, -1), DTypeError),
    ("add existing mag", lambda e: e.layer.add_mag(2), MagExistsError),
    ("add mag 3", lambda e: e.layer.add_mag(3), InvalidMagError),
    ("add mag 0", lambda e: e.layer.add_mag(0), InvalidMagError),
    (
        "add layer num_channels=0",
        lambda e: Dataset.open(e.path).add_layer("x", "color", num_channels=0),
        InvalidArgumentError,
    ),
    (
        "add layer float64",
        lambda e: Dataset.open(e.path).add_layer("x", "color", dtype="float64"),
        DTypeError,
    ),
    (
        "add layer bad category",
        lambda e: Dataset.open(e.path).add_layer("x", "colour"),
        InvalidArgumentError,
    ),
]
WKW_CASES: list[Case] = [
    (
        "negative offset",
        lambda e: e.mag1.write(e.data(8, 8, 8), absolute_offset=(-8, 0, 0)),
        OutOfBoundsError,
    ),
    (
        "offset 2**32",
        lambda e: e.mag1.write(e.data(8, 8, 8), absolute_offset=(2**32, 0, 0)),
        OutOfBoundsError,
    ),
    (
        "negative layer box",
        lambda e: _set_bbox(e, BoundingBox((-8, 0, 0), (8, 8, 8))),
        OutOfBoundsError,
    ),
    ("chunk shape 0", lambda e: e.layer.add_mag(4, chunk_shape=0), InvalidArgumentError),
    ("chunk shape -32", lambda e: e.layer.add_mag(4, chunk_shape=-32), InvalidArgumentError),
    ("chunk shape 24", lambda e: e.layer.add_mag(4, chunk_shape=24), UnsupportedFormatError),
    (
        "shard < chunk",
        lambda e: e.layer.add_mag(4, chunk_shape=64, shard_shape=32),
        UnsupportedFormatError,
    ),
]
ZARR3_CASES: list[Case] = [
    (
        "negative offset",
        lambda e: e.mag1.write(e.data(8, 8, 8), absolute_offset=(-8, 0, 0)),
        OutOfBoundsError,
    ),
    (
        "negative layer box",
        lambda e: _set_bbox(e, BoundingBox((-8, 0, 0), (8, 8, 8))),
        OutOfBoundsError,
    ),
    ("chunk shape 0", lambda e: e.layer.add_mag(4, chunk_shape=0), InvalidArgumentError),
    ("chunk shape -32", lambda e: e.layer.add_mag(4, chunk_shape=-32), InvalidArgumentError),
    (
        "shard not a multiple of the chunk",
        lambda e: e.layer.add_mag(4, chunk_shape=32, shard_shape=48),
        UnsupportedFormatError,
    ),
    (
        "precomputed options",
        lambda e: e.layer.add_mag(4, encoding="jpeg"),
        InvalidArgumentError,
    ),
]
PRECOMPUTED_CHUNK_BUG = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: precomputed add_mag accepts chunk_shape with zeros or negatives and saves an info "
    "its own reader rejects (chunk_sizes must be positive): the layer cannot be opened any more",
)
PRECOMPUTED_CASES: list[Any] = [
    pytest.param(
        "chunk shape 0",
        lambda e: e.layer.add_mag(4, chunk_shape=0),
        WebknossosLikeError,
        marks=PRECOMPUTED_CHUNK_BUG,
    ),
    pytest.param(
        "chunk shape -32",
        lambda e: e.layer.add_mag(4, chunk_shape=-32),
        WebknossosLikeError,
        marks=PRECOMPUTED_CHUNK_BUG,
    ),
    pytest.param(
        "chunk shape (32, 32, 0)",
        lambda e: e.layer.add_mag(4, chunk_shape=(32, 32, 0)),
        WebknossosLikeError,
        marks=PRECOMPUTED_CHUNK_BUG,
    ),
    (
        "shard_shape not whole chunks",
        lambda e: e.layer.add_mag(4, shard_shape=100),
        InvalidArgumentError,
    ),
    ("unknown encoding", lambda e: e.layer.add_mag(4, encoding="jpeg2000"), UnsupportedFormatError),
    (
        "jpeg for this dtype",
        lambda e: e.layer.add_mag(
            4, encoding="png" if e.dtype.itemsize > 2 else "compressed_segmentation"
        ),
        UnsupportedFormatError,
    ),
]
SHARDED_CASES: list[Any] = [
    pytest.param(
        "offset 2**40 in every axis",
        lambda e: e.mag1.write(e.data(8, 8, 8), absolute_offset=(2**40, 2**40, 2**40)),
        WebknossosLikeError,
        marks=pytest.mark.regression(
            strict=True,
            raises=AssertionError,
            reason="bug: a sharded precomputed write whose box needs more than 64 bits of chunk "
            "id raises InvalidArgumentError only after Layer._before_write saved the grown "
            "bounding box (properties) and rewrote the info",
        ),
    ),
]


def _params() -> list[Any]:
    out = []
    for fmt in FORMATS:
        extra = {"wkw": WKW_CASES, "zarr3": ZARR3_CASES}.get(fmt.split("_")[0], PRECOMPUTED_CASES)
        if fmt == "precomputed_sharded":
            extra = [*extra, *SHARDED_CASES]
        for case in [*CASES, *extra]:
            marks = getattr(case, "marks", ())  # a pytest.param(...) (itself a NamedTuple)
            name, call, error = case.values if hasattr(case, "values") else case
            out.append(pytest.param(fmt, name, call, error, marks=marks, id=f"{fmt}-{name}"))
    return out


def _state(path: Path) -> tuple[dict[str, tuple[int, int]], str]:
    files = {rel: (mtime, size) for rel, mtime, size in iter_files(path)}
    return files, (path / "datasource-properties.json").read_text()


@pytest.mark.parametrize(("fmt", "name", "call", "error"), _params())
def test_bad_call_raises_before_writing(
    fmt: str,
    name: str,
    call: Callable[[Env], Any],
    error: type[WebknossosLikeError],
    fast_tmp: Path,
) -> None:
    env = Env(fast_tmp / "ds", fmt)
    before_files, before_props = _state(env.path)
    raised: BaseException | None = None
    try:
        call(env)
    except Exception as exc:
        raised = exc
    after_files, after_props = _state(env.path)
    changed = sorted(
        k for k in set(before_files) | set(after_files) if before_files.get(k) != after_files.get(k)
    )
    assert not changed, f"{name}: files changed although the call failed: {changed[:8]}"
    assert after_props == before_props, f"{name}: the properties changed"
    assert isinstance(raised, error), f"{name}: expected {error.__name__}, got {raised!r}"
