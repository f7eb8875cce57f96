"""`S3KVStore` against a real (moto) S3 server: the `KVStore` contract, conditional puts, errors."""

from __future__ import annotations

import pickle

import pytest

from webknossos_like.errors import (
    AccessDeniedError,
    BucketNotFoundError,
    ConcurrentUpdateError,
    CorruptChunkError,
    InvalidNameError,
    ReadOnlyError,
)
from webknossos_like.storage.precomputed.kvstore import KVStore, open_kvstore
from webknossos_like.storage.s3.kvstore import S3KVStore


def test_contract_round_trip(bucket: str) -> None:
    store = open_kvstore(f"s3://{bucket}/vol")
    assert isinstance(store, S3KVStore) and isinstance(store, KVStore)
    assert store.get("info") is None
    store.put("info", b"{}")
    store.put("1/0-64_0-64_0-64", b"abcdef")
    assert store.get("info") == b"{}"
    assert store.get_range("1/0-64_0-64_0-64", 1, 3) == b"bc"
    assert store.get_range("1/0-64_0-64_0-64", 4, 100) == b"ef"
    assert store.get_range("1/0-64_0-64_0-64", 10, 20) == b""
    assert store.get_range("missing", 0, 4) is None
    assert store.exists("info") and not store.exists("nope")
    assert sorted(store.list_prefix("")) == ["1/0-64_0-64_0-64", "info"]
    assert list(store.list_prefix("1/")) == ["1/0-64_0-64_0-64"]
    assert store.child("1").get("0-64_0-64_0-64") == b"abcdef"
    assert store.child("1").get("../info") == b"{}"
    store.delete("info")
    store.delete("info")
    assert store.get("info") is None


def test_get_many_and_ranges_are_batched(bucket: str) -> None:
    store = S3KVStore(f"s3://{bucket}/many", concurrency=4)
    for i in range(20):
        store.put(f"k{i}", bytes([i]) * 10)
    found = store.get_many([f"k{i}" for i in range(20)] + ["absent"])
    assert found["absent"] is None
    assert all(found[f"k{i}"] == bytes([i]) * 10 for i in range(20))
    assert store.get_ranges([("k1", 0, 2), ("k2", 5, 7), ("absent", 0, 1)]) == [
        b"\x01\x01",
        b"\x02\x02",
        None,
    ]


def test_max_size_and_bad_keys(bucket: str) -> None:
    store = S3KVStore(f"s3://{bucket}")
    store.put("big", b"x" * 100)
    with pytest.raises(CorruptChunkError, match="big"):
        store.get("big", max_size=10)
    with pytest.raises(InvalidNameError):
        store.put("../escape", b"")
    with pytest.raises(ReadOnlyError):
        S3KVStore(f"s3://{bucket}", read_only=True).put("a", b"")


def test_pickles_as_spec(bucket: str, s3_env: str) -> None:
    store = S3KVStore(f"s3://{bucket}/p", storage_options={"endpoint_url": s3_env})
    store.put("a", b"1")
    copy = pickle.loads(pickle.dumps(store))
    assert copy == store and copy.get("a") == b"1"


def test_conditional_put(bucket: str) -> None:
    store = S3KVStore(f"s3://{bucket}")
    store.put_if("meta", b"v1", None)
    with pytest.raises(ConcurrentUpdateError, match="meta"):
        store.put_if("meta", b"again", None)
    got = store.get_with_etag("meta")
    assert got is not None and got[0] == b"v1"
    store.put_if("meta", b"v2", got[1])
    with pytest.raises(ConcurrentUpdateError, match=f"s3://{bucket}/meta"):
        store.put_if("meta", b"v3", got[1])  # stale ETag: another writer came first
    assert store.get("meta") == b"v2"


def test_explicit_storage_options(
    bucket: str, s3_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    opts = {"endpoint_url": s3_env, "key": "k", "secret": "s"}
    store = open_kvstore(f"s3://{bucket}/x", storage_options=opts)
    store.put("a", b"1")
    assert store.get("a") == b"1"


def test_missing_bucket_names_url(s3_env: str) -> None:
    store = S3KVStore("s3://no-such-bucket-here/ds")
    with pytest.raises(BucketNotFoundError, match="s3://no-such-bucket-here"):
        store.get("info")
    with pytest.raises(BucketNotFoundError, match="no-such-bucket-here"):
        store.put("info", b"{}")


def test_bad_credentials_name_url(bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import settings

    store = S3KVStore(f"s3://{bucket}/ds", storage_options={"key": "wrong", "secret": "wrong"})
    with monkeypatch.context() as patch:
        patch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto checks keys now
        with pytest.raises(AccessDeniedError, match=f"s3://{bucket}/ds/info"):
            store.get("info")
        with pytest.raises(PermissionError):
            store.put("info", b"{}")


def test_precomputed_reads_overlap_requests(bucket: str) -> None:
    """A read of many chunks has several requests in flight at once, at most `concurrency`
    (the real store's `get`, wrapped to count requests in flight)."""
    import threading
    import time

    import numpy as np

    from webknossos_like import Dataset

    ds = Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color", data_format="neuroglancerPrecomputed").add_mag(1)
    data = np.random.default_rng(0).integers(0, 255, size=(128, 128, 128), dtype=np.uint8)
    mag.write(data)
    from webknossos_like.storage.s3.kvstore import S3KVStore

    active, peak, lock = [0], [0], threading.Lock()
    original = S3KVStore.get

    def slow_get(self: S3KVStore, key: str, **kwargs: object) -> bytes | None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.05)
            return original(self, key, **kwargs)  # type: ignore[arg-type]
        finally:
            with lock:
                active[0] -= 1

    S3KVStore.get = slow_get  # type: ignore[method-assign]
    try:
        got = Dataset.open(f"s3://{bucket}/ds").get_layer("c").get_mag(1).read()
    finally:
        S3KVStore.get = original  # type: ignore[method-assign]
    np.testing.assert_array_equal(got[0], data)
    assert 1 < peak[0] <= 16


def test_empty_object_with_max_size(bucket: str) -> None:
    store = S3KVStore(f"s3://{bucket}")
    store.put("empty", b"")
    assert store.get("empty", max_size=10) == b""
    assert store.get("absent", max_size=10) is None


def test_has_keys(bucket: str) -> None:
    store = S3KVStore(f"s3://{bucket}/a")
    assert not store.has_keys()
    store.put("deep/down/key", b"1")
    assert store.has_keys() and store.child("deep").has_keys()
    assert not S3KVStore(f"s3://{bucket}/ab").has_keys()  # a prefix, not a folder
    with pytest.raises(BucketNotFoundError):
        S3KVStore("s3://no-such-bucket-x/a").has_keys()
