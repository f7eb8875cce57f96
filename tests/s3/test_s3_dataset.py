"""Datasets on S3 (moto server): create, write, grow, reopen; errors; conditional metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.errors import (
    AccessDeniedError,
    BucketNotFoundError,
    DatasetExistsError,
    DatasetNotFoundError,
    UnsupportedFormatError,
)

from .conftest import KEY, SECRET

FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    "precomputed": ("neuroglancerPrecomputed", {}),
    "precomputed-sharded": ("neuroglancerPrecomputed", {"sharded": True}),
    "zarr3": ("zarr3", {}),
}


def _keys(endpoint: str, bucket: str) -> list[str]:
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET
    )
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.mark.parametrize("kind", list(FORMATS))
def test_create_write_grow_read(
    kind: str, bucket: str, s3_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data_format, options = FORMATS[kind]
    url = f"s3://{bucket}/team/ds"
    ds = Dataset(url, voxel_size=(4, 4, 40))
    layer = ds.add_layer("color", "color", dtype="uint16", data_format=data_format)
    mag = layer.add_mag(1, **options)
    rng = np.random.default_rng(1)
    first = rng.integers(0, 60000, size=(70, 50, 30), dtype=np.uint16)
    mag.write(first, absolute_offset=(0, 0, 0))
    more = rng.integers(0, 60000, size=(20, 50, 30), dtype=np.uint16)
    mag.write(more, absolute_offset=(70, 0, 0))  # grows the layer box

    reopened = Dataset.open(url)
    assert reopened.location == url
    got = reopened.get_layer("color")
    assert got.bounding_box.size.to_tuple() == (90, 50, 30)
    np.testing.assert_array_equal(got.get_mag(1).read()[0], np.concatenate([first, more]))
    assert list(tmp_path.iterdir()) == []  # nothing local, no `s3:` folder
    keys = _keys(s3_env, bucket)
    assert "team/ds/datasource-properties.json" in keys
    assert not [k for k in keys if k.endswith(".lock")]
    props = json.loads((reopened.path / "datasource-properties.json").read_bytes())  # type: ignore[attr-defined]
    assert props["dataLayers"][0]["boundingBox"]["width"] == 90


def test_wkw_refused_with_reason(bucket: str) -> None:
    ds = Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1))
    with pytest.raises(UnsupportedFormatError, match="native wkw library"):
        ds.add_layer("color", "color", data_format="wkw")


def test_exists_and_concurrent_writers(bucket: str) -> None:
    url = f"s3://{bucket}/ds"
    a = Dataset(url, voxel_size=(1, 1, 1))
    with pytest.raises(DatasetExistsError, match=url):
        Dataset(url, voxel_size=(1, 1, 1))
    b = Dataset(url, voxel_size=(1, 1, 1), exist_ok=True)
    a.add_layer("one", "color", data_format="zarr3")
    b.add_layer("two", "color", data_format="zarr3")  # re-read and re-applied, not overwritten
    assert sorted(Dataset.open(url).layers) == ["one", "two"]


def test_stale_save_is_refused(bucket: str) -> None:
    from webknossos_like.errors import ConcurrentUpdateError

    url = f"s3://{bucket}/ds"
    a = Dataset(url, voxel_size=(1, 1, 1))
    b = Dataset.open(url)
    a.add_layer("one", "color", data_format="zarr3")
    with pytest.raises(ConcurrentUpdateError, match=r"datasource-properties\.json"):
        b._properties_file.save(b._properties)  # a blind overwrite would drop layer "one"
    assert list(Dataset.open(url).layers) == ["one"]


def test_missing_bucket_and_key_and_bad_credentials(
    bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BucketNotFoundError, match="s3://no-such-bucket"):
        Dataset("s3://no-such-bucket/ds", voxel_size=(1, 1, 1))
    with pytest.raises(BucketNotFoundError, match="s3://no-such-bucket"):
        Dataset.open("s3://no-such-bucket/ds")
    with pytest.raises(DatasetNotFoundError, match=f"s3://{bucket}/nothing"):
        Dataset.open(f"s3://{bucket}/nothing")
    from moto import settings

    wrong = {"key": "wrong", "secret": "wrong"}
    with monkeypatch.context() as patch:
        patch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
        with pytest.raises(AccessDeniedError, match=f"s3://{bucket}/ds"):
            Dataset.open(f"s3://{bucket}/ds", storage_options=wrong)
        with pytest.raises(AccessDeniedError, match=f"s3://{bucket}/ds"):
            Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1), storage_options=wrong)
    assert list(tmp_path.iterdir()) == []


def test_explicit_endpoint_without_env(
    bucket: str, s3_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    options = {"endpoint_url": s3_env}
    ds = Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1), storage_options=options)
    ds.add_layer("c", "color", data_format="neuroglancerPrecomputed").add_mag(1).write(
        np.ones((8, 8, 8), np.uint8)
    )
    again = Dataset.open(f"s3://{bucket}/ds", storage_options=options)
    assert again.get_layer("c").get_mag(1).read().sum() == 512
    import pickle

    assert pickle.loads(pickle.dumps(again)).get_layer("c").get_mag(1).read().sum() == 512


def test_delete_layer_and_mag_and_refuse_rename(bucket: str, s3_env: str) -> None:
    ds = Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("c", "color", data_format="neuroglancerPrecomputed")
    layer.add_mag(1).write(np.ones((32, 32, 32), np.uint8))
    layer.add_mag(2).write(np.ones((16, 16, 16), np.uint8))
    layer.delete_mag(2)
    assert [m.to_layer_name() for m in Dataset.open(ds.location).get_layer("c").mags] == ["1"]
    with pytest.raises(UnsupportedFormatError, match="no rename"):
        layer.name = "d"
    ds.delete_layer("c")
    assert not [k for k in _keys(s3_env, bucket) if k.startswith("ds/c/")]
    assert list(Dataset.open(ds.location).layers) == []


def test_bare_ome_zarr_and_precomputed_prefixes_open(bucket: str) -> None:
    data = np.arange(40 * 30 * 20, dtype=np.uint8).reshape(40, 30, 20)
    ds = Dataset(f"s3://{bucket}/ds", voxel_size=(2, 2, 2))
    ds.add_layer("z", "color", data_format="zarr3").add_mag(1).write(data)
    ds.add_layer("p", "color", data_format="neuroglancerPrecomputed").add_mag(1).write(data)
    for name in ("z", "p"):
        bare = Dataset.open(f"s3://{bucket}/ds/{name}")
        (layer,) = bare.layers.values()
        np.testing.assert_array_equal(layer.get_mag(1).read()[0, :40, :30, :20], data)


@pytest.mark.parametrize("data_format", ["neuroglancerPrecomputed", "zarr3"])
def test_settings_from_aws_config_files(
    bucket: str, s3_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_format: str
) -> None:
    """Endpoint, region and credentials from the AWS config and credentials files only."""
    for name in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text(f"[profile lab]\nregion = us-east-1\nendpoint_url = {s3_env}\n")
    credentials.write_text(f"[lab]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "lab")
    ds = Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1))
    data = np.arange(32 * 32 * 32, dtype=np.uint32).astype(np.uint8).reshape(32, 32, 32)
    ds.add_layer("c", "color", data_format=data_format).add_mag(1).write(data)
    got = Dataset.open(f"s3://{bucket}/ds").get_layer("c").get_mag(1).read()
    np.testing.assert_array_equal(got[0], data)


def test_zarr3_with_keys_in_the_environment_logs_no_errors(bucket: str) -> None:
    """tensorstore's default credential chain logs an ERROR line for each missing AWS config
    file; with keys in the environment we ask it for those only, so a user sees no noise."""
    import subprocess
    import sys

    script = (
        "import numpy as np, webknossos_like as wkl\n"
        f"ds = wkl.Dataset('s3://{bucket}/quiet', voxel_size=(1, 1, 1))\n"
        "mag = ds.add_layer('c', 'color', data_format='zarr3').add_mag(1)\n"
        "mag.write(np.ones((1, 32, 32, 32), np.uint8))\n"
        "assert (mag.read() == 1).all()\n"
    )
    env = dict(
        os.environ, AWS_CONFIG_FILE="/nonexistent/c", AWS_SHARED_CREDENTIALS_FILE="/nonexistent/k"
    )
    env.pop("HOME", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Failed to open file" not in done.stderr and "AWS_ERROR" not in done.stderr, done.stderr
