"""Rows holding instants and dates the API refuses today (written by hand, or before the range was checked): they
list and read (2xx), each such value shown as the database's text for it, and they can be repaired through the API.

The values are PostgreSQL literals, written with SQL behind the API's back; what the API shows for them is what the
Data API returns (``local.data_api.times``): ±infinity as PostgreSQL's words, BC and post-9999 years in Java's ISO
form, and a value Python can hold as ISO 8601.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.conftest import user_id

# (PostgreSQL literal, the instant as the API shows it)
INSTANTS = [
    ("infinity", "infinity"),
    ("-infinity", "-infinity"),
    ("0001-12-31 10:00:00+00 BC", "0000-12-29 10:00:00"),  # what 0001-01-01T00:00:00+14:00 became
    ("10000-01-01 13:59:59+00", "+10000-01-01 13:59:59"),  # what 9999-12-31T23:59:59-14:00 became
    ("0044-03-15 12:00:00+00 BC", "-0043-03-13 12:00:00"),  # printed in the proleptic Gregorian calendar
    ("1900-01-01 00:00:00+00", "1900-01-01T00:00:00Z"),  # outside the house range, inside Python's
    ("9999-12-31 23:59:59.999999+00", "9999-12-31T23:59:59.999999Z"),
]
# (PostgreSQL literal, the date as the API shows it)
DATES = [
    ("infinity", "infinity"),
    ("-infinity", "-infinity"),
    ("0044-03-15 BC", "-0043-03-13"),
    ("10000-01-01", "+10000-01-01"),
    ("1900-01-01", "1900-01-01"),
]


@pytest.fixture
def owner(stack: LocalStack) -> tuple[str, str]:
    token = stack.token_for(f"stored-{uuid.uuid4().hex[:8]}")
    return token, user_id(stack, token)


def insert(stack: LocalStack, sql: str, *params: Any) -> int:
    row_id: int = stack.env.DB.prepare(sql).bind(*params).first("id")
    return row_id


def ok(stack: LocalStack, method: str, path: str, token: str, **kwargs: Any) -> Any:
    status, _, body = stack.http(method, path, token=token, **kwargs)
    assert 200 <= status < 300, (method, path, status, body)
    return body


# ------------------------------------------------------------------ positions


def _position(stack: LocalStack, uid: str, symbol: str, opened_at: str, *, closed: bool = False) -> int:
    return insert(
        stack,
        """INSERT INTO positions (user_id, symbol, quantity, average_cost, position_type, status, opened_at, closed_at,
            created_at, updated_at)
        VALUES (?1, ?2, 1, 1, 'stock', ?3, ?4::timestamptz, ?5::timestamptz, ?4::timestamptz, ?4::timestamptz)
        RETURNING id""",
        uid,
        symbol,
        "closed" if closed else "open",
        opened_at,
        opened_at if closed else None,
    )


def test_positions_holding_any_stored_instant_list_and_read(stack: LocalStack, owner: tuple[str, str]) -> None:
    token, uid = owner
    ids = {
        _position(stack, uid, f"S{n}", stored, closed=n % 2 == 1): shown for n, (stored, shown) in enumerate(INSTANTS)
    }

    listed = ok(stack, "GET", "/api/v1/positions", token, query={"status": "all"})["items"]

    assert {p["id"]: p["opened_at"] for p in listed} == ids
    assert {p["id"]: p["created_at"] for p in listed} == ids
    closed = {p["id"]: p["closed_at"] for p in listed if p["status"] == "closed"}
    assert closed == {i: ids[i] for i in closed}
    assert len(closed) == len(INSTANTS) // 2
    for position_id, shown in ids.items():
        assert ok(stack, "GET", f"/api/v1/positions/{position_id}", token)["opened_at"] == shown
    # Page by page too: every cursor continues past such a row.
    paged, cursor = [], None
    while True:
        page = ok(
            stack,
            "GET",
            "/api/v1/positions",
            token,
            query={"status": "all", "limit": "1", **({"cursor": cursor} if cursor else {})},
        )
        paged += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == sorted(ids)


def test_an_option_expiring_on_any_stored_date_lists_and_reads(stack: LocalStack, owner: tuple[str, str]) -> None:
    token, uid = owner
    ids = {
        insert(
            stack,
            """INSERT INTO positions (user_id, symbol, quantity, average_cost, position_type, option_type, strike,
                expiration) VALUES (?1, 'SPY', 1, 1, 'option', 'put', ?2, ?3::date) RETURNING id""",
            uid,
            n + 1,
            stored,
        ): shown
        for n, (stored, shown) in enumerate(DATES)
    }

    listed = ok(stack, "GET", "/api/v1/positions", token)["items"]

    assert {p["id"]: p["expiration"] for p in listed} == ids


def test_a_stored_opening_instant_is_repaired_by_the_next_sync(stack: LocalStack, owner: tuple[str, str]) -> None:
    token, uid = owner
    position_id = _position(stack, uid, "AAPL", "10000-01-01 13:59:59+00")
    fixed = {
        "symbol": "AAPL",
        "quantity": 3,
        "average_cost": 1,
        "position_type": "stock",
        "opened_at": "2024-05-06T07:08:09Z",
    }

    synced = ok(stack, "PUT", "/api/v1/positions", token, json={"positions": [fixed]})["positions"]

    assert [(p["id"], p["quantity"], p["opened_at"]) for p in synced] == [(position_id, 3, "2024-05-06T07:08:09Z")]
    assert ok(stack, "GET", f"/api/v1/positions/{position_id}", token)["opened_at"] == "2024-05-06T07:08:09Z"


def test_a_closed_position_no_sync_reaches_can_be_deleted(stack: LocalStack, owner: tuple[str, str]) -> None:
    token, uid = owner
    broken = _position(stack, uid, "AAPL", "0001-12-31 10:00:00+00 BC", closed=True)
    kept = _position(stack, uid, "MSFT", "2024-01-02 03:04:05+00")

    status, _, body = stack.http("DELETE", f"/api/v1/positions/{broken}", token=token)

    assert (status, body) == (204, "")
    assert stack.http("GET", f"/api/v1/positions/{broken}", token=token)[0] == 404
    assert [p["id"] for p in ok(stack, "GET", "/api/v1/positions", token, query={"status": "all"})["items"]] == [kept]
    assert stack.http("DELETE", f"/api/v1/positions/{broken}", token=token)[0] == 404
    audited = stack.env.DB.prepare(
        "SELECT action, entity_id FROM audit_events WHERE user_id = ? AND action = 'position.delete'"
    ).bind(uid)
    assert audited.all().results == [{"action": "position.delete", "entity_id": str(broken)}]


def test_a_position_is_deleted_only_by_its_owner(stack: LocalStack, owner: tuple[str, str], bob: str) -> None:
    token, uid = owner
    position_id = _position(stack, uid, "AAPL", "2024-01-02 03:04:05+00")

    assert stack.http("DELETE", f"/api/v1/positions/{position_id}", token=bob)[0] == 404

    assert ok(stack, "GET", f"/api/v1/positions/{position_id}", token)["id"] == position_id


# ------------------------------------------------------------------ journal


def _entry(stack: LocalStack, uid: str, entry_date: str, expiration: str = "2025-04-17") -> int:
    leg = {"type": "put", "side": "sell", "strike": "95", "expiration": expiration}
    return insert(
        stack,
        """INSERT INTO trade_journal (user_id, symbol, strategy, legs, direction, entry_date, entry_price)
        VALUES (?1, 'AAPL', 'short put', ?2::jsonb, 'short', ?3::date, 2.5) RETURNING id""",
        uid,
        [leg],
        entry_date,
    )


def test_journal_entries_on_any_stored_date_list(stack: LocalStack, owner: tuple[str, str]) -> None:
    token, uid = owner
    ids = {_entry(stack, uid, stored): shown for stored, shown in DATES}
    odd_leg = _entry(stack, uid, "2025-01-02", expiration="0044-03-15 BC")  # legs are JSON: any text at all

    listed = ok(stack, "GET", "/api/v1/journal", token)["items"]

    assert {e["id"]: e["entry_date"] for e in listed} == {**ids, odd_leg: "2025-01-02"}
    assert next(e for e in listed if e["id"] == odd_leg)["legs"][0]["expiration"] == "0044-03-15 BC"
    # Page by page: never a 5xx (a cursor holding a date Python cannot hold is the cursor codec's to carry).
    cursor: str | None = None
    for _ in range(len(DATES) + 1):
        status, _, page = stack.http(
            "GET", "/api/v1/journal", token=token, query={"limit": "1", **({"cursor": cursor} if cursor else {})}
        )
        assert status < 500, page
        cursor = page.get("next_cursor") if status == 200 else None
        if cursor is None:
            break


def test_an_entry_opened_on_a_bc_date_can_still_be_closed(stack: LocalStack, owner: tuple[str, str]) -> None:
    token, uid = owner
    entry_id = _entry(stack, uid, "0044-03-15 BC", expiration="10000-01-01")

    closed = ok(
        stack, "PATCH", f"/api/v1/journal/{entry_id}", token, json={"exit_price": "1.00", "exit_date": "2025-03-20"}
    )

    assert (closed["entry_date"], closed["exit_date"], closed["pnl"]) == ("-0043-03-13", "2025-03-20", "150.00")


@pytest.mark.parametrize("entry_date", ["10000-01-01", "infinity"])
def test_closing_before_a_far_future_entry_is_a_422_and_changes_nothing(
    stack: LocalStack, owner: tuple[str, str], entry_date: str
) -> None:
    token, uid = owner
    entry_id = _entry(stack, uid, entry_date)

    status, _, body = stack.http(
        "PATCH", f"/api/v1/journal/{entry_id}", token=token, json={"exit_price": "1.00", "exit_date": "2025-03-20"}
    )

    assert status == 422, body
    assert [f["field"] for f in body["error"]["fields"]] == ["body.exit_date"]
    row = stack.env.DB.prepare("SELECT exit_date, pnl FROM trade_journal WHERE id = ?").bind(entry_id).first()
    assert row == {"exit_date": None, "pnl": None}


# ------------------------------------------------------------------ every other table the API reads


@pytest.mark.parametrize(("stored", "shown"), INSTANTS[:5])
def test_every_other_list_and_read_shows_a_stored_instant(
    stack: LocalStack, owner: tuple[str, str], stored: str, shown: str
) -> None:
    token, uid = owner
    db = stack.env.DB
    db.prepare("UPDATE users SET created_at = ?2::timestamptz WHERE id = ?1").bind(uid, stored).run()
    db.prepare(
        """INSERT INTO watchlists (user_id, name, created_at, updated_at)
        VALUES (?1, 'old', ?2::timestamptz, ?2::timestamptz)"""
    ).bind(uid, stored).run()
    analysis = insert(
        stack,
        """INSERT INTO analyses (user_id, symbol, type, result, created_at)
        VALUES (?1, 'AAPL', 'full', '{}', ?2::timestamptz) RETURNING id""",
        uid,
        stored,
    )
    insert(
        stack,
        """INSERT INTO screeners (user_id, name, type, criteria, created_at, updated_at)
        VALUES (?1, 'old', 'stock', '{}', ?2::timestamptz, ?2::timestamptz) RETURNING id""",
        uid,
        stored,
    )
    db.prepare(
        """INSERT INTO screener_results (user_id, screener_id, criteria, results, candidates_found, created_at)
        SELECT ?1, id, '{}', '[]', 0, ?2::timestamptz FROM screeners WHERE user_id = ?1"""
    ).bind(uid, stored).run()
    alert = insert(
        stack,
        """INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold, status, triggered_at, created_at,
            updated_at) VALUES (?1, 'AAPL', 'price', 'above', 1, 'triggered', ?2::timestamptz, ?2::timestamptz,
            ?2::timestamptz) RETURNING id""",
        uid,
        stored,
    )
    db.prepare(
        """INSERT INTO alert_events (user_id, alert_id, symbol, alert_type, message, triggered_at)
        VALUES (?1, ?2, 'AAPL', 'price', 'up', ?3::timestamptz)"""
    ).bind(uid, alert, stored).run()

    assert ok(stack, "GET", "/api/v1/me", token)["created_at"] == shown
    assert ok(stack, "GET", "/api/v1/watchlists", token)["items"][0]["created_at"] == shown
    assert ok(stack, "GET", "/api/v1/watchlists/old", token)["updated_at"] == shown
    assert ok(stack, "GET", "/api/v1/analyses", token)["items"][0]["created_at"] == shown
    assert ok(stack, "GET", f"/api/v1/analyses/{analysis}", token)["created_at"] == shown
    assert ok(stack, "GET", "/api/v1/screeners", token)["items"][0]["created_at"] == shown
    assert ok(stack, "GET", "/api/v1/screeners/old", token)["updated_at"] == shown
    assert ok(stack, "GET", "/api/v1/screeners/old/results", token)["items"][0]["created_at"] == shown
    alerts = ok(stack, "GET", "/api/v1/alerts", token, query={"status": "all"})["items"]
    assert [(a["triggered_at"], a["created_at"]) for a in alerts] == [(shown, shown)]
    assert ok(stack, "GET", f"/api/v1/alerts/{alert}/events", token)["items"][0]["triggered_at"] == shown


@pytest.fixture
def odd_run(stack: LocalStack) -> Iterator[int]:
    """A job run with instants and dates no job writes; removed afterwards, as it would sort first in every history."""
    db = stack.env.DB
    run = insert(
        stack,
        """INSERT INTO job_executions (job_type, scheduled_time, execution_date, status, started_at, finished_at)
        VALUES ('weekly', 'infinity', '10000-01-01', 'success', '0044-03-15 12:00:00+00 BC', '-infinity')
        RETURNING id""",
    )
    db.prepare(
        """INSERT INTO report_snapshots (execution_id, report_type, report_date, content, summary)
        VALUES (?1, 'weekly', '0044-03-15 BC', '{}', 'old')"""
    ).bind(run).run()
    db.prepare("INSERT INTO analysis_results (execution_id, symbol, created_at) VALUES (?1, 'AAPL', 'infinity')").bind(
        run
    ).run()
    yield run
    db.prepare("DELETE FROM job_executions WHERE id = ?").bind(run).run()


def test_a_job_run_holding_any_stored_instant_reads(stack: LocalStack, owner: tuple[str, str], odd_run: int) -> None:
    token, _ = owner

    detail = ok(stack, "GET", f"/api/v1/jobs/{odd_run}", token)
    history = ok(stack, "GET", "/api/v1/jobs/history", token, query={"type": "weekly"})["items"]
    latest = ok(stack, "GET", "/api/v1/jobs/latest", token, query={"type": "weekly"})

    shown = {
        "scheduled_time": "infinity",
        "execution_date": "+10000-01-01",
        "started_at": "-0043-03-13 12:00:00",
        "finished_at": "-infinity",
    }
    assert {k: detail[k] for k in shown} == shown
    # The report and the results travel inside one JSON document, so their text is PostgreSQL's own.
    assert (detail["report"]["report_date"], detail["results"][0]["created_at"]) == ("0044-03-15 BC", "infinity")
    assert {k: history[0][k] for k in shown} == shown  # the newest market date of all
    assert (latest["id"], latest["report"]["report_date"]) == (odd_run, "0044-03-15 BC")
