"""No answer a caller can provoke carries backend text, and no input of theirs is a 5xx.

Every operation of the API's OpenAPI document (and the two sign-in steps) is driven through the error paths a
caller can reach: each path value spoiled, each query value spoiled, bodies that are not objects, and a valid body
with each field (and each field of a list's first element) spoiled in turn, so that what passes validation reaches
the services and the bindings behind them. Every 4xx must be the standard error body and name nothing behind the API:
no AWS message, ARN, SQL or PostgreSQL text, Python or botocore class, nor any of the stack's resource names.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from local.stack import LocalStack
from tests.error_texts import BACKEND_TEXT

NAN, INFINITY = float("nan"), float("inf")
# Values that replace one field at a time: each a kind of input a binding or the database would refuse.
SPOILED_VALUES: tuple[Any, ...] = (NAN, INFINITY, "\x00", "\ud800", "x" * 5000, 10**20, -1, None, [], {})
SPOILED_PATH_VALUES = ("no-such-thing", "x" * 300, "%00", "..", "0", "-1", "9223372036854775808", "%F0%9F%92%A9")
NOT_A_CURSOR = "bm90LWEtY3Vyc29y"  # base64url of not-a-cursor
SPOILED_QUERY_VALUES = ("", "x" * 3000, "NaN", "-1", "0", "1e99", "\x00", "2026-02-30", "10000-01-01", NOT_A_CURSOR)
SPOILED_BODIES = ("", "null", "[]", '"text"', "NaN", "{", '{"x": 1}')

# A valid body for each operation that reads one: the base every spoiled field is put into.
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/api/v1/watchlists/{name}"): {"symbols": ["AAPL", "MSFT"], "description": "tech"},
    ("PUT", "/api/v1/screeners/{name}"): {
        "type": "csp",
        "criteria": {"min_iv_rank": 30},
        "auto_run": False,
        "schedule": None,
        "notify_channels": ["push"],
    },
    ("PATCH", "/api/v1/journal/{entry_id}"): {"exit_price": 110, "exit_date": "2025-03-20"},
    ("PUT", "/api/v1/quotes"): {"quotes": [{"symbol": "AAPL", "last": 190.5, "updated_at": "2026-11-20T15:00:00Z"}]},
    ("PUT", "/api/v1/chains"): {
        "symbol": "AAPL",
        "expiration": "2026-12-18",
        "underlying_price": 190.5,
        "contracts": [{"symbol": "AAPL  261218C00200000", "strike": 200.0, "option_type": "call"}],
        "updated_at": "2026-11-20T15:00:00Z",
    },
    ("PUT", "/api/v1/company"): {
        "symbol": "AAPL",
        "name": "Apple Inc.",
        "sector": "Technology",
        "market_cap": 3e12,
        "updated_at": "2026-11-20T15:00:00Z",
    },
    ("PUT", "/api/v1/bars"): {
        "bars": [
            {"symbol": "AAPL", "date": "2026-03-06", "open": 10, "high": 11, "low": 9, "close": 10, "volume": 100}
        ],
        "source": "test",
    },
    ("PUT", "/api/v1/preferences"): {
        "default_strategy": "wheel",
        "morning_alert": True,
        "eod_summary": False,
        "notification_channels": ["push"],
        "discord_webhook_url": None,
    },
    ("PUT", "/api/v1/positions"): {
        "positions": [{"symbol": "AAPL", "quantity": 100, "average_cost": 187.25, "position_type": "stock"}],
        "full_sync": False,
    },
    ("POST", "/api/v1/analyses"): {
        "symbol": "AAPL",
        "type": "chart",
        "params": {"lookback_days": 90},
        "result": {"trend": "up", "score": 0.8},
        "recommendation": "neutral",
    },
    ("POST", "/api/v1/alerts"): {"symbol": "AAPL", "alert_type": "price", "condition": "above", "threshold": 200},
    ("POST", "/api/v1/journal"): {
        "symbol": "AAPL",
        "strategy": "long stock",
        "legs": [{"type": "put", "side": "sell", "strike": 95, "expiration": "2025-04-17"}],
        "quantity": 10,
        "entry_date": "2025-03-03",
        "entry_price": 100,
        "notes": "n",
    },
    ("POST", "/api/v1/exports"): {"dataset": "journal", "format": "csv"},
    ("POST", "/api/v1/analyses/run"): {"symbols": ["AAPL"]},
    ("POST", "/api/v1/knowledge"): {"title": "Error texts", "text": "A document.", "tags": ["notes"]},
}
# Operations that need a scope a user token lacks.
SERVICE_OPERATIONS = {("PUT", "/api/v1/quotes"), ("PUT", "/api/v1/chains"), ("PUT", "/api/v1/company")}
SERVICE_OPERATIONS |= {("PUT", "/api/v1/bars")}
ADMIN_OPERATIONS = {("POST", "/api/v1/jobs/{job_type}/run")}
# Operations that end the session asking (or erase its user): each request gets a user of its own.
SESSION_ENDING_OPERATIONS = {("POST", "/auth/logout"), ("DELETE", "/api/v1/me")}
# Operations that enqueue work when they succeed: only their refusals are driven, so the shared queues stay empty.
# (Those that start a workflow run are driven whole: a spoiled body that is still valid starts a short run.)
ENQUEUING_OPERATIONS = {("POST", "/api/v1/jobs/{job_type}/run"), ("POST", "/api/v1/screeners/{name}/run")}
# The auth function's two steps are not in the api function's document.
SIGN_IN_OPERATIONS = (("GET", "/auth/login", ()), ("GET", "/auth/callback", ("state", "code", "error")))


class Operation(NamedTuple):
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body: dict[str, Any] | None


class Request(NamedTuple):
    operation: Operation
    path: str
    query: dict[str, str]
    body: str | None
    what: str


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            key = (method.upper(), path)
            yield Operation(
                method.upper(),
                path,
                tuple(p["name"] for p in parameters if p["in"] == "path"),
                tuple(p["name"] for p in parameters if p["in"] == "query"),
                VALID_BODIES.get(key) if "requestBody" in operation else None,
            )


def _spoiled_bodies(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """``body`` with one field replaced, for each field and each spoiled value; the first value of an object field
    and the fields of a list's first object too."""
    for field, value in body.items():
        for spoiled in SPOILED_VALUES:
            yield f"body.{field}={spoiled!r:.20}", {**body, field: spoiled}
        if isinstance(value, dict) and value:
            inner = next(iter(value))
            for spoiled in SPOILED_VALUES:
                yield f"body.{field}.{inner}={spoiled!r:.20}", {**body, field: {**value, inner: spoiled}}
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for inner in value[0]:
                for spoiled in SPOILED_VALUES:
                    element = {**value[0], inner: spoiled}
                    yield f"body.{field}[0].{inner}={spoiled!r:.20}", {**body, field: [element, *value[1:]]}


def requests(operation: Operation, valid_path: dict[str, str]) -> Iterator[Request]:
    def path(**values: str) -> str:
        filled = operation.path
        for name in operation.path_params:
            filled = filled.replace("{" + name + "}", values.get(name, valid_path[name]))
        return filled

    valid_body = json.dumps(operation.body) if operation.body is not None else None
    for name in operation.path_params:
        for spoiled in SPOILED_PATH_VALUES:
            yield Request(operation, path(**{name: spoiled}), {}, valid_body, f"path {name}={spoiled:.20}")
    if (operation.method, operation.path) in ENQUEUING_OPERATIONS:
        return
    for name in operation.query_params:
        for spoiled in SPOILED_QUERY_VALUES:
            yield Request(operation, path(), {name: spoiled}, valid_body, f"query {name}={spoiled!r:.20}")
    if operation.body is None:
        return
    for raw in SPOILED_BODIES:
        yield Request(operation, path(), {}, raw, f"body {raw!r}")
    for what, body in _spoiled_bodies(operation.body):
        yield Request(operation, path(), {}, json.dumps(body), what)


def resource_names(stack: LocalStack) -> list[str]:
    """The stack's table, bucket and queue names, ARNs and endpoints: none may reach a caller."""
    names = []
    for variable, value in stack.environ.items():
        if variable.startswith("TTAI_") and variable != "TTAI_ENVIRONMENT" and len(value) > 6:
            names.append(value)
    return names


@pytest.fixture(scope="module")
def valid_path(stack: LocalStack) -> dict[str, str]:
    """Path values that name something the callers of this module own, so spoiled bodies reach the services."""
    token = stack.token_for("error-texts")
    assert stack.http("PUT", "/api/v1/watchlists/w1", token=token, json={"symbols": ["AAPL"]}).status == 200
    screener = VALID_BODIES[("PUT", "/api/v1/screeners/{name}")]
    assert stack.http("PUT", "/api/v1/screeners/w1", token=token, json=screener).status == 200
    alert = stack.http("POST", "/api/v1/alerts", token=token, json=VALID_BODIES[("POST", "/api/v1/alerts")])
    entry = stack.http("POST", "/api/v1/journal", token=token, json=VALID_BODIES[("POST", "/api/v1/journal")])
    analysis = stack.http("POST", "/api/v1/analyses", token=token, json=VALID_BODIES[("POST", "/api/v1/analyses")])
    assert (alert.status, entry.status, analysis.status) == (201, 201, 201), (alert.body, entry.body, analysis.body)
    positions = VALID_BODIES[("PUT", "/api/v1/positions")]
    assert stack.http("PUT", "/api/v1/positions", token=token, json=positions).status == 200
    position = stack.http("GET", "/api/v1/positions", token=token).body["items"][0]["id"]
    return {
        "symbol": "AAPL",
        "name": "w1",
        "alert_id": str(alert.body["id"]),
        "entry_id": str(entry.body["id"]),
        "analysis_id": str(analysis.body["id"]),
        "position_id": str(position),
        "execution_id": "1",
        "job_type": "analysis",
        "run_id": f"analysis-{uuid.uuid4().hex}",  # a well-formed id of no run: the status route's refusal
    }


@pytest.fixture(scope="module")
def document(stack: LocalStack) -> dict[str, Any]:
    status, _, body = stack.http("GET", "/openapi.json", token=stack.token_for("error-texts"))
    assert status == 200
    return dict(body)


def test_every_operation_with_a_body_has_a_valid_one_here(document: dict[str, Any]) -> None:
    missing = [
        f"{op.method} {op.path}"
        for op in operations(document)
        if op.body is None and "requestBody" in document["paths"][op.path][op.method.lower()]
    ]
    assert missing == [], "add a valid body to VALID_BODIES for these, so their fields are driven too"


def _token(stack: LocalStack, operation: Operation, tokens: dict[str, str]) -> str:
    key = (operation.method, operation.path)
    if key in SESSION_ENDING_OPERATIONS:
        return stack.token_for(f"error-texts-{uuid.uuid4().hex[:8]}")
    if key in SERVICE_OPERATIONS:
        return tokens["service"]
    if key in ADMIN_OPERATIONS:
        return tokens["admin"]
    return tokens["user"]


def _problem(request: Request, status: int, body: Any, backend: list[str]) -> str | None:
    where = f"{request.operation.method} {request.operation.path} with {request.what}: {status}"
    if status >= 500:
        return f"{where} (a caller's input answered a server error) {body}"
    if status < 400:
        return None
    if not (isinstance(body, dict) and isinstance(body.get("error"), dict) and "code" in body["error"]):
        return f"{where} without the standard error body: {body!r:.300}"
    text = json.dumps(body, ensure_ascii=False)
    found = BACKEND_TEXT.search(text) or next((re.search(re.escape(n), text) for n in backend if n in text), None)
    return f"{where} carries backend text {found.group(0)!r}: {text:.300}" if found else None


@pytest.mark.slow
def test_no_error_a_caller_can_reach_carries_backend_text_or_is_a_5xx(
    stack: LocalStack, document: dict[str, Any], valid_path: dict[str, str]
) -> None:
    tokens = {
        "user": stack.token_for("error-texts"),
        "service": stack.token_for("error-texts-service", scopes=("service",)),
        "admin": stack.token_for("error-texts-admin", scopes=("admin",)),
    }
    backend = resource_names(stack)
    problems: list[str] = []
    statuses: dict[int, int] = {}
    for operation in operations(document):
        for request in requests(operation, valid_path):
            headers = {"content-type": "application/json"} if request.body is not None else None
            status, _, body = stack.http(
                operation.method,
                request.path,
                token=_token(stack, operation, tokens),
                query=request.query,
                body=request.body,
                headers=headers,
            )
            statuses[status] = statuses.get(status, 0) + 1
            if problem := _problem(request, status, body, backend):
                problems.append(problem)
    for method, path, params in SIGN_IN_OPERATIONS:
        operation = Operation(method, path, (), params, None)
        for request in requests(operation, valid_path):
            status, _, body = stack.http(method, path, query=request.query)
            statuses[status] = statuses.get(status, 0) + 1
            if problem := _problem(request, status, body, backend):
                problems.append(problem)
    # The run reached past validation: refusals of several kinds, and successes of spoiled-but-valid input.
    assert {400, 404, 422} <= statuses.keys(), statuses
    assert statuses.get(200, 0) + statuses.get(201, 0) > 0, statuses
    assert problems == [], "\n".join(problems)
