"""boto3 clients made once per container, with timeouts and retries chosen for Lambda."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Short connect timeout: a Lambda that cannot reach a regional endpoint in 2 s will not in 20.
# Standard retry mode backs off with jitter and retries throttling, which DynamoDB on-demand can emit.
_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 4},
    tcp_keepalive=True,
)


@cache
def client(service_name: str, endpoint_url: str | None = None, region_name: str | None = None) -> Any:
    """One client per (service, endpoint, region) per process; boto3 reads credentials from the environment.

    ``endpoint_url`` is None on AWS; boto3 still honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``,
    which is how the local stack points every client at moto.
    """
    return boto3.client(  # type: ignore[call-overload]
        service_name, endpoint_url=endpoint_url, region_name=region_name, config=_CONFIG
    )
