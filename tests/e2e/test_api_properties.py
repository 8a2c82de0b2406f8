"""Property-based run over every operation of the published OpenAPI document, through the dev server.

Schemathesis generates valid and invalid requests from ``GET /openapi.json`` and sends them over real HTTP on
loopback; every response must be a non-5xx whose status, content type and body the document declares, and no
refusal may carry backend text (tests/error_texts.py).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.stack import free_port
from tests.e2e.devserver import ROOT, STARTUP_LIMIT_S, DevServer, call, stop, wait_for_health
from tests.error_texts import BACKEND_TEXT
from ttai.auth.sessions import SessionStore
from ttai.env import Env

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30  # per operation and phase; the whole module stays well under 90 s on two cores
SEED = 20261120

# The ingest routes need the service scope; a user token would only ever reach their 403.
SERVICE_OPERATIONS = {("PUT", "/api/v1/quotes"), ("PUT", "/api/v1/chains"), ("PUT", "/api/v1/company")}
# Running a job needs the admin scope.
ADMIN_OPERATIONS = {("POST", "/api/v1/jobs/{job_type}/run")}
# Logging out revokes the token that asks, and erasing the account ends every session of its user: each of their
# cases gets a session of its own.
SESSION_ENDING_OPERATIONS = {("POST", "/auth/logout"), ("DELETE", "/api/v1/me")}
ApiCase = schemathesis.Case[schemathesis.APIOperation[Any, Any, Any, Any]]


def _sent(value: Any) -> Iterator[str]:
    """Every string in a request part: values, and the keys of objects."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _sent(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _sent(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _unechoed(text: str, case: ApiCase) -> str:
    """``text`` without what the caller sent (path, query and body strings, as sent or quoted): a refusal may name
    what it refuses ("no screener named 'sqlstate'"), and hypothesis draws such strings from the constants of the
    code, backend words among them."""
    sent = {v for part in (case.path_parameters, case.query, case.body) for v in _sent(part) if len(v) > 1}
    for value in sorted(sent, key=len, reverse=True):
        for form in (json.dumps(repr(value))[1:-1], json.dumps(value)[1:-1], repr(value), value):
            text = text.replace(form, "")
    return text


@schemathesis.check
def no_backend_text(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: ApiCase) -> None:
    """A refusal's body names nothing behind the API (AWS or PostgreSQL text, botocore classes, the bindings)."""
    found = BACKEND_TEXT.search(_unechoed(response.text, case)) if 400 <= response.status_code < 500 else None
    if found:
        raise AssertionError(f"{case.operation.label} answered {response.status_code} with {found.group(0)!r}")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    no_backend_text,
]


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("properties")
    state_file = workdir / "state.json"
    # A file, not a pipe: the server logs a line per request, and an unread pipe fills and stalls it.
    log = workdir / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local.dev",
                *("--port", str(port), "--state-file", str(state_file), "--data-dir", str(workdir / "pgdata")),
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, STARTUP_LIMIT_S)
        yield DevServer(process, url, port, json.loads(state_file.read_text()), state_file)
    finally:
        stop(process)
        tracebacks = log.read_text().count("Traceback")
        if tracebacks:
            print(f"dev server log {log} holds {tracebacks} traceback(s)")


@pytest.fixture(scope="module")
def sessions(dev_server: DevServer) -> Iterator[SessionStore]:
    """Sessions on the running stack, as ``ttai token`` opens them (boto3 reads the stack's endpoints)."""
    environ: dict[str, str] = dev_server.state["environ"]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        yield SessionStore(Env.from_environ(environ))


# Market data for the symbol the document's examples name, so that reads of it answer 200 and their bodies are
# checked too (every other symbol is a 404: nothing generated is in the cache).
SEEDED = (
    ("/api/v1/quotes", {"quotes": [{"symbol": "AAPL", "last": 190.5, "updated_at": "2026-11-20T15:00:00Z"}]}),
    ("/api/v1/chains", {"symbol": "AAPL", "contracts": [], "updated_at": "2026-11-20T15:00:00Z"}),
    ("/api/v1/company", {"symbol": "AAPL", "name": "Apple Inc.", "updated_at": "2026-11-20T15:00:00Z"}),
)


@pytest.fixture(scope="module")
def api_schema(dev_server: DevServer) -> schemathesis.BaseSchema:
    for path, body in SEEDED:
        assert call(f"{dev_server.url}{path}", "PUT", dev_server.state["service_token"], body)[0] == 200, path
    status, document = call(f"{dev_server.url}/openapi.json", token=dev_server.state["user_token"])
    assert status == 200
    config = schemathesis.Config.from_dict(
        {
            "base-url": dev_server.url,
            "seed": SEED,
            # The bearer token is ours to send; generated Authorization values would only test the authorizer.
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "with-security-parameters": False},
            "request-timeout": 10,
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # Schemathesis 4.32 renames each operation's subtest through ``node._nodeid``, which pytest 9.2 no longer has.
    setattr(request.node, "_nodeid", request.node.nodeid)  # noqa: B010 - a private name pytest no longer defines


@functools.cache
def admin_token(sessions: SessionStore) -> str:
    return sessions.open("properties-admin", scopes=("admin",)).token


def _token(case: ApiCase, dev_server: DevServer, sessions: SessionStore) -> str:
    key = (case.method.upper(), case.path)
    if key in SESSION_ENDING_OPERATIONS:
        return sessions.open("properties-logout").token
    if key in SERVICE_OPERATIONS:
        return str(dev_server.state["service_token"])
    if key in ADMIN_OPERATIONS:
        return admin_token(sessions)
    return str(dev_server.state["user_token"])


@pytest.fixture(scope="module")
def statuses() -> Iterator[dict[str, Counter[int]]]:
    """The statuses each operation answered, printed at the end: proof the run reached past validation."""
    seen: dict[str, Counter[int]] = defaultdict(Counter)
    started = time.monotonic()
    yield seen
    requests = sum(counts.total() for counts in seen.values())
    print(f"\n{requests} requests over {len(seen)} operations in {time.monotonic() - started:.0f} s")
    for label, counts in sorted(seen.items()):
        print(f"  {label:<45} {dict(sorted(counts.items()))}")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None)
def test_every_operation_answers_as_documented(
    case: ApiCase, dev_server: DevServer, sessions: SessionStore, statuses: dict[str, Counter[int]]
) -> None:
    token = _token(case, dev_server, sessions)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
    statuses[case.operation.label][response.status_code] += 1
    # Every case carries a valid token with the scope its operation needs: a 401 or 403 means it never got in.
    assert response.status_code not in {401, 403}, f"{case.operation.label} refused the token: {response.text}"
