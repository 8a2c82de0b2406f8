"""AWS throttling behind a binding reaches the caller as a 503 with Retry-After naming the dependency: the bindings
raise ``Throttled`` (``ttai.bindings.common``), the API maps it once. Faults are AWS's own error responses, injected
after botocore's retries (``local.aws_faults``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.aws_faults import AwsFault
from local.stack import LocalStack


@pytest.fixture
def token(stack: LocalStack) -> str:
    token = stack.token_for("throttled-user")
    stack.http("GET", "/api/v1/exports", token=token)  # the authorizer's answer cached, the routes imported
    return token


def _quote_key(params: Any) -> bool:
    return "quote:" in json.dumps(params.get("Key", {}))


@pytest.mark.parametrize(
    ("service", "operation", "code", "when", "path", "dependency"),
    [
        (
            "dynamodb",
            "GetItem",
            "ProvisionedThroughputExceededException",
            _quote_key,
            "/api/v1/quotes/AAPL",
            "the key-value store",
        ),
        ("s3", "ListObjectsV2", "SlowDown", None, "/api/v1/exports", "object storage"),
    ],
    ids=["kv read", "r2 list"],
)
def test_a_throttled_read_answers_503_with_retry_after_and_the_standard_body(
    stack: LocalStack, token: str, service: str, operation: str, code: str, when: Any, path: str, dependency: str
) -> None:
    client = stack.env.client(service)
    status_of = {"SlowDown": 503}.get(code, 400)
    with AwsFault(client, operation, code, "Rate exceeded for arn:aws:...", status=status_of, when=when) as fault:
        status, headers, body = stack.http("GET", path, token=token)
    assert fault.refused == 1
    assert status == 503
    assert headers["retry-after"] == "1"
    assert body["error"].pop("correlation_id")
    assert body == {"error": {"code": "unavailable", "message": f"{dependency} is busy; retry in 1 second"}}
