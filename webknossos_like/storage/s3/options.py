"""Credentials, region and endpoint for S3: explicit `storage_options`, else what botocore finds.

Anything left unset is found by botocore the usual way: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
/`AWS_SESSION_TOKEN`, `AWS_PROFILE`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL(_S3)`
and `~/.aws/config`/`~/.aws/credentials`. The options travel with pickled stores (to Dask
workers); environment variables are the workers' own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from ...errors import InvalidArgumentError

#: The keys `storage_options=` takes (s3fs' spelling; `endpoint_url` and `region` are ours).
KNOWN_KEYS = ("endpoint_url", "region", "key", "secret", "token", "profile", "anon")


@attrs.frozen
class S3Options:
    """Explicit S3 settings; None means "as botocore finds it" (env vars, AWS config files)."""

    endpoint_url: str | None = None
    region: str | None = None
    key: str | None = None
    secret: str | None = None
    token: str | None = None
    profile: str | None = None
    anon: bool = False

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | S3Options | None) -> S3Options:
        """Options from `storage_options=` (also accepts `client_kwargs={"endpoint_url": ...}`,
        `aws_region`/`region_name`/`endpoint`, as s3fs and tensorstore spell them)."""
        if options is None:
            return cls()
        if isinstance(options, S3Options):
            return options
        values = dict(options)
        client = dict(values.pop("client_kwargs", None) or {})
        aliases = {
            "endpoint": "endpoint_url",
            "aws_region": "region",
            "region_name": "region",
            "aws_access_key_id": "key",
            "aws_secret_access_key": "secret",
            "aws_session_token": "token",
        }
        for source in (client, values):
            for old, new in aliases.items():
                if old in source:
                    source.setdefault(new, source.pop(old))
        for name in ("endpoint_url", "region"):
            if name in client:
                values.setdefault(name, client.pop(name))
        unknown = sorted(set(values) - set(KNOWN_KEYS)) + sorted(client)
        if unknown:
            raise InvalidArgumentError(
                f"Unknown S3 storage option(s) {', '.join(unknown)}; known: {', '.join(KNOWN_KEYS)}."
            )
        return cls(**values)

    @property
    def resolved_endpoint(self) -> str | None:
        """The endpoint to use: explicit, else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, else
        `endpoint_url` of the profile in the AWS config file (what botocore would use)."""
        return (
            self.endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or _profile_setting(self.profile, "endpoint_url")
        )

    @property
    def resolved_region(self) -> str | None:
        """The region: explicit, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else the profile's."""
        return (
            self.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or _profile_setting(self.profile, "region")
        )

    def s3fs_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `s3fs.S3FileSystem` (listing caches off: others may write)."""
        kwargs: dict[str, Any] = {"use_listings_cache": False, "skip_instance_cache": True}
        client: dict[str, Any] = {}
        if self.endpoint_url:
            client["endpoint_url"] = self.endpoint_url
        if self.region:
            client["region_name"] = self.region
        if client:
            kwargs["client_kwargs"] = client
        for name in ("key", "secret", "token", "profile"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        if self.anon:
            kwargs["anon"] = True
        return kwargs

    def tensorstore_kvstore(self, bucket: str, path: str) -> dict[str, Any]:
        """tensorstore's `s3` kvstore spec (credentials come from the environment or the
        profile: tensorstore reads the same variables and files as botocore)."""
        spec: dict[str, Any] = {"driver": "s3", "bucket": bucket, "path": path}
        endpoint = self.resolved_endpoint
        if endpoint:
            spec["endpoint"] = endpoint
        region = self.resolved_region
        if region:
            spec["aws_region"] = region
        elif endpoint:
            spec["aws_region"] = "us-east-1"  # custom endpoints: no region lookup via AWS
        if self.anon:
            spec["aws_credentials"] = {"type": "anonymous"}
        elif self.profile is not None or (
            os.environ.get("AWS_PROFILE") and not os.environ.get("AWS_ACCESS_KEY_ID")
        ):
            # tensorstore's default chain does not follow AWS_PROFILE and the file variables
            creds: dict[str, Any] = {
                "type": "profile",
                "profile": self.profile or os.environ["AWS_PROFILE"],
            }
            for key, variable in (
                ("credentials_file", "AWS_SHARED_CREDENTIALS_FILE"),
                ("config_file", "AWS_CONFIG_FILE"),
            ):
                if os.environ.get(variable):
                    creds[key] = os.environ[variable]
            spec["aws_credentials"] = creds
        elif os.environ.get("AWS_ACCESS_KEY_ID"):
            # keys in the environment: tensorstore's default chain would also look for the AWS
            # config files first and log an ERROR line for each one that is missing
            spec["aws_credentials"] = {"type": "environment"}
        return spec


def _profile_setting(profile: str | None, name: str) -> str | None:
    """A setting of the AWS profile (`AWS_PROFILE` or `default`) in `~/.aws/config`, read by
    botocore (a `services` section's `s3` entry wins over the profile's own), or None."""
    try:
        import botocore.session
    except ImportError:
        return None
    try:
        session = botocore.session.Session(profile=profile)
        config = session.get_scoped_config()
    except Exception:  # a missing profile or unreadable file: botocore will say so itself
        return None
    services = config.get("services")
    if isinstance(services, str):
        section = session.full_config.get("services", {}).get(services, {})
        value = section.get("s3", {}).get(name)
        if isinstance(value, str) and value:
            return value
    value = config.get(name)
    return value if isinstance(value, str) and value else None
