"""Per-user limits and revoked sessions through the local gateway, on moto: what a burst, a refill, a race, a sign-out
and an erasure get, and the DynamoDB calls each request costs.

A stack of its own with the dev environment's buckets from cdk.json (user: 20 per 2 s, service: 40 per 2 s) whose
gateway caches the authorizer's answers for 60 s, as staging and prod do. Time is the test clock, set to the start
of a minute so windows line up.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from infra.config import load_environment, read_cdk_context
from infra.paths import PROJECT_ROOT
from local.aws_calls import CallCounter
from local.aws_faults import AwsFault
from local.stack import LocalStack
from tests.conftest import Clock
from ttai.auth.admission import Admission

DEV = load_environment(read_cdk_context(PROJECT_ROOT), "dev").limits
USER_BURST, SERVICE_BURST = DEV.user.burst, DEV.service.burst
WINDOW = DEV.user.burst / DEV.user.rate_per_second
ROUTE = "/api/v1/me"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(authorizer_cache_ttl=60, limits={"user": dict(DEV.user), "service": dict(DEV.service)}) as local:
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
    stack.http("GET", ROUTE, token=token)  # the authorizer runs (its session lookup), then the admission
    assert ddb_calls.by_operation() == {"GetItem": 1, "UpdateItem": 1}
    ddb_calls.calls.clear()
    stack.http("GET", ROUTE, token=token)  # the authorizer's answer is cached: the admission alone
    assert ddb_calls.by_operation() == {"UpdateItem": 1}
    _spend(stack, token, USER_BURST - 2)
    ddb_calls.calls.clear()
    assert stack.http("GET", ROUTE, token=token).status == 429  # refused: the same one call
    assert ddb_calls.by_operation() == {"UpdateItem": 1}


def test_a_signed_out_session_is_refused_at_once_despite_the_authorizer_cache(
    stack: LocalStack, minute: Clock, ddb_calls: CallCounter
) -> None:
    user = _user()
    token, other = stack.token_for(user), stack.token_for(user)
    assert stack.http("GET", ROUTE, token=token).status == 200  # the authorizer's answer is now cached for 60 s
    assert stack.http("POST", "/auth/logout", token=token).status == 204
    minute.travel(1)
    ddb_calls.calls.clear()
    status, _, body = stack.http("GET", ROUTE, token=token)
    assert (status, body) == (401, {"error": {"code": "unauthorized", "message": "session revoked"}})
    assert ddb_calls.by_operation() == {"UpdateItem": 1}  # the cached answer let it through; the admission did not
    assert stack.http("GET", ROUTE, token=other).status == 200  # the user's other session lives on


def test_an_erased_account_s_sessions_are_refused_at_once(stack: LocalStack, minute: Clock) -> None:
    user = _user()
    token, other = stack.token_for(user), stack.token_for(user)
    assert stack.http("GET", ROUTE, token=other).status == 200  # cached
    assert stack.http("DELETE", ROUTE, token=token).status == 204
    for session in (token, other):
        status, _, body = stack.http("GET", ROUTE, token=session)
        assert (status, body["error"]["message"]) == (401, "session revoked")


def test_a_revocation_mark_covers_the_authorizer_cache_past_a_minute(stack: LocalStack, minute: Clock) -> None:
    user = _user()
    token = stack.token_for(user)
    minute.travel(59)  # the sign-out's minute ends in a second; the cache answers for 60 more
    assert stack.http("GET", ROUTE, token=token).status == 200
    assert stack.http("POST", "/auth/logout", token=token).status == 204
    minute.travel(30)
    assert stack.http("GET", ROUTE, token=token).status == 401


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
