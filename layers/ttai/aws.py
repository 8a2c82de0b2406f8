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

# The Data API holds ExecuteStatement open up to 45 s while the statement runs, and a write it has run must never be
# sent again: botocore's standard mode retries a read timeout, which would run a slow INSERT twice (or, inside a
# transaction, fail it as "still running a query"). So its client waits past the API's own limit and leaves every
# retry to the D1 binding, which retries only what it knows ran nothing (a cluster resuming from pause).
_DATA_API_CONFIG = _CONFIG.merge(Config(read_timeout=60, retries={"mode": "standard", "total_max_attempts": 1}))
_CONFIGS = {"rds-data": _DATA_API_CONFIG}


@cache
def client(service_name: str, endpoint_url: str | None = None, region_name: str | None = None) -> Any:
    """One client per (service, endpoint, region) per process; boto3 reads credentials from the environment.

    ``endpoint_url`` is None on AWS; boto3 still honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``,
    which is how the local stack points every client at moto.
    """
    return boto3.client(  # type: ignore[call-overload]
        service_name, endpoint_url=endpoint_url, region_name=region_name, config=_CONFIGS.get(service_name, _CONFIG)
    )
