"""PostgreSQL stopped in the middle of a multi-statement write, then started again: while it is down, writes and
reads that need it answer 503 with Retry-After naming the database; the interrupted write left nothing (its
statements ran in one Data API transaction); once it is back the same stack serves again, nothing else restarted,
and the write sent again lands whole. The server is the stack's embedded PostgreSQL behind the local Data API,
stopped as ``pg_ctl stop`` does (open sessions ended, their transactions rolled back)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.postgres import EmbeddedPostgres
from local.stack import LocalStack
from ttai.bindings.d1 import DATA_API_ERRORS_METRIC, DATA_API_UNAVAILABLE_METRIC
from ttai.observability import METRICS_NAMESPACE

DATABASE_DOWN = {"code": "unavailable", "message": "the database is unavailable; retry in 5 seconds"}


def _position(symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "quantity": 10, "average_cost": 100.5, "position_type": "stock"}


@pytest.fixture
def postgres(faulty: LocalStack) -> Iterator[EmbeddedPostgres]:
    """The stack's embedded server, running again after the test whatever happened in it."""
    assert faulty.postgres is not None
    yield faulty.postgres
    faulty.postgres.resume()  # a no-op when it runs


def _unavailable(response: Any) -> None:
    status, headers, body = response
    assert status == 503, body
    assert headers["retry-after"] == "5"
    assert body["error"].pop("correlation_id")
    assert body == {"error": DATABASE_DOWN}


def _rows(stack: LocalStack, user: str) -> dict[str, Any]:
    positions = stack.env.DB.prepare("SELECT symbol, status FROM positions WHERE user_id = ? ORDER BY symbol")
    audit = stack.env.DB.prepare("SELECT count(*) AS n FROM audit_events WHERE user_id = ?")
    return {
        "positions": [(r["symbol"], r["status"]) for r in positions.bind(user).all().results],
        "audit_events": audit.bind(user).first("n"),
    }


def _counted(capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    """The Data API refusals the functions' metrics counted since the last look (their flushed EMF lines)."""
    counted: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        metrics = json.loads(line)
        for directive in metrics["_aws"]["CloudWatchMetrics"]:
            for definition in directive["Metrics"]:
                name = definition["Name"]
                if directive["Namespace"] == METRICS_NAMESPACE and name in {
                    DATA_API_ERRORS_METRIC,
                    DATA_API_UNAVAILABLE_METRIC,
                }:
                    counted[name] = counted.get(name, 0) + sum(metrics[name])
    return counted


def test_postgres_stopped_mid_write_leaves_nothing_answers_503_and_serves_again_once_back(
    faulty: LocalStack, postgres: EmbeddedPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    user = f"fault-{uuid.uuid4().hex[:8]}"
    token = faulty.token_for(user)
    assert faulty.http("PUT", "/api/v1/positions", token=token, json={"positions": [_position("AAPL")]}).status == 200
    before = _rows(faulty, user)
    assert before["positions"] == [("AAPL", "open")]
    # A full sync: the upsert of MSFT and the closing of AAPL, two statements in one transaction.
    full_sync = {"positions": [_position("MSFT")], "full_sync": True}

    # Given PostgreSQL stops right after the sync's first statement ran in its transaction,
    data_api = faulty.function_env("api").client("rds-data")
    ran: list[str] = []  # each statement's outcome: the error code the Data API answered, or "ok"

    def stop_after_first_statement(parsed: dict[str, Any], **_: Any) -> None:
        ran.append(parsed.get("Error", {}).get("Code", "ok"))
        if len(ran) == 1:
            postgres.halt()

    hook = "after-call.rds-data.ExecuteStatement"
    data_api.meta.events.register(hook, stop_after_first_statement, unique_id="fault-stop-postgres")
    capsys.readouterr()
    try:
        # when the sync is sent it fails as the database being away, not as a server error,
        _unavailable(faulty.http("PUT", "/api/v1/positions", token=token, json=full_sync))
    finally:
        data_api.meta.events.unregister(hook, unique_id="fault-stop-postgres")
    # The second statement found its transaction gone with the server, and the sync no other call.
    assert ran == ["ok", "DatabaseUnavailableException"]
    # The dashboard counts one refusal, as the database away; the rollback finding the aborted transaction gone
    # is no second one.
    assert _counted(capsys) == {DATA_API_UNAVAILABLE_METRIC: 1}

    # and while it is down, reads and writes that need it answer the same, and what needs none still serves.
    _unavailable(faulty.http("GET", "/api/v1/positions", token=token))
    _unavailable(faulty.http("PUT", "/api/v1/positions", token=token, json=full_sync))
    assert faulty.http("GET", "/health").status == 200

    # Then once PostgreSQL is back the same stack serves at once (its pooled connections were the old server's),
    postgres.resume()
    status, _, listed = faulty.http("GET", "/api/v1/positions", token=token)
    assert status == 200
    assert [p["symbol"] for p in listed["items"]] == ["AAPL"]
    # the interrupted sync left no row, not even its audit event,
    assert _rows(faulty, user) == before
    assert faulty.data_api is not None
    assert faulty.data_api.open_transactions == 0
    # and sent again it lands whole, once.
    status, _, synced = faulty.http("PUT", "/api/v1/positions", token=token, json=full_sync)
    assert (status, synced["upserted"], synced["closed"]) == (200, 1, 1)
    assert _rows(faulty, user)["positions"] == [("AAPL", "closed"), ("MSFT", "open")]


def test_a_restart_no_request_saw_costs_no_request_an_error(faulty: LocalStack, postgres: EmbeddedPostgres) -> None:
    token = faulty.token_for(f"fault-{uuid.uuid4().hex[:8]}")
    assert faulty.http("GET", "/api/v1/positions", token=token).status == 200  # pooled connections left idle
    postgres.halt()
    postgres.resume()
    # The endpoint's idle connections were to the server that stopped: it drops them and opens new ones.
    for _ in range(3):
        assert faulty.http("GET", "/api/v1/positions", token=token).status == 200
