"""Shared fixtures: small datasets in temporary folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    """An empty dataset with an anisotropic voxel size."""
    return Dataset(tmp_path / "ds", voxel_size=(11.24, 11.24, 25.0))


@pytest.fixture
def rng() -> np.random.Generator:
    """Deterministic random numbers."""
    return np.random.default_rng(42)
