"""Fixtures for the notebook tests.

Until the classes carry `_repr_html_`, `thumbnail` and `to_png` themselves, they are patched on
here for the duration of each test; once the real methods exist nothing is patched, so the same
tests then check the real wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset, Layer, Mag, View
from webknossos_like.notebook import (
    bbox_html,
    dataset_html,
    layer_html,
    mag_html,
    thumbnail,
    to_png,
    view_html,
)
from webknossos_like.sample_data import make_sample

_WIRING: list[tuple[type, str, Callable[..., Any]]] = [
    (Dataset, "_repr_html_", dataset_html),
    (Layer, "_repr_html_", layer_html),
    (View, "_repr_html_", view_html),
    (BoundingBox, "_repr_html_", bbox_html),
    (Mag, "_repr_html_", mag_html),
    (View, "thumbnail", thumbnail),
    (View, "to_png", to_png),
]


@pytest.fixture(autouse=True)
def notebook_methods(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """Add the notebook methods to the classes where they are still missing.

    Returns the `(class name, method)` pairs that were patched (empty once all are wired).
    """
    patched: set[tuple[str, str]] = set()
    for cls, name, function in _WIRING:
        if not hasattr(cls, name):
            monkeypatch.setattr(cls, name, function, raising=False)
            patched.add((cls.__name__, name))
    return patched


SAMPLE_SHAPE = (64, 48, 16)
VOXEL_SIZE = (11.24, 11.24, 25.0)


@pytest.fixture
def sample_dataset(tmp_path: Path) -> Dataset:
    """A WKW dataset with the sample image and segmentation at offset (32, 16, 8), mags 1 and 2-2-1."""
    image, segmentation = make_sample(SAMPLE_SHAPE)
    dataset = Dataset(tmp_path / "sample", voxel_size=VOXEL_SIZE, name="sample")
    color = dataset.add_layer("color", "color", dtype="uint8")
    color.add_mag(1).write(image, absolute_offset=(32, 16, 8))
    labels = dataset.add_layer("segmentation", "segmentation", dtype="uint32")
    labels.add_mag(1).write(segmentation, absolute_offset=(32, 16, 8))
    dataset.downsample(coarsest_mag=(2, 2, 1))
    return dataset


@pytest.fixture
def rng() -> np.random.Generator:
    """Deterministic random numbers."""
    return np.random.default_rng(7)
