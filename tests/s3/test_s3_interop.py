"""S3 datasets with other tools and machines: tensorstore both ways, conversions, a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.geometry import Mag

ts = pytest.importorskip("tensorstore")


def _s3_kvstore(bucket: str, path: str, endpoint: str) -> dict[str, Any]:
    return {
        "driver": "s3",
        "bucket": bucket,
        "path": path,
        "endpoint": endpoint,
        "aws_region": "us-east-1",
    }


def _volume(shape: tuple[int, int, int], seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=shape, dtype=np.uint8)


@pytest.mark.parametrize("sharded", [False, True])
def test_tensorstore_reads_our_precomputed(bucket: str, s3_env: str, sharded: bool) -> None:
    data = _volume((100, 80, 50))
    ds = Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", data_format="neuroglancerPrecomputed")
    layer.add_mag(1, sharded=sharded).write(data)
    spec = {
        "driver": "neuroglancer_precomputed",
        "kvstore": _s3_kvstore(bucket, "ds/color/", s3_env),
        "scale_index": 0,
    }
    stored = ts.open(spec, read=True).result()
    np.testing.assert_array_equal(stored[..., 0].read().result(), data)


def test_tensorstore_reads_our_zarr3(bucket: str, s3_env: str) -> None:
    data = _volume((70, 40, 33))
    ds = Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", "color", data_format="zarr3").add_mag(1).write(data)
    spec = {"driver": "zarr3", "kvstore": _s3_kvstore(bucket, "ds/color/1/", s3_env)}
    stored = ts.open(spec, read=True).result()
    np.testing.assert_array_equal(stored[0, :70, :40, :33].read().result(), data)


def test_we_read_what_tensorstore_wrote(bucket: str, s3_env: str) -> None:
    data = _volume((64, 48, 40), seed=9)
    spec = {
        "driver": "neuroglancer_precomputed",
        "kvstore": _s3_kvstore(bucket, "tsvol/", s3_env),
        "multiscale_metadata": {"data_type": "uint8", "num_channels": 1, "type": "image"},
        "scale_metadata": {
            "size": list(data.shape),
            "resolution": [4, 4, 40],
            "encoding": "raw",
            "chunk_size": [32, 32, 16],
            "sharding": {
                "@type": "neuroglancer_uint64_sharded_v1",
                "preshift_bits": 0,
                "hash": "identity",
                "minishard_bits": 1,
                "shard_bits": 1,
                "minishard_index_encoding": "gzip",
                "data_encoding": "gzip",
            },
        },
        "create": True,
    }
    stored = ts.open(spec).result()
    stored[..., 0].write(data).result()
    ds = Dataset.open(f"s3://{bucket}/tsvol")
    (layer,) = ds.layers.values()
    np.testing.assert_array_equal(layer.get_mag(1).read()[0], data)


def test_wkw_to_s3_zarr3_and_back(bucket: str, tmp_path: Path) -> None:
    pytest.importorskip("wkw")
    data = _volume((80, 64, 40), seed=4)
    local = Dataset(tmp_path / "local", voxel_size=(2, 2, 2))
    local.add_layer("color", "color", data_format="wkw").add_mag(1).write(data)
    remote = local.copy_dataset(f"s3://{bucket}/converted", data_format="zarr3")
    assert remote.get_layer("color").data_format == "zarr3"
    back = Dataset.open(f"s3://{bucket}/converted").copy_dataset(
        tmp_path / "back", data_format="wkw"
    )
    np.testing.assert_array_equal(back.get_layer("color").get_mag(1).read()[0], data)
    assert back.voxel_size == (2, 2, 2)


@pytest.mark.slow
def test_pyramid_on_s3_with_dask_cluster_equals_sequential(
    bucket: str, s3_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    from webknossos_like import executors

    # The endpoint travels with the pickled dataset (storage_options), not the environment.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    options = {"endpoint_url": s3_env}
    data = _volume((128, 128, 64), seed=7)
    built = {}
    for name in ("sequential", "cluster"):
        ds = Dataset(f"s3://{bucket}/{name}", voxel_size=(1, 1, 1), storage_options=options)
        layer = ds.add_layer("color", "color", data_format="zarr3")
        layer.add_mag(1, chunk_shape=32, shard_shape=64).write(data)
        built[name] = layer
    built["sequential"].downsample(coarsest_mag=Mag(4), sampling_mode="isotropic")
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        built["cluster"].downsample(
            coarsest_mag=Mag(4), sampling_mode="isotropic", executor=executors.dask(client)
        )
    for mag in (1, 2, 4):
        np.testing.assert_array_equal(
            built["cluster"].get_mag(mag).read(), built["sequential"].get_mag(mag).read()
        )
    assert sorted(m.to_layer_name() for m in built["cluster"].mags) == ["1", "2", "4"]
