"""What the OpenAPI document says beyond each route's return type: the error bodies, who answers with them, and
how one operation's answer names what another reads.

Routes declare the statuses their own services raise (``responses(HTTPStatus.NOT_FOUND)``); ``complete`` adds
the ones every operation shares: API Gateway's 401/403, throttle and size limits, the resolver's 415 and 422, the
per-user limits' 429, and the server errors, all with the bodies ``ttai.http.app`` actually returns; and the links
(OpenAPI 3 ``links``) from each operation that creates something to the operations that read, change or delete it
by the id or name it answers.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, NamedTuple

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict

from ttai.http.validation import BODY_METHODS

COMPONENTS = "#/components/schemas/"
BEARER = "bearerAuth"
# The operations API Gateway serves without the authorizer; infra/constructs/http_api.py and local/gateway.py
# declare the same public routes (tests/infra/test_local_parity.py keeps the three in step).
PUBLIC_OPERATIONS = frozenset({("GET", "/health"), ("GET", "/auth/login"), ("GET", "/auth/callback")}) | frozenset(
    # The jobs dashboard's static files (not in the document: they are a page, not API operations).
    {("GET", "/dashboard"), ("GET", "/dashboard/app.js"), ("GET", "/dashboard/app.css")}
)


class _Documented(BaseModel):
    # Only the document builds these (on a request for it), so a cold start does not pay for them.
    model_config = ConfigDict(defer_build=True)


class FieldError(_Documented):
    field: str
    message: str
    type: str | None = None


class ErrorBody(_Documented):
    code: str
    message: str
    fields: list[FieldError] | None = None


class ErrorResponse(_Documented):
    """What ``ttai.http.app`` answers for every error it maps."""

    error: ErrorBody


class GatewayError(_Documented):
    """What API Gateway itself answers (no token, a denial, a payload too large, a function that failed)."""

    message: str


class Link(NamedTuple):
    """A link from a success answer to the operation that takes the id (or name) it holds as a path parameter."""

    method: str
    path: str
    parameter: str  # the target's path parameter
    field: str  # the answer's field that holds its value

    @property
    def name(self) -> str:
        words = [part.title() for part in self.path.split("/") if part not in {"", "api", "v1"} and "{" not in part]
        return self.method.capitalize() + "".join(words)


_WORKFLOW_RUN = Link("GET", "/api/v1/workflows/{run_id}", "run_id", "id")
# (method, path) of an operation that creates something -> the operations that follow it on what it created.
LINKS: dict[tuple[str, str], tuple[Link, ...]] = {
    ("POST", "/api/v1/journal"): (Link("PATCH", "/api/v1/journal/{entry_id}", "entry_id", "id"),),
    ("POST", "/api/v1/alerts"): (
        Link("GET", "/api/v1/alerts/{alert_id}/events", "alert_id", "id"),
        Link("DELETE", "/api/v1/alerts/{alert_id}", "alert_id", "id"),
    ),
    ("POST", "/api/v1/analyses"): (Link("GET", "/api/v1/analyses/{analysis_id}", "analysis_id", "id"),),
    ("PUT", "/api/v1/watchlists/{name}"): (
        Link("GET", "/api/v1/watchlists/{name}", "name", "name"),
        Link("DELETE", "/api/v1/watchlists/{name}", "name", "name"),
    ),
    ("PUT", "/api/v1/screeners/{name}"): (
        Link("GET", "/api/v1/screeners/{name}", "name", "name"),
        Link("GET", "/api/v1/screeners/{name}/results", "name", "name"),
        Link("POST", "/api/v1/screeners/{name}/run", "name", "name"),
        Link("DELETE", "/api/v1/screeners/{name}", "name", "name"),
    ),
    # Workflows started by a request: their run's status by the id the 202 answers.
    ("POST", "/api/v1/analyses/run"): (_WORKFLOW_RUN,),
    ("POST", "/api/v1/screeners/{name}/run"): (_WORKFLOW_RUN,),
    ("POST", "/api/v1/exports"): (_WORKFLOW_RUN,),
    ("GET", "/api/v1/me/export"): (_WORKFLOW_RUN,),
}


def _operation_ref(method: str, path: str) -> str:
    """A JSON pointer to an operation of this document (RFC 6901 escapes '~' and '/')."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


def _add_links(paths: dict[str, Any]) -> None:
    for (method, path), links in LINKS.items():
        operation = paths.get(path, {}).get(method.lower())
        if operation is None:
            continue  # a document of some of the routes (a test's resolver) has only what it declares
        success = next(status for status in operation["responses"] if status.startswith("2"))
        operation["responses"][success]["links"] = {
            link.name: {
                "operationRef": _operation_ref(link.method, link.path),
                "parameters": {link.parameter: f"$response.body#/{link.field}"},
            }
            for link in links
            if link.method.lower() in paths.get(link.path, {})
        }


def _content(*models: type[BaseModel]) -> dict[str, Any]:
    refs = [{"$ref": f"{COMPONENTS}{model.__name__}"} for model in models]
    return {"application/json": {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}}


def responses(*errors: HTTPStatus, success: HTTPStatus = HTTPStatus.OK) -> dict[int, OpenAPIResponse]:
    """A route decorator's ``responses``: its success (schema from the return annotation) and its own errors."""
    documented: dict[int, OpenAPIResponse] = {success.value: {"description": success.phrase}}
    if success == HTTPStatus.NO_CONTENT:
        documented[success.value]["content"] = {}
    for status in errors:
        documented[status.value] = {"description": status.phrase, "content": _content(ErrorResponse)}
    return documented


def _shared_errors(method: str, path: str, operation: dict[str, Any]) -> dict[HTTPStatus, dict[str, Any]]:
    shared = {
        HTTPStatus.REQUEST_URI_TOO_LONG: _content(GatewayError),
        HTTPStatus.UNPROCESSABLE_ENTITY: _content(ErrorResponse),
        HTTPStatus.INTERNAL_SERVER_ERROR: _content(ErrorResponse, GatewayError),
        HTTPStatus.TOO_MANY_REQUESTS: _content(GatewayError),  # the stage's throttle
    }
    if (method.upper(), path) not in PUBLIC_OPERATIONS:
        # The caller's own bucket too (ttai.http.limits), and a session ended while the authorizer's answer is cached.
        shared[HTTPStatus.TOO_MANY_REQUESTS] = _content(ErrorResponse, GatewayError)
        shared[HTTPStatus.UNAUTHORIZED] = _content(ErrorResponse, GatewayError)
        shared[HTTPStatus.FORBIDDEN] = _content(ErrorResponse, GatewayError)
        shared[HTTPStatus.SERVICE_UNAVAILABLE] = _content(ErrorResponse, GatewayError)
    if "requestBody" in operation:
        # Ours over BODY_MAX_BYTES, API Gateway's own over its 10 MB payload limit.
        shared[HTTPStatus.REQUEST_ENTITY_TOO_LARGE] = _content(ErrorResponse, GatewayError)
    if method.upper() in BODY_METHODS:
        shared[HTTPStatus.UNSUPPORTED_MEDIA_TYPE] = _content(ErrorResponse)
    return shared


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (as Powertools generates it) with the bearer scheme and the errors every operation shares."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for model in (ErrorResponse, GatewayError):
        schema = model.model_json_schema(ref_template=COMPONENTS + "{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    components["securitySchemes"] = {BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    document["security"] = [{BEARER: []}]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if (method.upper(), path) in PUBLIC_OPERATIONS:
                operation["security"] = []
            for status, content in _shared_errors(method, path, operation).items():
                # Powertools documents its own 422 body; ours is the error mapping's (app.invalid_request).
                operation["responses"][str(status.value)] = {"description": status.phrase, "content": content}
    _add_links(document.get("paths", {}))
    # Powertools' validation bodies are no longer referenced once every 422 is ours.
    for name in ("HTTPValidationError", "ValidationError"):
        if f'"{COMPONENTS}{name}"' not in json.dumps(document):
            schemas.pop(name, None)
    return document
