"""The pure parts of the server: path splitting, chunk names, ranges, gzip negotiation, routing."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset
from webknossos_like.serve import Request, Router
from webknossos_like.serve.routes import (
    BadRequest,
    Catalog,
    NotFound,
    accepts_gzip,
    parse_chunk_name,
    parse_range,
    split_path,
)

from .conftest import OFFSET, SHAPE, Sample


@pytest.fixture(scope="module")
def router(sample: Sample) -> Router:
    """A router without viewer client, over a read-only copy of the sample dataset."""
    return Router(Catalog(Dataset.open(sample.path, read_only=True)))


def get(router: Router, target: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    response = router.handle(Request.make("GET", target, headers))
    assert isinstance(response.body, bytes)
    return response.status, response.headers, response.body


def test_split_path_decodes_each_segment() -> None:
    assert split_path("/color/1/0-64_0-64_0-64?x=1") == (["color", "1", "0-64_0-64_0-64"], False)
    assert split_path("/v/wkl/") == (["v", "wkl"], True)
    assert split_path("/") == ([], False)
    assert split_path("/a%20b/info") == (["a b", "info"], False)


@pytest.mark.parametrize(
    "target",
    [
        "/../etc",
        "/a/%2e%2e/b",
        "/a/%2E%2E",
        "/a%2Fb",
        "/a/%2fetc%2fpasswd",
        "//etc/passwd",
        "/a/./b",
        "/a\\..\\b",
        "/a/%5C..",
        "/a/%00",
        "/a//b",
    ],
)
def test_split_path_refuses_escapes(target: str) -> None:
    with pytest.raises(NotFound):
        split_path(target)


@pytest.mark.parametrize("target", ["etc/passwd", "http://example.com/etc/passwd", "/%ff%fe"])
def test_split_path_bad_requests(target: str) -> None:
    with pytest.raises(BadRequest):
        split_path(target)


def test_parse_chunk_name() -> None:
    assert parse_chunk_name("37-101_21-85_5-53") == BoundingBox((37, 21, 5), (64, 64, 48))
    assert parse_chunk_name("-20--4_3-19_0-1") == BoundingBox((-20, 3, 0), (16, 16, 1))
    for bad in (
        "",
        "abc",
        "1-2_3-4",
        "1-2_3-4_5-6_7-8",
        "1-2_3-4_5-6x",
        "2-1_0-1_0-1",
        "1-2_3-4_5-" + "9" * 30,
        "\uff11-2_3-4_5-6",
    ):
        assert parse_chunk_name(bad) is None, bad


def test_parse_range() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-15", 100) == (0, 16)
    assert parse_range("bytes=90-200", 100) == (90, 100)
    assert parse_range("bytes=10-", 100) == (10, 100)
    assert parse_range("bytes=-10", 100) == (90, 100)
    assert parse_range("bytes=0-1,5-6", 100) is None  # multi-range: whole body instead
    assert parse_range("items=0-1", 100) is None
    with pytest.raises(ValueError):
        parse_range("bytes=100-", 100)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("*", True),
        ("br, *;q=0", False),
        ("x-gzip", True),
    ],
)
def test_accepts_gzip(header: str | None, expected: bool) -> None:
    headers = {} if header is None else {"Accept-Encoding": header}
    assert accepts_gzip(Request.make("GET", "/", headers)) is expected


def test_info_of_a_wkw_layer(router: Router, sample: Sample) -> None:
    status, headers, body = get(router, "/segmentation/info")
    assert status == 200 and headers["Content-Type"] == "application/json"
    info = json.loads(body)
    assert info["type"] == "segmentation" and info["data_type"] == "uint64"
    first, second = info["scales"][:2]
    assert first["encoding"] == "compressed_segmentation"
    assert first["voxel_offset"] == list(OFFSET) and first["size"] == list(SHAPE)
    assert first["resolution"] == [11.24, 11.24, 25.0]
    assert second["key"] == "2-2-1" and second["resolution"] == [22.48, 22.48, 25.0]
    assert second["voxel_offset"] == [18, 10, 5]  # the box rounded out to the mag
    color = json.loads(get(router, "/color/info")[2])
    assert color["type"] == "image" and color["scales"][0]["encoding"] == "raw"


def test_edge_chunk_is_clipped_and_exact(router: Router, sample: Sample) -> None:
    status, _, body = get(router, "/color/1/101-133_85-101_5-53")
    assert status == 200
    chunk = np.frombuffer(body, np.uint8).reshape(48, 16, 32).transpose(2, 1, 0)
    x, y = 101 - OFFSET[0], 85 - OFFSET[1]
    np.testing.assert_array_equal(chunk, sample.image[x:, y:, :])


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/color/1/not-a-chunk", 400),
        ("/color/1/1-2_3-4", 400),
        ("/color/1/0-64_0-64_0-64_0-1", 400),
        ("/color/1/5-1_0-1_0-1", 400),
        ("/color/1/0-64_0-64_0-64", 404),  # not on the grid (it starts at the offset)
        ("/color/1/133-197_21-85_5-53", 404),  # beyond the volume
        ("/color/1/37-101_21-85_5-50", 404),  # not the clipped extent
        ("/color/7/37-101_21-85_5-53", 404),  # no such mag
        ("/nothing/info", 404),
        ("/color/1/37-101_21-85_5-53/x", 404),
        ("/sharded/1/zz.shard", 400),
        ("/plain/1/garbage", 400),
        ("/plain/1/0-1_0-1_0-1", 404),
        ("/plain/.info.lock", 404),
        ("/v/wkl/index.html", 404),  # this router has no client
        ("/events/wkl", 404),
    ],
)
def test_status_codes(router: Router, target: str, status: int) -> None:
    response_status, headers, body = get(router, target)
    assert response_status == status, body
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert b"Traceback" not in body


def test_methods(router: Router) -> None:
    head = router.handle(Request.make("HEAD", "/color/info"))
    full = router.handle(Request.make("GET", "/color/info"))
    assert head.status == 200 and head.headers == full.headers and head.length == full.length
    options = router.handle(Request.make("OPTIONS", "/color/info"))
    assert options.status == 204 and "GET" in options.headers["Access-Control-Allow-Methods"]
    for method in ("POST", "PUT", "DELETE"):
        refused = router.handle(Request.make(method, "/color/info"))
        assert refused.status == 405 and refused.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_gzip_only_when_accepted(router: Router) -> None:
    status, headers, body = get(router, "/color/1/37-101_21-85_5-53", **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert len(gzip.decompress(body)) == 64 * 64 * 48
    status, headers, body = get(router, "/color/1/37-101_21-85_5-53")
    assert "Content-Encoding" not in headers and len(body) == 64 * 64 * 48
    assert headers["Vary"] == "Accept-Encoding"


def test_index_lists_layers(router: Router) -> None:
    index = json.loads(get(router, "/")[2])
    assert {layer["name"]: layer["type"] for layer in index["layers"]} == {
        "color": "image",
        "segmentation": "segmentation",
        "sharded": "segmentation",
        "plain": "image",
    }
    assert index["viewer"] is None
