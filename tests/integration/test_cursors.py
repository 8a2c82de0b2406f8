"""Cursors on every list the API pages with one: a genuine cursor pages the list it came from, for the caller it was
issued to; anything else (forged, tampered, another caller's, another list's) is a 400 with the standard body, never
a 5xx, and nothing of the backend's text."""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.stack import LocalStack
from tests.integration.test_jobs_api import insert_run
from ttai.bindings import r2
from ttai.cursors import CURSOR_SECRET, CursorCodec
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
        call("POST", "/api/v1/exports", {"dataset": "journal", "format": "json"})
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
    # Job runs are market-wide: two on a market date no other test writes on.
    job_day = date(2200, 1, 1) + timedelta(days=random.randrange(2_000_000))
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
    inner = r2._encode_cursor("", f"users/{owner.user_id}/exports/", None)
    cursor = signer.encode(EXPORTS, [inner], scope=(owner.user_id,))
    response = page(stack, owner, "exports", cursor)
    assert response.status == 400, response.body
    assert response.body == {"error": {"code": "bad_request", "message": "list cursor is not one this bucket issued"}}


# ------------------------------------------------------------------ genuine cursors


@pytest.mark.parametrize("name", LISTS)
def test_a_genuine_cursor_pages_its_list_to_the_end(stack: LocalStack, owner: Caller, name: str) -> None:
    first = _ok(page(stack, owner, name))
    second = _ok(page(stack, owner, name, first["next_cursor"]))
    assert len(first["items"]) == len(second["items"]) == 1
    assert first["items"] != second["items"]
    assert second["next_cursor"] is None


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
