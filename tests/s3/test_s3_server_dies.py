"""A server that goes away mid-write: the writer raises our error, the dataset stays readable."""

from __future__ import annotations

import numpy as np
import pytest

from webknossos_like import Dataset
from webknossos_like.errors import StorageError

moto_server = pytest.importorskip("moto.server")


def test_writer_raises_and_dataset_stays_readable(
    bucket: str, s3_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second server over the same in-process moto backend: stopping it is "the server died";
    # the objects written so far survive for the suite's server, as on a real store.
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    url = f"s3://{bucket}/ds"
    ds = Dataset(url, voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color", data_format="neuroglancerPrecomputed").add_mag(1)
    first = np.full((64, 64, 64), 7, np.uint8)
    mag.write(first)
    server.stop()
    with pytest.raises(StorageError, match=f"s3://{bucket}/ds"):
        mag.write(np.full((64, 64, 64), 9, np.uint8), absolute_offset=(64, 0, 0))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env)
    layer = Dataset.open(url).get_layer("c")
    got = layer.get_mag(1).read(absolute_bounding_box=layer.bounding_box)
    np.testing.assert_array_equal(got[0, :64], first)
