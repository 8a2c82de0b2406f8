"""The HTTP API's authorizer through the local gateway: who gets in, and what it costs to say no."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import jwt
import pytest

from local.aws_calls import CallCounter
from local.aws_faults import AwsFault
from local.stack import LocalStack
from ttai.auth import tokens
from ttai.auth.sessions import SessionStore
from ttai.observability import logger

SECRET = "s" * 64


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(secret_values={"JWT_SECRET": SECRET}) as local:
        yield local


@pytest.fixture
def ddb_calls(stack: LocalStack) -> Iterator[CallCounter]:
    with CallCounter(stack.env.client("dynamodb")) as counter:
        yield counter


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": "user-1",
        "jti": "a" * 32,
        "iat": now,
        "exp": now + 3600,
        "scope": "",
    }
    claims.update(overrides)
    return claims


def test_a_valid_token_reaches_the_route(stack: LocalStack) -> None:
    token = stack.token_for("user-1")
    status, _, body = stack.http("GET", "/api/v1/quotes/ZZZZ", token=token)
    assert status == 404  # authorized; nothing cached for ZZZZ, nor listed by the stand-in TastyTrade
    assert body["error"]["code"] == "not_found"


def test_a_request_without_a_credential_is_denied_by_the_authorizer_without_any_aws_call(
    stack: LocalStack, ddb_calls: CallCounter
) -> None:
    # The authorizer lists no identity source (a browser sends a cookie, an API client a header), so API Gateway
    # calls it for every request and it denies one with neither: a 403, as for any other refused credential.
    assert stack.gateway is not None
    before = stack.gateway.authorizer.invocations
    status, _, body = stack.http("GET", "/api/v1/quotes/ZZZZ", headers={"Cookie": "theme=dark"})
    assert (status, body) == (403, {"message": "Forbidden"})
    assert stack.gateway.authorizer.invocations == before + 1
    assert ddb_calls.total == 0


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token-without-scheme"],
)
def test_a_malformed_authorization_header_is_denied_without_any_aws_call(
    stack: LocalStack, ddb_calls: CallCounter, header: str
) -> None:
    status, _, _ = stack.http("GET", "/api/v1/quotes/ZZZZ", headers={"Authorization": header})
    assert status == 403
    assert ddb_calls.total == 0


@pytest.mark.parametrize(
    ("description", "token"),
    [
        ("signed with another key", jwt.encode(_claims(), "x" * 64, algorithm="HS256")),
        ("unsigned (alg none)", jwt.encode(_claims(), None, algorithm="none")),  # type: ignore[arg-type]
        ("wrong audience", jwt.encode(_claims(aud="someone-else"), SECRET, algorithm="HS256")),
        ("wrong issuer", jwt.encode(_claims(iss="evil"), SECRET, algorithm="HS256")),
        ("unknown scope", jwt.encode(_claims(scope="root"), SECRET, algorithm="HS256")),
        ("no session id", jwt.encode({k: v for k, v in _claims().items() if k != "jti"}, SECRET, "HS256")),
        ("garbage", "not.a.jwt"),
    ],
)
def test_a_forged_token_is_denied_without_touching_any_data(
    stack: LocalStack, ddb_calls: CallCounter, description: str, token: str
) -> None:
    status, _, body = stack.http("GET", "/api/v1/quotes/ZZZZ", token=token)
    assert (status, body) == (403, {"message": "Forbidden"}), description
    assert ddb_calls.total == 0, f"{description}: the authorizer read DynamoDB"


def test_a_well_signed_token_without_a_session_is_denied(stack: LocalStack) -> None:
    # Correct key and claims, but no session was ever recorded for it.
    token = jwt.encode(_claims(jti="b" * 32), SECRET, algorithm="HS256")
    assert stack.http("GET", "/api/v1/quotes/ZZZZ", token=token).status == 403


def test_an_expired_token_is_denied_without_touching_any_data(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = stack.token_for("user-1", ttl_seconds=60)
    assert stack.http("GET", "/api/v1/quotes/ZZZZ", token=token).status == 404
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    with CallCounter(stack.env.client("dynamodb")) as calls:
        status, _, _ = stack.http("GET", "/api/v1/quotes/ZZZZ", token=token)
    assert status == 403
    assert calls.total == 0


def test_a_revoked_session_is_denied_at_the_cost_of_one_lookup(stack: LocalStack) -> None:
    token = stack.token_for("user-2")
    assert stack.http("GET", "/api/v1/quotes/ZZZZ", token=token).status == 404
    claims = tokens.verify(SECRET, token)
    SessionStore(stack.env).revoke(claims.user_id, claims.session_id)
    with CallCounter(stack.env.client("dynamodb")) as calls:
        status, _, _ = stack.http("GET", "/api/v1/quotes/ZZZZ", token=token)
    assert status == 403
    assert calls.by_operation() == {"GetItem": 1}


def test_a_session_lookup_that_fails_is_logged_under_the_request_id_and_neither_allowed_nor_denied(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    token = stack.token_for("user-unreachable")
    caplog.set_level(logging.ERROR, logger=logger.name)
    with AwsFault(stack.env.client("dynamodb"), "GetItem", "ProvisionedThroughputExceededException") as fault:
        status, _, body = stack.http("GET", "/api/v1/me", token=token)
    # API Gateway's own answer to a failed authorizer: an HTTP API has no gateway responses to shape it.
    assert (fault.refused, status, body) == (1, 500, {"message": "Internal Server Error"})
    (record,) = [r for r in caplog.records if r.getMessage() == "authorizer failed: API Gateway answers 500"]
    logged = vars(record)
    assert isinstance(logged["correlation_id"], str)
    assert logged["correlation_id"]
    assert " at " in logged["error"]
    assert "auth/sessions.py" in logged["error"]
    assert stack.http("GET", "/api/v1/me", token=token).status == 200


def test_a_session_of_another_user_does_not_validate_a_token(stack: LocalStack) -> None:
    # A token whose subject is changed keeps the session id but must not borrow the other user's session.
    opened = SessionStore(stack.env).open("user-3")
    forged = jwt.encode(
        _claims(sub="user-4", jti=opened.claims.session_id, exp=opened.claims.expires_at), "x" * 64, "HS256"
    )
    assert stack.http("GET", "/api/v1/quotes/ZZZZ", token=forged).status == 403
    resigned = jwt.encode(_claims(sub="user-4", jti=opened.claims.session_id), SECRET, "HS256")
    assert stack.http("GET", "/api/v1/quotes/ZZZZ", token=resigned).status == 403


def test_the_api_function_rejects_an_event_that_bypassed_the_authorizer(stack: LocalStack) -> None:
    assert stack.gateway is not None
    event = stack.gateway._event(
        "GET",
        "/api/v1/quotes/ZZZZ",
        "",
        {"x-user-id": "user-1"},
        None,
        stack.gateway._request_context("GET", "/api/v1/quotes/ZZZZ", {}, "127.0.0.1", "ANY /{proxy+}"),
        "ANY /{proxy+}",
    )
    result = stack.gateway.api(event)
    assert result["statusCode"] == 401


def test_routes_that_need_the_service_scope_refuse_a_user_token(stack: LocalStack) -> None:
    payload = {"quotes": [{"symbol": "AAPL", "last": 1.0, "updated_at": "2026-11-20T15:00:00Z"}]}
    status, _, body = stack.http("PUT", "/api/v1/quotes", token=stack.token_for("user-1"), json=payload)
    assert status == 403
    assert "service" in body["error"]["message"]
    assert stack.env.KV.get("quote:AAPL") is None
    service = stack.token_for("streamer", scopes=("service",))
    assert stack.http("PUT", "/api/v1/quotes", token=service, json=payload).status == 200


def test_every_request_is_judged_by_the_authorizer_so_a_revoked_session_is_refused_at_once(stack: LocalStack) -> None:
    assert stack.gateway is not None
    token = stack.token_for("user-1")
    before = stack.gateway.authorizer.invocations
    for _ in range(3):
        assert stack.http("GET", "/api/v1/quotes/ZZZZ", token=token).status == 404
    assert stack.gateway.authorizer.invocations == before + 3  # API Gateway caches nothing without identity sources
    assert stack.http("POST", "/auth/logout", token=token).status == 204
    assert stack.http("GET", "/api/v1/quotes/ZZZZ", token=token).status == 403


def test_health_needs_no_token_and_touches_no_aws_service(stack: LocalStack, ddb_calls: CallCounter) -> None:
    status, headers, body = stack.http("GET", "/health")
    assert (status, headers["content-type"], body) == (200, "application/json", {"status": "ok"})
    assert ddb_calls.total == 0
