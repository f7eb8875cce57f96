"""A real S3 server for the tests: moto in server mode on 127.0.0.1, a fresh bucket per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

KEY = "testing-key"
SECRET = "testing-secret"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 on a free port of 127.0.0.1 (in-process, about 0.3 s), stopped at the end."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials and endpoint in the environment, as a user would set them (no AWS config)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return s3_endpoint


@pytest.fixture
def bucket(s3_env: str) -> Iterator[str]:
    """A fresh, empty bucket for one test (made with boto3, no region: moto's default)."""
    import boto3

    name = f"bucket-{uuid.uuid4().hex[:12]}"  # "bucket" in the name: not mistaken for an error
    client = boto3.client(
        "s3", endpoint_url=s3_env, aws_access_key_id=KEY, aws_secret_access_key=SECRET
    )
    client.create_bucket(Bucket=name)
    yield name
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)
