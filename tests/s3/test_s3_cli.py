"""`wkl` commands on s3:// URLs (moto server), with `--endpoint-url` instead of the variable."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.cli import main


@pytest.fixture
def local(tmp_path: Path) -> tuple[Path, np.ndarray]:
    pytest.importorskip("wkw")
    data = np.random.default_rng(2).integers(0, 255, size=(64, 64, 32), dtype=np.uint8)
    ds = Dataset(tmp_path / "local", voxel_size=(1, 1, 1))
    ds.add_layer("color", "color", data_format="wkw").add_mag(1).write(data)
    return tmp_path / "local", data


def test_cli_convert_info_downsample_check_on_s3(
    bucket: str,
    s3_env: str,
    local: tuple[Path, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.chdir(tmp_path)
    folder, data = local
    url = f"s3://{bucket}/converted"
    ep = ["--endpoint-url", s3_env]
    assert main([*ep, "convert", str(folder), url, "--format", "zarr3"]) == 0
    assert main([*ep, "info", url]) == 0
    assert "color" in capsys.readouterr().out
    assert main([*ep, "downsample", url, "--coarsest-mag", "2"]) == 0
    assert main([*ep, "check", url]) == 0
    assert main([*ep, "convert", url, str(tmp_path / "back"), "--format", "wkw"]) == 0
    back = Dataset.open(tmp_path / "back")
    np.testing.assert_array_equal(back.get_layer("color").get_mag(1).read()[0], data)
    assert sorted(m.to_layer_name() for m in back.get_layer("color").mags) == ["1", "2"]
    assert not (tmp_path / "s3:").exists()
    assert main([*ep, "convert", str(folder), url, "--format", "zarr3", "--overwrite"]) == 2


def test_serve_reads_s3_dataset(bucket: str, s3_env: str) -> None:
    data = np.arange(64 * 64 * 8, dtype=np.uint8).reshape(64, 64, 8)
    ds = Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", "color", data_format="neuroglancerPrecomputed").add_mag(1).write(data)
    with ds.serve(viewer=False) as server:
        with urllib.request.urlopen(f"{server.local_url}/color/info") as reply:
            info = json.loads(reply.read())
        key = info["scales"][0]["key"]
        with urllib.request.urlopen(f"{server.local_url}/color/{key}/0-64_0-64_0-8") as reply:
            raw = reply.read()
    assert np.frombuffer(raw, np.uint8).reshape(8, 64, 64).T.tobytes() == data.tobytes()
