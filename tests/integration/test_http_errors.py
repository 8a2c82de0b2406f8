"""How trouble behind the API reaches a caller: a 503 with Retry-After while a dependency is away, a 409 for a
conflicting write, and a 500 with a correlation id the log also carries, saying nothing of the SQL or AWS behind it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from local.aws_faults import AwsFault
from local.stack import LocalStack
from ttai.bindings.d1 import (
    DATA_API_ERRORS_METRIC,
    DATA_API_UNAVAILABLE_METRIC,
    D1ConstraintError,
    D1QueryError,
)
from ttai.http.app import INTERNAL_ERROR_MESSAGE, SECURITY_HEADERS
from ttai.http.validation import BODY_MAX_BYTES, unreadable_body
from ttai.observability import METRICS_NAMESPACE, logger
from ttai.services.account import AccountService

ACCOUNT = "123456789012"
DENIED = (
    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/ttai-dev-api/fn is not authorized to perform: {{action}} on resource: "
    "{resource} because no identity-based policy allows the action"
)


@pytest.fixture
def token(stack: LocalStack) -> str:
    return stack.token_for("errors-user")


def test_a_database_still_resuming_is_a_503_with_retry_after(
    stack: LocalStack, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stack.data_api is not None
    monkeypatch.setattr(stack.function_env("api").DB, "_resume_delays", (0.01, 0.01))
    stack.data_api.pause(5)
    try:
        status, headers, body = stack.http("GET", "/api/v1/me", token=token)
    finally:
        stack.data_api.pause(0)
    assert status == 503
    assert headers["retry-after"] == "5"
    assert body["error"]["code"] == "unavailable"


def test_a_constraint_violation_is_a_409_without_the_database_text(
    stack: LocalStack, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: AccountService) -> None:
        raise D1ConstraintError('ERROR: duplicate key value violates unique constraint "x"', sqlstate="23505")

    monkeypatch.setattr(AccountService, "profile", refuse)
    status, _, body = stack.http("GET", "/api/v1/me", token=token)
    assert status == 409
    assert body["error"] == {"code": "conflict", "message": "the change conflicts with existing data"}


def test_any_other_database_error_is_a_500_that_names_no_sql(
    stack: LocalStack, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: AccountService) -> None:
        raise D1QueryError('ERROR: relation "secret_table" does not exist', sqlstate="42P01")

    monkeypatch.setattr(AccountService, "profile", fail)
    status, _, body = stack.http("GET", "/api/v1/me", token=token)
    assert status == 500
    assert "secret_table" not in str(body)
    assert body["error"]["code"] == "internal_error"


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"symbols": [' + "9" * 5000 + "]}", "{not json"],
    ids=["deeply-nested", "huge-integer", "malformed"],
)
def test_json_the_parser_cannot_represent_is_a_422_not_a_500(stack: LocalStack, token: str, body: str) -> None:
    status, _, response = stack.http(
        "PUT", "/api/v1/watchlists/parser", token=token, body=body, headers={"content-type": "application/json"}
    )
    assert status == 422
    assert response["error"]["code"] == "validation_error"
    assert stack.http("GET", "/api/v1/watchlists/parser", token=token).status == 404


def test_a_body_that_is_not_utf8_is_a_422_not_a_500(stack: LocalStack, token: str) -> None:
    # API Gateway hands such bytes over base64-encoded; Powertools decoded them as strict UTF-8 and failed.
    status, _, response = stack.http(
        "PUT",
        "/api/v1/watchlists/bytes",
        token=token,
        body=b'{"symbols": ["\xa5"]}',
        headers={"content-type": "application/json"},
    )
    assert status == 422
    assert response["error"]["code"] == "validation_error"
    assert response["error"]["fields"][0]["field"] == "body"
    assert stack.http("GET", "/api/v1/watchlists/bytes", token=token).status == 404


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=x", "text/plain"])
def test_a_body_that_is_not_json_by_its_content_type_is_a_415(stack: LocalStack, token: str, content_type: str) -> None:
    # Powertools raised ValueError (a 500) for a multipart type without a boundary, and answered the others in
    # its own body shape rather than the error mapping's.
    status, _, response = stack.http(
        "PUT",
        "/api/v1/watchlists/typed",
        token=token,
        body='{"symbols": ["AAPL"]}',
        headers={"content-type": content_type},
    )
    assert status == 415
    assert response["error"]["code"] == "unsupported_media_type"
    assert stack.http("GET", "/api/v1/watchlists/typed", token=token).status == 404


def _logged(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    """The log lines with this message, as the function's JSON formatter writes them to CloudWatch."""
    render = logger.registered_formatter
    return [json.loads(render.format(r)) for r in caplog.records if r.getMessage() == message]


@pytest.mark.parametrize(
    ("service", "operation", "path", "action", "resource"),
    [
        (
            "rds-data",
            "ExecuteStatement",
            "/api/v1/me",
            "rds-data:ExecuteStatement",
            f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:ttai-dev",
        ),
        ("s3", "ListObjectsV2", "/api/v1/exports", "s3:ListBucket", "arn:aws:s3:::ttai-dev-documents"),
    ],
    ids=["database", "bucket"],
)
def test_an_unexpected_aws_error_is_a_500_whose_correlation_id_is_in_the_log(
    stack: LocalStack,
    token: str,
    caplog: pytest.LogCaptureFixture,
    service: str,
    operation: str,
    path: str,
    action: str,
    resource: str,
) -> None:
    denied = DENIED.format(action=action, resource=resource)
    caplog.set_level(logging.ERROR, logger=logger.name)
    with AwsFault(stack.env.client(service), operation, "AccessDeniedException", denied, status=403) as fault:
        status, headers, body = stack.http("GET", path, token=token)
    assert fault.refused == 1
    assert status == 500
    assert headers["content-type"] == "application/json"
    correlation_id = body["error"].pop("correlation_id")
    assert body == {"error": {"code": "internal_error", "message": INTERNAL_ERROR_MESSAGE}}
    (record,) = _logged(caplog, "request failed: answered 500")
    assert record["correlation_id"] == correlation_id
    assert "at " in record["error"]  # where it was raised, as describe_error puts it
    assert ACCOUNT not in json.dumps(body)


def test_the_500_correlation_id_is_api_gateways_request_id(stack: LocalStack, token: str) -> None:
    # Two failing requests, two ids: each is the request's own, so one grep finds its log line.
    with AwsFault(stack.env.client("rds-data"), "ExecuteStatement", "InternalServerErrorException", status=403):
        first = stack.http("GET", "/api/v1/me", token=token).body["error"]["correlation_id"]
        second = stack.http("GET", "/api/v1/me", token=token).body["error"]["correlation_id"]
    assert first != second
    assert len(first) == len(second) == 32


@pytest.mark.parametrize(
    "body",
    [
        '{"symbols": ["' + "A" * 1_048_576 + '"]}',  # over the limit in characters
        '{"symbols": ["' + "é" * 524_300 + '"]}',  # under it in characters, over it in UTF-8 bytes
    ],
)
def test_a_body_over_the_size_limit_is_a_413_before_it_is_read(stack: LocalStack, token: str, body: str) -> None:
    status, headers, response = stack.http("PUT", "/api/v1/watchlists/huge", token=token, body=body)
    assert status == 413
    assert response["error"]["code"] == "payload_too_large"
    assert "1,048,576 bytes" in response["error"]["message"]
    assert headers["x-content-type-options"] == "nosniff"
    assert stack.http("GET", "/api/v1/watchlists/huge", token=token).status == 404


def test_a_body_at_the_size_limit_is_read() -> None:
    # Exactly the limit passes the size check and goes on to JSON parsing; one byte more does not.
    body = '{"symbols": ["' + "A" * (BODY_MAX_BYTES - 17) + '"]}'
    assert len(body.encode()) == BODY_MAX_BYTES
    event = {
        "body": body,
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "PUT"}},
    }
    assert unreadable_body(event) is None
    assert unreadable_body({**event, "body": body + " "}) == (
        413,
        f"the request body is over {BODY_MAX_BYTES:,} bytes",
    )


@pytest.mark.parametrize(
    ("method", "path", "authorized"),
    [
        ("GET", "/health", False),
        ("GET", "/api/v1/me", True),
        ("GET", "/api/v1/nowhere", True),
    ],
)
def test_every_answer_of_the_functions_carries_the_security_headers(
    stack: LocalStack, token: str, method: str, path: str, authorized: bool
) -> None:
    # (A request the authorizer refuses is answered by API Gateway itself, whose HTTP APIs cannot add headers.)
    status, headers, _ = stack.http(method, path, token=token if authorized else None)
    assert status in {200, 404}
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value, (path, status, name)


def test_the_dashboard_keeps_its_own_stricter_headers(stack: LocalStack) -> None:
    _, headers, _ = stack.http("GET", "/dashboard")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("code", "status", "metric"),
    [
        ("ThrottlingException", 400, DATA_API_UNAVAILABLE_METRIC),
        ("AccessDeniedException", 403, DATA_API_ERRORS_METRIC),
    ],
    ids=["throttled", "refused"],
)
def test_a_refused_data_api_call_is_counted_by_kind_in_the_functions_metrics(
    stack: LocalStack, token: str, capsys: pytest.CaptureFixture[str], code: str, status: int, metric: str
) -> None:
    # The Data API publishes no CloudWatch metrics: the dashboard's Data API widgets plot these.
    capsys.readouterr()
    with AwsFault(stack.env.client("rds-data"), "ExecuteStatement", code, status=status) as fault:
        stack.http("GET", "/api/v1/me", token=token)
    assert fault.refused == 1
    flushed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    counted = {
        definition["Name"]: sum(line[definition["Name"]])
        for line in flushed
        for directive in line["_aws"]["CloudWatchMetrics"]
        for definition in directive["Metrics"]
        if directive["Namespace"] == METRICS_NAMESPACE
    }
    assert counted.get(metric) == 1
    [other] = {DATA_API_ERRORS_METRIC, DATA_API_UNAVAILABLE_METRIC} - {metric}
    assert other not in counted
