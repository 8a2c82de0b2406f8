"""The AWS endpoint down (the stack's moto server stopped: every connection refused, as when a region's endpoint
cannot be reached): each route answers 503 with Retry-After naming the dependency it needed, in the standard error
body, never a 500; and once the endpoint is back the same stack serves again. botocore's standard retries run first
(connection errors are retried, with its short non-throttling backoff), so an outage costs each call well under a
second before the binding reports it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from local.stack import LocalStack
from ttai.http.app import UNNAMED_DEPENDENCY
from ttai.realtime.tickets import TicketOffice

JOURNAL_ENTRY = {
    "symbol": "AAPL",
    "strategy": "long stock",
    "legs": [{"type": "stock", "side": "buy"}],
    "quantity": 10,
    "entry_date": "2025-03-03",
    "entry_price": 100,
}


class Call(NamedTuple):
    method: str
    path: str
    body: Any
    who: str  # user or admin
    dependency: str  # what the 503 names
    retry_after: int = 5
    key: bool = False  # sent with an Idempotency-Key


CALLS = [
    Call("GET", "/api/v1/quotes/AAPL", None, "user", "the key-value store"),  # DynamoDB
    Call("GET", "/api/v1/exports", None, "user", "object storage"),  # S3
    Call("POST", "/api/v1/knowledge", {"title": "t", "text": "covered calls"}, "user", "object storage"),
    Call("POST", "/api/v1/jobs/weekly/run", None, "admin", "the queue"),  # SQS
    Call("POST", "/api/v1/realtime/ticket", None, "user", "WebSocket connections"),  # DynamoDB, no binding
    # A keyed write stops at its key's record (DynamoDB) before the database is asked.
    Call("POST", "/api/v1/journal", JOURNAL_ENTRY, "user", "the idempotency store", retry_after=1, key=True),
]


class JudgedBefore:
    """The authorizer's answers as it gave them before the outage, for the requests this module sends.

    API Gateway caches no authorizer answer here (the authorizer has no identity source, so that a browser's session
    cookie is accepted as well as a bearer header), so while DynamoDB is away the authorizer itself fails and API
    Gateway answers its bare 500 (``test_while_dynamodb_is_away_the_authorizer_fails_and_api_gateway_answers_500``).
    What the other tests are about is the api function's own answer when its dependencies fail, so their requests
    arrive judged as the authorizer judged the same tokens with AWS up.
    """

    def __init__(self, authorizer: Any) -> None:
        self.authorizer = authorizer
        self.verdicts: dict[str, Any] = {}
        self.invocations = 0

    def __call__(self, event: dict[str, Any]) -> Any:
        self.invocations += 1
        token = str(event["headers"].get("authorization"))
        if token not in self.verdicts:
            self.verdicts[token] = self.authorizer(event)
        return self.verdicts[token]


@pytest.fixture
def tokens(faulty: LocalStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    assert faulty.gateway is not None
    monkeypatch.setattr(faulty.gateway, "authorizer", JudgedBefore(faulty.gateway.authorizer))
    user = faulty.token_for(f"fault-{uuid.uuid4().hex[:8]}")
    admin = faulty.token_for(f"operator-{uuid.uuid4().hex[:8]}", scopes=("admin",))
    for token in (user, admin):  # judged once, with AWS up
        assert faulty.http("GET", "/api/v1/exports", token=token).status == 200
    return {"user": user, "admin": admin}


def test_while_dynamodb_is_away_the_authorizer_fails_and_api_gateway_answers_500(faulty: LocalStack) -> None:
    # The one outage a caller sees as a 500: the authorizer cannot read the session, and an HTTP API cannot shape
    # what it answers then (its log says why: "authorizer failed: API Gateway answers 500").
    token = faulty.token_for(f"fault-{uuid.uuid4().hex[:8]}")
    assert faulty.http("GET", "/api/v1/exports", token=token).status == 200
    faulty.stop_aws()
    try:
        status, _, body = faulty.http("GET", "/api/v1/exports", token=token)
    finally:
        faulty.start_aws()
    assert (status, body) == (500, {"message": "Internal Server Error"})
    assert faulty.http("GET", "/api/v1/exports", token=token).status == 200


@pytest.fixture
def aws_down(faulty: LocalStack) -> Iterator[None]:
    faulty.stop_aws()
    try:
        yield
    finally:
        faulty.start_aws()


def _send(stack: LocalStack, call: Call, tokens: dict[str, str]) -> Any:
    headers = {"Idempotency-Key": uuid.uuid4().hex} if call.key else None
    return stack.http(call.method, call.path, token=tokens[call.who], json=call.body, headers=headers)


def test_every_route_answers_503_naming_its_dependency_while_aws_is_unreachable_and_serves_once_it_is_back(
    faulty: LocalStack, tokens: dict[str, str]
) -> None:
    with_aws = {call.path: _send(faulty, call, tokens).status for call in CALLS}
    assert all(status < 300 for status in with_aws.values()), with_aws

    faulty.stop_aws()
    try:
        answers = {call.path: _send(faulty, call, tokens) for call in CALLS}
    finally:
        faulty.start_aws()

    for call in CALLS:
        status, headers, body = answers[call.path]
        assert status == 503, (call.path, body)
        assert headers["retry-after"] == str(call.retry_after), call.path
        unit = "second" if call.retry_after == 1 else "seconds"
        message = f"{call.dependency} is unavailable; retry in {call.retry_after} {unit}"
        assert body["error"]["code"] == "unavailable", call.path
        assert body["error"]["message"] == message
    # The same stack, nothing restarted but the endpoint, serves every one of them again.
    assert {call.path: _send(faulty, call, tokens).status for call in CALLS} == with_aws


def test_an_aws_failure_no_binding_translated_is_still_a_503_never_a_500(
    faulty: LocalStack, tokens: dict[str, str], aws_down: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Code that calls AWS without a binding's translation (the ticket office as it was before it had one).
    monkeypatch.setattr(TicketOffice, "issue", TicketOffice.issue.__wrapped__)  # type: ignore[attr-defined]
    status, headers, body = faulty.http("POST", "/api/v1/realtime/ticket", token=tokens["user"])
    assert (status, headers["retry-after"]) == (503, "5")
    assert body["error"]["message"] == f"{UNNAMED_DEPENDENCY} is unavailable; retry in 5 seconds"
    assert body["error"]["correlation_id"]
