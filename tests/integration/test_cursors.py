"""Cursors on every list the API pages with one: a genuine cursor pages the list it came from, for the caller it was
issued to; anything else (forged, tampered, another caller's, another list's) is a 400 with the standard body, never
a 5xx, and nothing of the backend's text."""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.stack import LocalStack
from tests.integration.conftest import finished_run
from tests.integration.test_jobs_api import _WINDOWS as JOB_WINDOWS
from tests.integration.test_jobs_api import insert_run
from ttai.bindings.r2 import bucket as r2_bucket
from ttai.cursors import CursorCodec
from ttai.secret_names import CURSOR_SECRET
from ttai.services.storage import EXPORTS

REFUSED = {"error": {"code": "bad_request", "message": "the cursor is not one this API issued for this list"}}
LISTS = (
    "watchlists",
    "screeners",
    "screener results",
    "analyses",
    "alerts",
    "alert events",
    "positions",
    "journal",
    "jobs history",
    "exports",
)
TENANT_LISTS = tuple(name for name in LISTS if name != "jobs history")  # the job history is market-wide


@dataclass(frozen=True)
class Caller:
    user_id: str
    token: str
    alert_id: int
    job_day: date

    def route(self, name: str) -> tuple[str, dict[str, str]]:
        """The path and query of one of the caller's lists; each holds exactly two items."""
        return {
            "watchlists": ("/api/v1/watchlists", {}),
            "screeners": ("/api/v1/screeners", {}),
            "screener results": ("/api/v1/screeners/first/results", {}),
            "analyses": ("/api/v1/analyses", {}),
            "alerts": ("/api/v1/alerts", {}),
            "alert events": (f"/api/v1/alerts/{self.alert_id}/events", {}),
            "positions": ("/api/v1/positions", {}),
            "journal": ("/api/v1/journal", {}),
            "jobs history": (
                "/api/v1/jobs/history",
                {"start_date": self.job_day.isoformat(), "end_date": self.job_day.isoformat()},
            ),
            "exports": ("/api/v1/exports", {}),
        }[name]


def _ok(response: Any) -> Any:
    assert response.status in {200, 201, 204}, response.body
    return response.body


def new_caller(stack: LocalStack, name: str) -> Caller:
    """A user with two items in every list, so each list has a second page at ``limit=1``."""
    user_id = f"{name}-{uuid.uuid4().hex[:8]}"
    token = stack.token_for(user_id)

    def call(method: str, path: str, body: Any) -> Any:
        return _ok(stack.http(method, path, token=token, json=body))

    for list_name in ("first", "second"):
        call("PUT", f"/api/v1/watchlists/{list_name}", {"symbols": ["AAPL"]})
        call("PUT", f"/api/v1/screeners/{list_name}", {"type": "csp", "criteria": {"max_dte": 45}})
        call("POST", "/api/v1/analyses", {"symbol": "AAPL", "type": "chart", "result": {"trend": "up"}})
        call("POST", "/api/v1/journal", {
            "symbol": "AAPL", "strategy": "long stock", "legs": [{"type": "stock", "side": "buy"}], "quantity": 10,
            "entry_date": "2025-03-03", "entry_price": 100,
        })  # fmt: skip
        export = stack.http("POST", "/api/v1/exports", token=token, json={"dataset": "journal", "format": "json"})
        assert export.status == 202, export.body
        assert finished_run(stack, token, export.body["id"])["status"] == "complete"  # the workflow wrote it
    alert_id = call("POST", "/api/v1/alerts", {"symbol": "AAPL", "alert_type": "price", "condition": "above",
                                               "threshold": 200})["id"]  # fmt: skip
    call("POST", "/api/v1/alerts", {"symbol": "MSFT", "alert_type": "price", "condition": "below", "threshold": 100})
    stock = {"quantity": 1, "average_cost": 10, "position_type": "stock"}
    call("PUT", "/api/v1/positions", {"positions": [{"symbol": "AAPL", **stock}, {"symbol": "MSFT", **stock}]})
    db = stack.env.DB
    at = datetime(2026, 11, 20, 15, tzinfo=UTC)
    for n in range(2):
        db.prepare(
            """INSERT INTO alert_events (user_id, alert_id, symbol, alert_type, message, channels_notified,
                triggered_at) VALUES (?1, ?2, 'AAPL', 'price', 'above 200', '[]'::jsonb, ?3)"""
        ).bind(user_id, alert_id, at + timedelta(minutes=n)).run()
        db.prepare(
            """INSERT INTO screener_results (user_id, screener_id, criteria, results, candidates_found, created_at)
            SELECT user_id, id, '{}'::jsonb, '[]'::jsonb, 0, ?2 FROM screeners WHERE user_id = ?1 AND name = 'first'"""
        ).bind(user_id, at + timedelta(minutes=n)).run()
    # Job runs are market-wide: two on a market date no other test writes on (a window of test_jobs_api's own).
    job_day = date(2100, 1, 1) + timedelta(days=10 * next(JOB_WINDOWS))
    insert_run(stack, "pre-market", job_day)
    insert_run(stack, "analysis", job_day, hour=15)
    return Caller(user_id, token, alert_id, job_day)


@pytest.fixture(scope="module")
def owner(stack: LocalStack) -> Caller:
    return new_caller(stack, "pager")


@pytest.fixture(scope="module")
def stranger(stack: LocalStack) -> Caller:
    return new_caller(stack, "stranger")


def page(stack: LocalStack, caller: Caller, name: str, cursor: str | None = None, **query: str) -> Any:
    path, base = caller.route(name)
    return stack.http(
        "GET", path, token=caller.token, query={**base, "limit": "1", **query, **({"cursor": cursor} if cursor else {})}
    )


def first_cursor(stack: LocalStack, caller: Caller, name: str) -> str:
    cursor: str = _ok(page(stack, caller, name))["next_cursor"]
    assert cursor
    return cursor


def b64(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode().rstrip("=")


def assert_refused(response: Any) -> None:
    assert response.status == 400, response.body
    assert response.body == REFUSED


# ------------------------------------------------------------------ the review's requests


@pytest.mark.parametrize(
    ("name", "forged"),
    [
        *(
            (name, {"k": name, "p": position})
            for name in ("watchlists", "screeners")
            for position in ([123], [{"x": 1}], [True])
        ),
        ("analyses", {"k": "analyses:", "p": ["9999-12-31T23:59:59-14:00", 1]}),
        ("alert events", {"k": "alert_events", "p": ["9999-12-31T23:59:59-14:00", 1]}),
        ("screener results", {"k": "screener_runs:first", "p": ["9999-12-31T23:59:59-14:00", 1]}),
        ("jobs history", {"k": "jobs:|||", "p": ["0001-01-01", True]}),
    ],
)
def test_the_forged_cursors_of_the_security_review_are_a_400(
    stack: LocalStack, owner: Caller, name: str, forged: dict[str, Any]
) -> None:
    assert_refused(page(stack, owner, name, b64(forged)))


def test_a_forged_continuation_token_never_reaches_s3(stack: LocalStack, owner: Caller) -> None:
    forged = {"t": "garbage", "p": f"users/{owner.user_id}/exports/", "d": ""}
    assert_refused(page(stack, owner, "exports", b64(forged)))


def test_a_token_s3_refuses_inside_a_genuine_cursor_is_a_400_without_s3s_text(stack: LocalStack, owner: Caller) -> None:
    # Only a holder of the key could make this cursor; S3 refuses the token (InvalidArgument), the API says 400.
    signer = CursorCodec(lambda: [stack.secret_value(CURSOR_SECRET)])
    inner = r2_bucket.encode_list_cursor("", f"users/{owner.user_id}/exports/", None)
    cursor = signer.encode(EXPORTS, [inner], scope=(owner.user_id,))
    response = page(stack, owner, "exports", cursor)
    assert response.status == 400, response.body
    assert response.body == REFUSED


# ------------------------------------------------------------------ genuine cursors


@pytest.mark.parametrize("name", LISTS)
def test_a_genuine_cursor_pages_its_list_to_the_end(stack: LocalStack, owner: Caller, name: str) -> None:
    first = _ok(page(stack, owner, name))
    second = _ok(page(stack, owner, name, first["next_cursor"]))
    assert len(first["items"]) == len(second["items"]) == 1
    assert first["items"] != second["items"]
    assert second["next_cursor"] is None


# Sort values stored behind the API's back (PostgreSQL literals; see test_stored_times.py): outside the house range,
# and for some outside Python's, which the D1 binding reads back as text. Each is stored twice (the id breaks ties).
STORED_INSTANTS = (
    "infinity",
    "-infinity",
    "0001-12-31 10:00:00+00 BC",
    "0044-03-15 12:00:00+00 BC",
    "10000-01-01 13:59:59+00",
    "1900-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "2026-11-20 15:00:00.5+00",
)
STORED_DATES = ("infinity", "-infinity", "0044-03-15 BC", "0001-01-01", "10000-01-01", "1900-01-01", "2026-01-02")


def _every_page(stack: LocalStack, token: str, path: str, **query: str) -> list[int]:
    """The ids of every item of a list read one item a page, each page from the last one's cursor."""
    ids: list[int] = []
    cursor = None
    while True:
        page = stack.http(
            "GET", path, token=token, query={**query, "limit": "1", **({"cursor": cursor} if cursor else {})}
        )
        assert page.status == 200, page.body
        ids += [item["id"] for item in page.body["items"]]
        cursor = page.body["next_cursor"]
        if cursor is None:
            return ids


def _ids(stack: LocalStack, sql: str, *params: Any) -> list[int]:
    return [row["id"] for row in stack.env.DB.prepare(sql).bind(*params).all().results]


def test_cursors_page_past_stored_instants_python_cannot_hold(stack: LocalStack) -> None:
    user_id = f"stored-{uuid.uuid4().hex[:8]}"
    token = stack.token_for(user_id)
    db = stack.env.DB
    alert = _ok(stack.http("POST", "/api/v1/alerts", token=token, json={
        "symbol": "AAPL", "alert_type": "price", "condition": "above", "threshold": 1}))["id"]  # fmt: skip
    _ok(stack.http("PUT", "/api/v1/screeners/old", token=token, json={"type": "csp", "criteria": {}}))
    for stored in STORED_INSTANTS * 2:
        db.prepare(
            """INSERT INTO analyses (user_id, symbol, type, result, created_at)
            VALUES (?1, 'AAPL', 'full', '{}', ?2::timestamptz)"""
        ).bind(user_id, stored).run()
        db.prepare(
            """INSERT INTO screener_results (user_id, screener_id, criteria, results, candidates_found, created_at)
            SELECT ?1, id, '{}', '[]', 0, ?2::timestamptz FROM screeners WHERE user_id = ?1"""
        ).bind(user_id, stored).run()
        db.prepare(
            """INSERT INTO alert_events (user_id, alert_id, symbol, alert_type, message, triggered_at)
            VALUES (?1, ?2, 'AAPL', 'price', 'up', ?3::timestamptz)"""
        ).bind(user_id, alert, stored).run()

    newest_first = "ORDER BY {0} DESC, id DESC"
    assert _every_page(stack, token, "/api/v1/analyses") == _ids(
        stack, f"SELECT id FROM analyses WHERE user_id = ? {newest_first.format('created_at')}", user_id
    )
    assert _every_page(stack, token, "/api/v1/analyses", symbol="AAPL") == _ids(
        stack, f"SELECT id FROM analyses WHERE user_id = ? {newest_first.format('created_at')}", user_id
    )
    assert _every_page(stack, token, "/api/v1/screeners/old/results") == _ids(
        stack, f"SELECT id FROM screener_results WHERE user_id = ? {newest_first.format('created_at')}", user_id
    )
    assert _every_page(stack, token, f"/api/v1/alerts/{alert}/events") == _ids(
        stack, f"SELECT id FROM alert_events WHERE user_id = ? {newest_first.format('triggered_at')}", user_id
    )
    assert len(_ids(stack, "SELECT id FROM analyses WHERE user_id = ?", user_id)) == 2 * len(STORED_INSTANTS)


def test_cursors_page_past_stored_dates_python_cannot_hold(stack: LocalStack) -> None:
    user_id = f"stored-{uuid.uuid4().hex[:8]}"
    token = stack.token_for(user_id)
    db = stack.env.DB
    for stored in STORED_DATES * 2:
        db.prepare(
            """INSERT INTO trade_journal (user_id, symbol, strategy, legs, direction, entry_date, entry_price)
            VALUES (?1, 'AAPL', 'stock', '[]', 'long', ?2::date, 1)"""
        ).bind(user_id, stored).run()
    runs = [
        db.prepare(
            """INSERT INTO job_executions (job_type, scheduled_time, execution_date, status)
            VALUES ('backup', ?1::timestamptz, ?2::date, 'success') RETURNING id"""
        )
        .bind(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n), stored)
        .first("id")
        for n, stored in enumerate(STORED_DATES * 2)
    ]
    try:
        assert _every_page(stack, token, "/api/v1/journal") == _ids(
            stack, "SELECT id FROM trade_journal WHERE user_id = ? ORDER BY entry_date DESC, id DESC", user_id
        )
        # Job runs are market-wide: the backup history holds these and whatever backups other tests ran.
        listed = _every_page(stack, token, "/api/v1/jobs/history", type="backup")
        assert listed == _ids(
            stack, "SELECT id FROM job_executions WHERE job_type = 'backup' ORDER BY execution_date DESC, id DESC"
        )
        assert set(runs) <= set(listed)
    finally:
        db.prepare(
            "DELETE FROM job_executions WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text(?::jsonb))"
        ).bind(runs).run()


@pytest.mark.parametrize("name", TENANT_LISTS)
def test_a_cursor_issued_to_another_caller_is_a_400(
    stack: LocalStack, owner: Caller, stranger: Caller, name: str
) -> None:
    # The stranger has a list of the same name and shape; the owner's cursor still does not page it.
    assert_refused(page(stack, stranger, name, first_cursor(stack, owner, name)))


@pytest.mark.parametrize("name", LISTS)
def test_a_cursor_of_another_list_is_a_400(stack: LocalStack, owner: Caller, name: str) -> None:
    for other in LISTS:
        if other != name:
            assert_refused(page(stack, owner, name, first_cursor(stack, owner, other)))


@pytest.mark.parametrize(
    ("name", "filtered"),
    [
        ("alerts", {"status": "active"}),
        ("positions", {"status": "all"}),
        ("analyses", {"symbol": "AAPL"}),
        ("journal", {"symbol": "AAPL"}),
        ("journal", {"from": "2025-01-01"}),
        ("jobs history", {"type": "analysis"}),
    ],
)
def test_a_cursor_of_the_same_list_filtered_differently_is_a_400(
    stack: LocalStack, owner: Caller, name: str, filtered: dict[str, str]
) -> None:
    assert_refused(page(stack, owner, name, first_cursor(stack, owner, name), **filtered))


# ------------------------------------------------------------------ whatever a client sends


def _tampered(genuine: str, data: st.DataObject) -> str:
    raw = bytearray(base64.urlsafe_b64decode(genuine + "=" * (-len(genuine) % 4)))
    how = data.draw(st.sampled_from(("flip", "cut", "extend")))
    if how == "flip":
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] ^= data.draw(st.integers(1, 255))
    elif how == "cut":
        raw = raw[: data.draw(st.integers(1, len(raw) - 1))]  # an empty cursor asks for the first page
    else:
        raw += data.draw(st.binary(min_size=1, max_size=8))
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
FORGED = st.one_of(
    st.builds(lambda k, p: b64({"k": k, "p": p}), st.text(max_size=20), _JSON),  # the envelope cursors had
    st.builds(lambda t, p, d: b64({"t": t, "p": p, "d": d}), _JSON, _JSON, _JSON),  # the R2 binding's
    st.binary(min_size=1, max_size=300).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    st.binary(min_size=1, max_size=300).map(lambda raw: base64.urlsafe_b64encode(b"\x01" + raw).decode().rstrip("=")),
    st.text(min_size=1, max_size=600),
)


@pytest.mark.parametrize("name", LISTS)
def test_no_cursor_a_client_can_send_is_a_server_error(stack: LocalStack, owner: Caller, name: str) -> None:
    genuine = first_cursor(stack, owner, name)
    statuses: Counter[int] = Counter()

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(data=st.data())
    def sends(data: st.DataObject) -> None:
        cursor = _tampered(genuine, data) if data.draw(st.booleans(), label="tamper") else data.draw(FORGED)
        response = page(stack, owner, name, cursor)
        statuses[response.status] += 1
        assert response.status in {400, 422}, (cursor, response.status, response.body)
        if response.status == 400:
            assert response.body == REFUSED

    sends()
    assert statuses[400] >= 20  # mostly refused cursors; a 422 is a cursor longer than the route takes
