"""Exports through the API: a workflow run per export (202, then its status), files written from SQL to the caller's
exports a part at a time, listed with their links, and reachable only by their owner."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.integration.conftest import finished_run, user_id
from ttai.services.storage import DOWNLOAD_URL_SECONDS


def _journal(stack: LocalStack, owner: str, count: int) -> None:
    stack.env.DB.prepare(
        "INSERT INTO trade_journal (user_id, symbol, strategy, legs, entry_date, entry_price, notes)"
        ' SELECT ?1, \'MSFT\', \'csp\', \'[{"type": "put", "side": "sell"}]\'::jsonb,'
        " DATE '2026-01-01' + (g % 300), 1.5 + g, 'note, \"quoted\" ' || g FROM generate_series(1, ?2::int) AS g"
    ).bind(owner, count).run()


def _download(url: str) -> bytes:
    assert url.startswith("http://127.0.0.1:")  # the local stack's S3, never anywhere else
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a presigned URL to the local stack
        body: bytes = response.read()
    return body


def _create(stack: LocalStack, token: str, dataset: str, fmt: str) -> dict[str, Any]:
    """The export's run started, followed to its end: the file as its output describes it."""
    response = stack.http("POST", "/api/v1/exports", token=token, json={"dataset": dataset, "format": fmt})
    assert response.status == 202, response.body
    assert response.body["workflow"] == "export"
    assert response.body["status_url"] == f"/api/v1/workflows/{response.body['id']}"
    run = finished_run(stack, token, response.body["id"])
    assert run["status"] == "complete", run
    output: dict[str, Any] = run["output"]
    return output


def test_a_journal_export_as_csv(stack: LocalStack, alice: str, aws_calls: CallCounter) -> None:
    owner = user_id(stack, alice)
    _journal(stack, owner, 120)
    aws_calls.calls.clear()
    created = _create(stack, alice, "journal", "csv")
    assert created["rows"] == 120
    assert created["content_type"] == "text/csv"
    assert created["name"].startswith("journal-")
    assert created["name"].endswith(".csv")
    # A short file is one PutObject (and a HeadObject per download link); the authorizer reads the session of each
    # request (the export's creation and the status polls), and caches nothing, and each request's admission is an
    # UpdateItem of the limits table.
    writes = {op: n for op, n in aws_calls.by_operation().items() if op not in {"HeadObject", "GetItem", "UpdateItem"}}
    assert writes == {"PutObject": 1}
    assert created["url"].startswith("http://127.0.0.1:")  # the run's output links to it

    link = stack.http("GET", f"/api/v1/exports/{created['name']}", token=alice)
    assert link.status == 200
    query = parse_qs(urlsplit(link.body["url"]).query)
    assert query["X-Amz-Expires"] == [str(DOWNLOAD_URL_SECONDS)]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert f"users/{owner}/exports/{created['name']}" in urlsplit(link.body["url"]).path
    rows = list(csv.DictReader(io.StringIO(_download(link.body["url"]).decode())))
    assert len(rows) == 120
    assert "user_id" not in rows[0]
    first = rows[0]
    assert first["symbol"] == "MSFT"
    assert Decimal(first["entry_price"]) == Decimal("2.5")
    assert first["notes"] == 'note, "quoted" 1'
    assert json.loads(first["legs"]) == [{"type": "put", "side": "sell"}]
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    assert created["size"] == len(_download(link.body["url"]))


def test_a_positions_export_as_json_and_an_empty_one(stack: LocalStack, alice: str) -> None:
    owner = user_id(stack, alice)
    empty = _create(stack, alice, "analyses", "json")
    assert empty["rows"] == 0
    stack.env.DB.prepare(
        "INSERT INTO positions (user_id, symbol, quantity, average_cost, position_type)"
        " VALUES (?1, 'AAPL', 10, 190.123456, 'stock'), (?1, 'SPY', 1, 2, 'stock')"
    ).bind(owner).run()
    created = _create(stack, alice, "positions", "json")
    assert created["content_type"] == "application/json"
    assert created["rows"] == 2
    url = stack.http("GET", f"/api/v1/exports/{created['name']}", token=alice).body["url"]
    document = json.loads(_download(url), parse_float=Decimal)
    assert [p["symbol"] for p in document] == ["AAPL", "SPY"]
    assert document[0]["average_cost"] == Decimal("190.123456")
    assert "user_id" not in document[0]
    empty_url = stack.http("GET", f"/api/v1/exports/{empty['name']}", token=alice).body["url"]
    assert json.loads(_download(empty_url)) == []


def test_exports_list_pages_and_belongs_to_the_caller(stack: LocalStack, alice: str, bob: str) -> None:
    names = {_create(stack, alice, "journal", fmt)["name"] for fmt in ("csv", "json", "csv")}
    first = stack.http("GET", "/api/v1/exports", token=alice, query={"limit": "2"})
    assert first.status == 200
    assert len(first.body["items"]) == 2
    assert first.body["next_cursor"]
    rest = stack.http("GET", "/api/v1/exports", token=alice, query={"limit": "2", "cursor": first.body["next_cursor"]})
    listed = {i["name"] for i in (*first.body["items"], *rest.body["items"])}
    assert listed == names
    assert rest.body["next_cursor"] is None
    assert all(i["size"] > 0 for i in first.body["items"])
    item = first.body["items"][0]
    assert len(_download(item["url"])) == item["size"]  # each listed file carries its download link

    assert stack.http("GET", "/api/v1/exports", token=bob).body["items"] == []
    # Alice's cursor does not page Bob's list (it is bound to her user id).
    refused = stack.http("GET", "/api/v1/exports", token=bob, query={"cursor": first.body["next_cursor"]})
    assert refused.status == 400


def test_another_users_export_is_not_found(stack: LocalStack, alice: str, bob: str) -> None:
    name = _create(stack, alice, "journal", "csv")["name"]
    assert stack.http("GET", f"/api/v1/exports/{name}", token=bob).status == 404
    assert stack.http("GET", f"/api/v1/exports/{name}", token=alice).status == 200
    assert stack.http("GET", "/api/v1/exports/never-made.csv", token=alice).status == 404


@pytest.mark.parametrize(
    "name",
    ["..", ".hidden", "a/../b.csv", "../../users", "%2e%2e%2fx.csv", "x" * 200, "name with space.csv", "é.csv"],
)
def test_names_that_could_escape_the_exports_folder_are_not_found(stack: LocalStack, alice: str, name: str) -> None:
    response = stack.http("GET", f"/api/v1/exports/{quote(name, safe='%')}", token=alice)
    assert response.status in {404, 422}, response.body


@pytest.mark.parametrize(
    "body",
    [
        {"dataset": "users", "format": "csv"},
        {"dataset": "journal", "format": "xml"},
        {"dataset": "journal", "x": 1},
        {},
    ],
)
def test_bad_export_requests_are_refused_and_write_nothing(
    stack: LocalStack, alice: str, body: dict[str, Any], aws_calls: CallCounter
) -> None:
    response = stack.http("POST", "/api/v1/exports", token=alice, json=body)
    assert response.status == 422
    assert "PutObject" not in aws_calls.calls
    assert "CreateMultipartUpload" not in aws_calls.calls
