"""Shared fixtures: small datasets in temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from webknossos_like import Dataset

# Locally, property tests draw new examples on every run, which is how they find bugs. CI
# (`.ci/run` sets WKL_HYPOTHESIS_PROFILE=ci) draws a fixed sequence, so its verdict depends on the
# code, not on the seed of the day; bugs found locally are pinned with `@example`.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("WKL_HYPOTHESIS_PROFILE", "explore"))


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    """An empty dataset with an anisotropic voxel size."""
    return Dataset(tmp_path / "ds", voxel_size=(11.24, 11.24, 25.0))


@pytest.fixture
def rng() -> np.random.Generator:
    """Deterministic random numbers."""
    return np.random.default_rng(42)
