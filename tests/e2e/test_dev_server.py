"""`make dev` as a developer uses it: a real process, real HTTP on loopback, Ctrl-C to stop."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.stack import free_port
from tests.e2e.devserver import ROOT, STARTUP_LIMIT_S, DevServer, call, running_dev_server


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    with running_dev_server(tmp_path_factory.mktemp("dev")) as server:
        yield server


def test_health_answers_without_a_token(dev_server: DevServer) -> None:
    assert call(f"{dev_server.url}/health") == (200, {"status": "ok"})


def test_a_quote_put_with_a_service_token_is_readable_with_a_user_token(dev_server: DevServer) -> None:
    quote = {"symbol": "TSLA", "last": 250.5, "volume": 1000, "updated_at": "2026-11-20T15:00:00-05:00"}
    status, body = call(
        f"{dev_server.url}/api/v1/quotes", "PUT", dev_server.state["service_token"], {"quotes": [quote]}
    )
    assert (status, body) == (200, {"stored": 1})
    status, body = call(f"{dev_server.url}/api/v1/quotes/TSLA", token=dev_server.state["user_token"])
    assert status == 200
    assert (body["symbol"], body["last"], body["volume"]) == ("TSLA", 250.5, 1000)


def test_a_user_token_cannot_ingest(dev_server: DevServer) -> None:
    quote = {"symbol": "TSLA", "last": 1.0, "updated_at": "2026-11-20T15:00:00Z"}
    status, body = call(f"{dev_server.url}/api/v1/quotes", "PUT", dev_server.state["user_token"], {"quotes": [quote]})
    assert status == 403
    assert body["error"]["code"] == "forbidden"


def test_requests_without_a_token_are_refused(dev_server: DevServer) -> None:
    assert call(f"{dev_server.url}/api/v1/quotes/TSLA")[0] == 403  # denied by the authorizer, called every time


def test_the_ttai_command_mints_a_working_token_on_the_running_stack(dev_server: DevServer) -> None:
    minted = subprocess.run(
        [sys.executable, "-m", "local.cli", "--state-file", str(dev_server.state_file), "token", "user-9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert call(f"{dev_server.url}/api/v1/quotes/NONE", token=minted)[0] == 404


def test_ttai_migrate_finds_the_running_database_up_to_date(dev_server: DevServer) -> None:
    output = subprocess.run(
        [sys.executable, "-m", "local.cli", "--state-file", str(dev_server.state_file), "migrate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "applied nothing" in output


def test_sign_in_through_the_stand_in_tastytrade_over_real_http(dev_server: DevServer) -> None:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    location = f"{dev_server.url}/auth/login"
    for _ in range(2):  # our /auth/login, then the provider's authorize page
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(location, timeout=10)
        assert redirect.value.code == 302
        location = redirect.value.headers["Location"]
    assert location.startswith(f"{dev_server.url}/auth/callback?")
    status, body = call(location)
    assert status == 200
    assert call(f"{dev_server.url}/api/v1/me", token=body["token"])[1]["email"] == "trader@example.com"


@pytest.mark.parametrize("method", ["TRACE", "QUERY"])
def test_methods_http_server_has_no_handler_for_reach_the_gateway(dev_server: DevServer, method: str) -> None:
    # http.server alone answers them 501 Not Implemented; the gateway routes them like any other (no such route).
    status, body = call(f"{dev_server.url}/api/v1/quotes", method, dev_server.state["user_token"])
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_a_request_line_too_long_is_a_414_in_json(dev_server: DevServer) -> None:
    status, body = call(f"{dev_server.url}/api/v1/quotes?symbols={'A' * 70_000}", token=dev_server.state["user_token"])
    assert (status, body) == (414, {"message": "Request-URI Too Long"})


RUNS: dict[str, str] = {}  # a workflow run started before the restart below


def _ttai(dev_server: DevServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.cli", "--state-file", str(dev_server.state_file), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _finished(url: str, token: str, run_id: str, limit: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        status, body = call(f"{url}/api/v1/workflows/{run_id}", token=token)
        assert status == 200, body
        if body["status"] in {"complete", "errored", "terminated"}:
            return dict(body)
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_an_analysis_runs_in_the_background_and_ttai_workflows_shows_it(dev_server: DevServer) -> None:
    from local.demo import DEMO_SYMBOLS  # noqa: PLC0415

    token = dev_server.state["user_token"]
    symbols = list(DEMO_SYMBOLS)[:3]
    status, started = call(f"{dev_server.url}/api/v1/analyses/run", "POST", token, {"symbols": symbols})
    assert status == 202, started
    run = _finished(dev_server.url, token, started["id"])
    assert [a["symbol"] for a in run["output"]["analyses"]] == symbols  # the demo bars make_dev loaded

    listed = _ttai(dev_server, "workflows", "list")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if started["id"] in line]
    assert row.split()[::2] == ["analysis", "complete"]  # workflow, id, status, created
    shown = _ttai(dev_server, "workflows", "status", started["id"])
    assert json.loads(shown.stdout)["status"] == "complete"
    refused = _ttai(dev_server, "workflows", "terminate", started["id"])
    assert refused.returncode == 1
    assert "finite state" in refused.stderr
    RUNS["analysis"] = started["id"]


def test_ctrl_c_stops_it_cleanly(dev_server: DevServer) -> None:
    # Runs last in this module: it ends the shared server.
    dev_server.process.send_signal(signal.SIGINT)
    output, _ = dev_server.process.communicate(timeout=30)
    assert dev_server.process.returncode == 0, output
    assert "stopped" in output
    assert not dev_server.state_file.exists()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", dev_server.port)) != 0, "the port is still open"


def test_workflow_runs_survive_a_restart(dev_server: DevServer) -> None:
    # After the Ctrl-C above: the same data directory (PostgreSQL, and the workflows beside it) in a new process.
    assert dev_server.process.poll() is not None
    with running_dev_server(dev_server.state_file.parent) as again:
        token = again.state["user_token"]  # dev-user again, as before
        run = _finished(again.url, token, RUNS["analysis"])
        assert run["status"] == "complete"
        assert len(run["output"]["analyses"]) == 3


def test_a_data_dir_from_another_postgres_major_stops_it_with_what_to_do(tmp_path: Path) -> None:
    # Given a data directory an 18 server made (the first thing read, so its marker file is all it takes)
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("18\n")
    # When make dev starts over it
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "local.dev",
            *("--port", str(free_port()), "--state-file", str(tmp_path / "state.json"), "--data-dir", str(pgdata)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=STARTUP_LIMIT_S,
    )
    # Then it stops, saying why and what to do, without a traceback and without touching the folder
    assert result.returncode == 1
    assert "holds a PostgreSQL 18 database, and the embedded server is PostgreSQL 16" in result.stderr
    assert "Move or delete that folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert [p.name for p in pgdata.iterdir()] == ["PG_VERSION"]
    assert not (tmp_path / "state.json").exists()
