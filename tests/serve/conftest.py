"""Fixtures for the server tests: one small dataset (WKW + precomputed layers) and a running server."""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.sample_data import make_sample
from webknossos_like.serve import ServerHandle, serve_dataset

SHAPE = (96, 80, 48)
OFFSET = (37, 21, 5)  # not chunk-aligned: every axis has clipped edge chunks
VOXEL_SIZE = (11.24, 11.24, 25.0)
SECRET = b"TOP-SECRET-must-never-be-served"
UINT64_BASE = np.uint64(1 << 40)  # labels that need all 64 bits


@dataclass(frozen=True)
class Sample:
    """The sample dataset on disk and the arrays written into it."""

    path: Path
    outside: Path  # a folder next to the dataset, holding the secret file
    image: np.ndarray
    labels: np.ndarray


@pytest.fixture(scope="package")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """Color uint8 + segmentation uint64 (WKW, with pyramid), precomputed sharded and raw layers.

    Symlinks inside the precomputed layer point to a secret file and folder outside the dataset.
    """
    root = tmp_path_factory.mktemp("serve")
    image, labels32 = make_sample(SHAPE)
    labels = labels32.astype(np.uint64) + UINT64_BASE
    dataset = Dataset(root / "sample", voxel_size=VOXEL_SIZE, name="sample")
    color = dataset.add_layer("color", "color", dtype="uint8")
    color.add_mag(1).write(image, absolute_offset=OFFSET)
    segmentation = dataset.add_layer("segmentation", "segmentation", dtype="uint64")
    segmentation.add_mag(1).write(labels, absolute_offset=OFFSET)
    dataset.downsample()
    sharded = dataset.add_layer(
        "sharded", "segmentation", dtype="uint32", data_format="neuroglancerPrecomputed"
    )
    sharded.add_mag(1, chunk_shape=32, sharded=True).write(labels32, absolute_offset=OFFSET)
    plain = dataset.add_layer(
        "plain", "color", dtype="uint8", data_format="neuroglancerPrecomputed"
    )
    plain.add_mag(1, chunk_shape=32).write(image, absolute_offset=OFFSET)

    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    os.symlink(outside / "secret.txt", dataset.path / "plain" / "1" / "leak")
    os.symlink(outside, dataset.path / "plain" / "leakdir")
    os.symlink(outside / "secret.txt", dataset.path / "plain" / "1" / "ghost.gz")  # `.gz` fallback
    return Sample(dataset.path, outside, image, labels)


@pytest.fixture(scope="package")
def server(sample: Sample) -> Iterator[ServerHandle]:
    """A server for the sample dataset (with the viewer client), closed after the tests."""
    with serve_dataset(sample.path) as handle:
        yield handle


@dataclass(frozen=True)
class Reply:
    """Status, headers (lower-case names) and body of one raw HTTP exchange."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def fetch(
    handle: ServerHandle, target: str, method: str = "GET", headers: Mapping[str, str] | None = None
) -> Reply:
    """Send `target` exactly as given (no client-side normalisation of `..` or `%2F`)."""
    connection = http.client.HTTPConnection(handle.host, handle.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()
