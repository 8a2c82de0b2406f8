"""``ttai routes``: every HTTP route with its handler's file:line and the Lambda function that serves it, as the gateway
and each function's resolver decide it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from local import routes as routes_module
from local.cli import main
from local.gateway import PUBLIC_ROUTES, ROUTES, Route
from local.routes import ROOT, HttpRoute, http_routes
from ttai.http.app import create_app
from ttai.http.openapi import PUBLIC_OPERATIONS


@pytest.fixture(scope="module")
def listed() -> list[HttpRoute]:
    return http_routes()


def _openapi_operations() -> set[tuple[str, str]]:
    app = create_app()
    app.load_routes()
    document = json.loads(app.get_openapi_json_schema(title="t", version="1"))
    return {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}


def test_every_operation_of_the_api_document_is_listed_as_served_by_the_api_function(listed: list[HttpRoute]) -> None:
    by_route = {(r.method, r.path): r for r in listed}
    operations = _openapi_operations()
    assert operations <= by_route.keys()
    assert all(by_route[operation].function == "api" for operation in operations)
    # Besides the document: the auth function's routes (sign-in, the broker sync), the document itself and the
    # dashboard's files.
    assert by_route.keys() - operations == {
        ("GET", "/auth/login"),
        ("GET", "/auth/callback"),
        ("POST", "/api/v1/positions/sync"),
        ("GET", "/openapi.json"),
        ("GET", "/dashboard"),
        ("GET", "/dashboard/app.js"),
        ("GET", "/dashboard/app.css"),
    }
    assert len(by_route) == len(listed)  # no route twice


def test_each_route_names_the_function_and_access_the_gateway_gives_it(listed: list[HttpRoute]) -> None:
    functions = {(r.method, r.path): r.function for r in listed}
    assert functions[("GET", "/auth/login")] == functions[("GET", "/auth/callback")] == "auth"
    assert functions[("POST", "/api/v1/positions/sync")] == "auth"  # it opens the broker tokens only auth may read
    assert functions[("POST", "/auth/logout")] == "api"
    assert {(r.method, r.path) for r in listed if r.public} == set(PUBLIC_ROUTES) == PUBLIC_OPERATIONS
    # The auth function's resolver also declares /openapi.json, but the gateway sends that path to the api function.
    assert [r.function for r in listed if r.path == "/openapi.json"] == ["api"]


def test_each_handler_location_is_the_def_of_that_handler(listed: list[HttpRoute]) -> None:
    for route in listed:
        assert route.handler is not None, route
        assert route.name is not None, route
        file, line = route.handler.rsplit(":", 1)
        assert not Path(file).is_absolute(), route.handler
        source = (ROOT / file).read_text(encoding="utf-8").splitlines()[int(line) - 1]
        assert re.match(r"\s*def \w+\(", source), (route, source)
    # Routes written out in their module point at it; a collection's routes at the handlers they share.
    where = {(r.method, r.path): (r.name, str(r.handler).split(":")[0]) for r in listed}
    assert where[("POST", "/auth/logout")] == ("logout", "layers/ttai/http/routes/auth.py")
    assert where[("GET", "/api/v1/watchlists")] == ("list_watchlists", "layers/ttai/http/named.py")


def test_the_command_prints_a_table_and_json(capsys: pytest.CaptureFixture[str], listed: list[HttpRoute]) -> None:
    assert main(["routes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["METHOD", "PATH", "HANDLER", "FUNCTION", "ACCESS"]
    assert len(lines) == 1 + len(listed)
    logout = next(line for line in lines if " /auth/logout " in line).split()
    assert logout[0] == "POST"
    assert logout[3:] == ["logout", "api", "token"]
    assert logout[2].startswith("layers/ttai/http/routes/auth.py:")
    assert main(["routes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [route._asdict() for route in listed]


def test_a_gateway_route_no_handler_answers_is_listed_and_fails_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    orphan = Route("GET", "/auth/nowhere", "auth", authorized=False)
    monkeypatch.setattr(routes_module, "ROUTES", (orphan, *ROUTES))
    assert HttpRoute("GET", "/auth/nowhere", None, None, "auth", True) in http_routes()
    assert main(["routes"]) == 1
    captured = capsys.readouterr()
    assert "(no handler)" in captured.out
    assert "no handler answers GET /auth/nowhere (auth)" in captured.err
