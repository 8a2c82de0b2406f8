"""Every HTTP route the stack serves, as ``ttai routes`` prints it: method, path, handler (file:line and name), and the
Lambda function behind it.

Read from what decides it, not from a list of its own: the gateway's route table (``local.gateway.ROUTES``, which
tests/infra/test_local_parity.py holds to the deployed HTTP API) says which function a request reaches and whether the
authorizer runs first; each function's resolver (the ``app`` of ``functions/<function>/index.py``, every lazy router
of ``API_ROUTERS`` loaded) says which handler answers it. A route a resolver declares but the gateway never sends it
(the auth function's own /openapi.json) is left out; a route the gateway sends to a function that has no handler for
it is listed with none, and the command then fails. WebSocket routes join the table when the WebSocket API is wired.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from local.gateway import ROUTES, match_route

ROOT = Path(__file__).resolve().parents[1]
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ANY")
_DEF = re.compile(r"^\s*(async\s+)?def\s")


class HttpRoute(NamedTuple):
    method: str
    path: str  # as the OpenAPI document writes it: /api/v1/watchlists/{name}
    handler: str | None  # file:line of the handler's def, relative to the project; None when no handler answers
    name: str | None  # the handler's name (the OpenAPI operation id starts with it)
    function: str  # the Lambda function: api, auth
    public: bool  # served without the authorizer

    @property
    def order(self) -> tuple[str, int]:
        return self.path, _METHODS.index(self.method) if self.method in _METHODS else len(_METHODS)


def handler_location(func: Callable[..., Any]) -> str:
    """``file:line`` of the ``def`` of ``func`` (past its decorators), relative to the project when it is in it."""
    lines, first = inspect.getsourcelines(func)
    offset = next(i for i, line in enumerate(lines) if _DEF.match(line))
    path = Path(inspect.getsourcefile(func) or func.__code__.co_filename).resolve()
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{shown}:{first + offset}"


def _resolver_routes(function: str) -> Iterable[tuple[str, str, Callable[..., Any]]]:
    """(method, OpenAPI path, handler) of every route the function's resolver declares."""
    app = importlib.import_module(f"functions.{function}.index").app
    load_routes = getattr(app, "load_routes", None)
    if load_routes is not None:  # the api function's resolver imports its routers lazily
        load_routes()
    for route in (*app._static_routes, *app._dynamic_routes):  # Powertools keeps them nowhere public
        yield route.method, route.openapi_path, route.func


def http_routes() -> list[HttpRoute]:
    """Every route API Gateway serves (the greedy route expanded into the api function's own), by path and method."""
    found: list[HttpRoute] = []
    served: set[tuple[str, str]] = set()
    for function in sorted({route.function for route in ROUTES}):
        for method, path, func in _resolver_routes(function):
            gateway = match_route(method, path)
            if gateway.function != function:
                continue  # the gateway sends this request elsewhere: it never reaches this handler
            served.add((method, path))
            found.append(
                HttpRoute(method, path, handler_location(func), func.__name__, function, not gateway.authorized)
            )
    for route in ROUTES:
        if "{proxy+}" not in route.path and (route.method, route.path) not in served:
            found.append(HttpRoute(route.method, route.path, None, None, route.function, not route.authorized))
    return sorted(found, key=lambda route: route.order)


def table(routes: list[HttpRoute]) -> str:
    """The routes as aligned columns: METHOD PATH HANDLER FUNCTION ACCESS."""
    rows = [("METHOD", "PATH", "HANDLER", "FUNCTION", "ACCESS")]
    for route in routes:
        handler = f"{route.handler} {route.name}" if route.handler else "(no handler)"
        rows.append((route.method, route.path, handler, route.function, "public" if route.public else "token"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]) for row in rows
    )


def as_json(routes: list[HttpRoute]) -> str:
    return json.dumps([route._asdict() for route in routes], indent=2)
