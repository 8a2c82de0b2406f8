"""Per-user limits and revoked sessions through the local gateway, on moto: what a burst, a refill, a race, a sign-out
and an erasure get, and the DynamoDB calls each request costs.

A stack of its own with the dev environment's buckets from cdk.json (user: 20 per 2 s, service: 40 per 2 s). The
authorizer caches nothing (it has no identity source), so it refuses an ended session's next request itself; the
admission's mark refuses a request already past it. Time is the test clock, set to the start of a minute so windows
line up.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.config import load_environment, read_cdk_context
from infra.paths import PROJECT_ROOT
from local.aws_calls import CallCounter
from local.aws_faults import AwsFault
from local.stack import LocalStack
from tests.conftest import Clock
from ttai.auth import tokens
from ttai.auth.admission import MARK_MARGIN_SECONDS, Admission
from ttai.secret_names import JWT_SECRET

DEV = load_environment(read_cdk_context(PROJECT_ROOT), "dev").limits
USER_BURST, SERVICE_BURST = DEV.user.burst, DEV.service.burst
WINDOW = DEV.user.burst / DEV.user.rate_per_second
ROUTE = "/api/v1/me"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(limits={"user": dict(DEV.user), "service": dict(DEV.service)}) as local:
        yield local


@pytest.fixture
def minute(clock: Clock) -> Clock:
    """The test clock at the start of the next minute: a window starts there."""
    clock.travel(60 - clock.now % 60)
    return clock


@pytest.fixture
def ddb_calls(stack: LocalStack) -> Iterator[CallCounter]:
    with CallCounter(stack.env.client("dynamodb")) as counter:
        yield counter


def _user(prefix: str = "limits") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _spend(stack: LocalStack, token: str, requests: int) -> list[int]:
    return [stack.http("GET", ROUTE, token=token).status for _ in range(requests)]


def test_a_burst_past_the_bucket_is_refused_with_429_and_retry_after(stack: LocalStack, minute: Clock) -> None:
    token = stack.token_for(_user())
    assert _spend(stack, token, USER_BURST) == [200] * USER_BURST
    status, headers, body = stack.http("GET", ROUTE, token=token)
    assert status == 429
    assert headers["retry-after"] == str(int(WINDOW))  # the whole window is left: the clock has not moved
    assert body["error"]["code"] == "rate_limited"
    assert f"{USER_BURST} per {WINDOW:g} seconds" in body["error"]["message"]
    minute.travel(WINDOW - 0.5)
    status, headers, _ = stack.http("GET", ROUTE, token=token)
    assert (status, headers["retry-after"]) == (429, "1")  # half a second left, rounded up


def test_the_next_window_refills_the_bucket(stack: LocalStack, minute: Clock) -> None:
    token = stack.token_for(_user())
    _spend(stack, token, USER_BURST)
    _, headers, _ = stack.http("GET", ROUTE, token=token)
    minute.travel(int(headers["retry-after"]))
    assert _spend(stack, token, USER_BURST + 1) == [200] * USER_BURST + [429]


def test_two_users_do_not_share_a_bucket(stack: LocalStack, minute: Clock) -> None:
    alice, bob = stack.token_for(_user("alice")), stack.token_for(_user("bob"))
    assert _spend(stack, alice, USER_BURST + 1)[-1] == 429
    assert _spend(stack, bob, USER_BURST) == [200] * USER_BURST


def test_a_service_token_draws_on_its_own_bucket(stack: LocalStack, minute: Clock) -> None:
    streamer = _user("streamer")
    user_token, service_token = stack.token_for(streamer), stack.token_for(streamer, scopes=("service",))
    assert _spend(stack, user_token, USER_BURST + 1)[-1] == 429
    assert _spend(stack, service_token, SERVICE_BURST + 1) == [200] * SERVICE_BURST + [429]


def test_racing_requests_cannot_both_take_the_last_token(stack: LocalStack, minute: Clock) -> None:
    user = _user()
    token = stack.token_for(user)
    _spend(stack, token, USER_BURST - 1)  # one token left
    admission = Admission.from_env(stack.function_env("api"))
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def take() -> None:
        start.wait()
        outcomes.append(admission.admit(user, "racer-session-0001", service=False).outcome)

    racers = [threading.Thread(target=take) for _ in range(8)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(outcomes) == ["admitted"] + ["limited"] * 7


def test_each_request_costs_one_update_item_besides_the_authorizers_lookup(
    stack: LocalStack, minute: Clock, ddb_calls: CallCounter
) -> None:
    token = stack.token_for(_user())
    ddb_calls.calls.clear()  # the session's record
    stack.http("GET", "/health")  # public: nobody's bucket
    assert ddb_calls.total == 0
    for _ in range(2):  # the authorizer runs every time (its session lookup), then the admission
        ddb_calls.calls.clear()
        stack.http("GET", ROUTE, token=token)
        assert ddb_calls.by_operation() == {"GetItem": 1, "UpdateItem": 1}
    _spend(stack, token, USER_BURST - 2)
    ddb_calls.calls.clear()
    assert stack.http("GET", ROUTE, token=token).status == 429  # refused: the same one call
    assert ddb_calls.by_operation() == {"GetItem": 1, "UpdateItem": 1}


def _past_the_authorizer(stack: LocalStack, token: str) -> dict[str, Any]:
    """The api function's answer to an event carrying what the authorizer said of ``token`` a moment ago: a request
    in flight while its session ends (or one an authorizer's cache let through)."""
    assert stack.gateway is not None
    claims = tokens.verify(stack.env.secret(JWT_SECRET), token)
    context = stack.gateway._request_context("GET", ROUTE, {}, "127.0.0.1", f"GET {ROUTE}")
    context["authorizer"] = {
        "lambda": {"user_id": claims.user_id, "session_id": claims.session_id, "scopes": ""},
    }
    event = stack.gateway._event("GET", ROUTE, "", {}, None, context, f"GET {ROUTE}")
    answer: dict[str, Any] = stack.gateway.api(event)
    return answer


def test_a_signed_out_session_is_refused_at_once_even_past_the_authorizer(
    stack: LocalStack, minute: Clock, ddb_calls: CallCounter
) -> None:
    user = _user()
    token, other = stack.token_for(user), stack.token_for(user)
    assert _past_the_authorizer(stack, token)["statusCode"] == 200
    assert stack.http("POST", "/auth/logout", token=token).status == 204
    assert stack.http("GET", ROUTE, token=token).status == 403  # the authorizer: its record is gone
    ddb_calls.calls.clear()
    answer = _past_the_authorizer(stack, token)
    assert (answer["statusCode"], json.loads(answer["body"])) == (
        401,
        {"error": {"code": "unauthorized", "message": "session revoked"}},
    )
    assert ddb_calls.by_operation() == {"UpdateItem": 1}  # the refusal is the admission's one call
    assert stack.http("GET", ROUTE, token=other).status == 200  # the user's other session lives on
    # A mark lasts its minute's item (at least the margin past the authorizer's cache, which is none); nothing of it
    # is kept in the next minute's.
    minute.travel(60 - MARK_MARGIN_SECONDS)
    assert _past_the_authorizer(stack, token)["statusCode"] == 401
    minute.travel(MARK_MARGIN_SECONDS)
    assert _past_the_authorizer(stack, token)["statusCode"] == 200


def test_an_erased_account_s_sessions_are_refused_at_once(stack: LocalStack, minute: Clock) -> None:
    user = _user()
    token, other = stack.token_for(user), stack.token_for(user)
    assert stack.http("DELETE", ROUTE, token=token).status == 204
    for session in (token, other):
        assert stack.http("GET", ROUTE, token=session).status == 403
        answer = _past_the_authorizer(stack, session)
        assert (answer["statusCode"], json.loads(answer["body"])["error"]["message"]) == (401, "session revoked")


def test_while_the_limits_cannot_be_reached_requests_go_on_without_them(
    stack: LocalStack, minute: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # A guard, not a dependency: the route answers as it would (its own dependencies answer their own 503s).
    token = stack.token_for(_user())
    with AwsFault(stack.env.client("dynamodb"), "UpdateItem", code="ProvisionedThroughputExceededException") as fault:
        assert [stack.http("GET", ROUTE, token=token).status for _ in range(USER_BURST + 1)] == [200] * (USER_BURST + 1)
    assert fault.refused == USER_BURST + 1
    warnings = [r for r in caplog.records if r.getMessage() == "request limits unavailable: admitted without them"]
    assert len(warnings) == USER_BURST + 1
    assert "throttled" in str(warnings[0].__dict__.get("error"))
