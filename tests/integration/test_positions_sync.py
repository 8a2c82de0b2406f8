"""Positions synced from the stand-in TastyTrade: after signing in, on POST /api/v1/positions/sync (the auth
function, with the caller's own tokens), and for every connected user in the pre-market job, a few at a time, a user
whose tokens fail skipped and counted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from local.fake_oauth import FakeTastyTrade
from local.stack import LocalStack
from local.tastytrade_catalog import position_document
from tests.integration.jobs_fixtures import JobWorld, new_world
from tests.integration.test_signin import follow_provider
from ttai.http import deps
from ttai.jobs import run_job
from ttai.jobs.position_sync import MAX_CONCURRENT_USERS
from ttai.services.signin import SignInService
from ttai.services.tastytrade.breaker import KVBreakerStore

MONDAY_PRE_MARKET = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)


@pytest.fixture
def fake(stack: LocalStack) -> Iterator[FakeTastyTrade]:
    assert stack.oauth is not None
    stack.oauth.recover()
    yield stack.oauth
    stack.oauth.recover()
    stack.env.KV.delete(KVBreakerStore.key("tastytrade"))
    deps.breaker.cache_clear()
    deps._broker_positions.cache_clear()


def customer(fake: FakeTastyTrade) -> tuple[str, str, str]:
    login = f"P{uuid.uuid4().hex[:9].upper()}"
    margin, ira = f"{login[:7]}M", f"{login[:7]}I"
    fake.add_customer(login, email=f"{login.lower()}@example.com", name="Sync Tester", accounts=[margin, ira])
    return login, margin, ira


def sign_in(stack: LocalStack, login: str) -> dict[str, Any]:
    _, headers, _ = stack.http("GET", "/auth/login")
    status, _, body = stack.http("GET", "/auth/callback", query=follow_provider(f"{headers['location']}&login={login}"))
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def open_rows(stack: LocalStack, user_id: str) -> list[dict[str, Any]]:
    return (
        stack.env.DB.prepare(
            "SELECT id, symbol, quantity, direction, status FROM positions WHERE user_id = ? ORDER BY id"
        )
        .bind(user_id)
        .all()
        .results
    )


def test_signing_in_syncs_the_positions_of_every_open_account(stack: LocalStack, fake: FakeTastyTrade) -> None:
    login, margin, ira = customer(fake)
    put = next(s for s, o in fake.catalog.options.items() if o.underlying == "SPY" and o.right == "P")
    fake.set_positions(
        margin,
        [
            position_document(margin, "AAPL", 30, average_open_price="150.0"),
            position_document(margin, put, 2, direction="Short", average_open_price="3.1"),
            position_document(margin, "/ESZ5", 1, instrument_type="Future"),
        ],
    )
    fake.set_positions(ira, [position_document(ira, "AAPL", 10, average_open_price="180.0")])
    synced = sign_in(stack, login)["positions"]
    assert (synced["accounts"], synced["upserted"], synced["closed"]) == ([margin, ira], 2, 0)
    assert synced["skipped"] == [
        {"account_number": margin, "symbol": "/ESZ5", "reason": "Future positions are not synced"}
    ]
    rows = {r["symbol"]: r for r in open_rows(stack, login)}
    assert (rows["AAPL"]["quantity"], rows["AAPL"]["direction"]) == (40, "long")
    assert (rows[put]["quantity"], rows[put]["direction"]) == (2, "short")


def test_a_sync_adds_updates_and_closes_rows_and_is_idempotent(stack: LocalStack, fake: FakeTastyTrade) -> None:
    login, margin, _ = customer(fake)
    put = next(s for s, o in fake.catalog.options.items() if o.underlying == "AAPL" and o.right == "P")
    fake.set_positions(margin, [position_document(margin, "AAPL", 30), position_document(margin, put, 1)])
    token = sign_in(stack, login)["token"]
    before = {r["symbol"]: r for r in open_rows(stack, login)}

    fake.set_positions(margin, [position_document(margin, "AAPL", 45), position_document(margin, "MSFT", 5)])
    status, _, result = stack.http("POST", "/api/v1/positions/sync", token=token)
    assert status == 200, result
    assert (result["upserted"], result["closed"]) == (2, 1)
    rows = {r["symbol"]: r for r in open_rows(stack, login)}
    assert rows["AAPL"]["id"] == before["AAPL"]["id"]  # updated in place: a stock re-sync adds no second row
    assert rows["AAPL"]["quantity"] == 45
    assert (rows[put]["status"], rows["MSFT"]["status"]) == ("closed", "open")

    again = stack.http("POST", "/api/v1/positions/sync", token=token).body
    assert (again["upserted"], again["closed"]) == (2, 0)
    assert open_rows(stack, login) == list(rows.values())
    listed = stack.http("GET", "/api/v1/positions", token=token).body["items"]
    assert sorted(p["symbol"] for p in listed) == ["AAPL", "MSFT"]


def test_a_caller_without_a_tastytrade_connection_gets_a_404(stack: LocalStack) -> None:
    status, _, body = stack.http("POST", "/api/v1/positions/sync", token=stack.token_for(f"dev-{uuid.uuid4().hex}"))
    assert status == 404
    assert "tastytrade" in body["error"]["message"]


def test_a_failing_tastytrade_is_a_503_that_writes_nothing_and_signing_in_survives_it(
    stack: LocalStack, fake: FakeTastyTrade, monkeypatch: pytest.MonkeyPatch
) -> None:
    login, margin, _ = customer(fake)
    fake.set_positions(margin, [position_document(margin, "TSLA", 3)])
    fake.fail_next(3, status=502, endpoint="/customers/me/accounts")
    signed_in = sign_in(stack, login)
    assert signed_in["positions"] is None
    assert open_rows(stack, login) == []
    fake.fail_next(3, status=502, endpoint="/customers/me/accounts")
    status, headers, body = stack.http("POST", "/api/v1/positions/sync", token=signed_in["token"])
    # the fifth failed attempt in a row (three while signing in, two now) opened the breaker
    assert (status, headers["retry-after"], body["error"]["code"]) == (503, "30", "unavailable")
    assert open_rows(stack, login) == []
    fake.recover()  # TastyTrade is back (the third queued failure never went out: the breaker stopped it)
    later = time.time() + 31
    monkeypatch.setattr(time, "time", lambda: later)
    assert stack.http("POST", "/api/v1/positions/sync", token=signed_in["token"]).body["upserted"] == 1


def connect(world: JobWorld, fake: FakeTastyTrade, login: str) -> None:
    """Sign ``login`` in against the world's own database (its users and sealed tokens)."""
    signin = SignInService.from_env(world.env)
    start = signin.begin()
    callback = follow_provider(f"{start.authorize_url}&login={login}")
    signin.complete(callback["code"], callback["state"])


def test_the_pre_market_job_syncs_every_connected_user_a_few_at_a_time_and_counts_failures(
    stack: LocalStack, fake: FakeTastyTrade
) -> None:
    world = new_world(stack)
    logins = []
    for _ in range(6):
        login, margin, _ = customer(fake)
        fake.set_positions(margin, [position_document(margin, "AAPL", 7)])
        connect(world, fake, login)
        logins.append(login)
    revoked = logins.pop()
    fake.revoke(revoked)  # this user disconnected us in TastyTrade: their refresh is refused
    fake.expire_tokens()
    fake.latency = 0.05  # long enough for the users' syncs to overlap
    run = run_job(world.env, "pre-market", MONDAY_PRE_MARKET)
    assert run.status == "success"  # a user's failed sync does not fail the report
    (row,) = world.sql("SELECT metadata FROM job_executions WHERE id = ?", run.id)
    assert row["metadata"]["position_sync"] == {
        "users": 6,
        "synced": 5,
        "failed": 1,
        "upserted": 5,
        "closed": 0,
        "failures": {"Unauthorized": 1},
    }
    assert revoked not in str(row["metadata"])  # who failed goes to the log: job history is everyone's
    counts = world.sql("SELECT user_id, count(*) AS n FROM positions WHERE status = 'open' GROUP BY user_id")
    assert {r["user_id"]: r["n"] for r in counts} == dict.fromkeys(logins, 1)
    assert 2 <= fake.peak_in_flight <= MAX_CONCURRENT_USERS


def test_a_sync_reads_only_the_callers_accounts_with_the_callers_tokens(
    stack: LocalStack, fake: FakeTastyTrade
) -> None:
    login, margin, ira = customer(fake)
    other, theirs, _ = customer(fake)
    fake.set_positions(theirs, [position_document(theirs, "NVDA", 9)])
    token = sign_in(stack, login)["token"]
    sign_in(stack, other)
    before = len(fake.calls)
    assert stack.http("POST", "/api/v1/positions/sync", token=token).status == 200
    read = [c.path for c in fake.calls[before:] if c.endpoint == "/accounts/{account_number}/positions"]
    assert sorted(read) == sorted([f"/accounts/{margin}/positions", f"/accounts/{ira}/positions"])
    assert [r["symbol"] for r in open_rows(stack, other)] == ["NVDA"]  # their own sign-in synced theirs
    assert open_rows(stack, login) == []
