"""The api function's resolver: routes, OpenAPI, and the one place errors become statuses."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NamedTuple

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError

from ttai.bindings.d1_errors import D1ConstraintError
from ttai.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidField,
    NotFound,
    Throttled,
    Unauthorized,
    Unavailable,
    describe_error,
)
from ttai.http import limits
from ttai.http.csrf import forged_write_refusal
from ttai.http.validation import load_json_body, unreadable_body
from ttai.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

TITLE = "TTAI API"
VERSION = "1.0.0"


def _error(status: HTTPStatus, code: str, message: str, **extra: Any) -> Response[Any]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message, **extra}},
    )


def _field_errors(errors: Any) -> list[dict[str, Any]]:
    fields = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        fields.append({"field": ".".join(loc), "message": str(error.get("msg", "invalid")), "type": error.get("type")})
    return fields


# Typed errors the caller can act on: status and code; the message is the exception's own text, written for them.
# Nothing else reaches a caller with its text: an Unavailable is a 503 built from its dependency, anything else
# (an untranslated BindingError, a D1Error, botocore's errors, any Exception) a 500 with a correlation id.
CLIENT_ERRORS: dict[type[Exception], tuple[HTTPStatus, str]] = {
    BadRequest: (HTTPStatus.BAD_REQUEST, "bad_request"),
    NotFound: (HTTPStatus.NOT_FOUND, "not_found"),
    Unauthorized: (HTTPStatus.UNAUTHORIZED, "unauthorized"),
    Forbidden: (HTTPStatus.FORBIDDEN, "forbidden"),
    Conflict: (HTTPStatus.CONFLICT, "conflict"),
}
INTERNAL_ERROR_MESSAGE = "the request could not be completed; quote the correlation id when reporting it"


def _client_error(status: HTTPStatus, code: str) -> Callable[[Exception], Response[Any]]:
    def handle(exc: Exception) -> Response[Any]:
        return _error(status, code, str(exc))

    return handle


def unavailable_message(exc: Unavailable) -> str:
    """The 503's message: the dependency in the caller's words and when to retry, never the exception's text."""
    state = "is busy" if isinstance(exc, Throttled) else "is unavailable"
    unit = "second" if exc.retry_after == 1 else "seconds"
    return f"{exc.dependency} {state}; retry in {exc.retry_after} {unit}"


def _correlation_id(app: APIGatewayHttpResolver) -> str:
    """The id a caller quotes and the log carries: API Gateway's request id, else the Lambda request id."""
    try:
        request_id = app.current_event.request_context.request_id
    except (AttributeError, KeyError, TypeError):
        request_id = None
    if not request_id:
        request_id = getattr(getattr(app, "lambda_context", None), "aws_request_id", None)
    return str(request_id) if request_id else uuid.uuid4().hex


def _error_details(exc: BaseException) -> dict[str, Any]:
    """Machine-readable parts of a backend error worth a log field: PostgreSQL's SQLSTATE, AWS's error code."""
    details: dict[str, Any] = {}
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate:
        details["sqlstate"] = sqlstate
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = (response.get("Error") or {}).get("Code")
        if code:
            details["aws_error_code"] = code
    return details


class LazyRouter(NamedTuple):  # a NamedTuple: immutable, and cheaper than a dataclass to define at cold start
    """A router module the resolver imports the first time a request needs it.

    ``paths`` are the path prefixes its routes live under (a request matches one when its path equals it or
    continues it after a ``/``); tests/unit/test_lazy_routes.py checks every route of the module against them.
    """

    module: str
    prefix: str | None
    paths: tuple[str, ...]

    def serves(self, path: str) -> bool:
        return any(path == p or path.startswith(f"{p}/") for p in self.paths)

    def load(self) -> Router:
        router: Router = importlib.import_module(self.module).router
        return router


class Resolver(APIGatewayHttpResolver):
    """Powertools' resolver, refusing up front the request bodies its validation would fail on with a 500.

    Routers given as :class:`LazyRouter` are imported on the first request under their paths, so a cold start
    pays for the models and services of the route it serves, not of all of them. A request no lazy router claims
    (``/openapi.json``, an unknown path) loads them all first, so the document and the 404s see every route.
    """

    def __init__(self, *args: Any, lazy: Sequence[LazyRouter] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = list(lazy)

    def load_routes(self, path: str | None = None) -> None:
        """Include the pending routers serving ``path`` (all of them when none claims it, or path is None)."""
        if not self._pending:
            return
        wanted = [r for r in self._pending if path is not None and r.serves(path)] or list(self._pending)
        for lazy in wanted:
            self.include_router(lazy.load(), prefix=lazy.prefix)
            self._pending.remove(lazy)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        raw_path = event.get("rawPath")
        self.load_routes(raw_path if isinstance(raw_path, str) else None)
        refusal = unreadable_body(event)
        limited = limits.refusal(event, _answer)  # the caller's bucket and session: one UpdateItem, before all else
        if limited is not None:
            result = limited
        elif refusal is not None:
            result = _refusal(*refusal)
        elif (forged := forged_write_refusal(event)) is not None:  # before anything is read, kept or written
            result = forged
        else:
            # A write with an Idempotency-Key: its first answer is kept, and a retry gets it again.
            from ttai.http.idempotency import answer  # noqa: PLC0415 - light, but only the writes need it

            result = answer(event, context, lambda: super(Resolver, self).resolve(event, context), _answer)
        headers = result.setdefault("headers", {})
        for name, value in SECURITY_HEADERS.items():
            if not any(existing.lower() == name.lower() for existing in headers):
                headers[name] = value
        return result


# On every answer of the API, whatever route or error made it (a route may set a stricter one of its own, as the
# dashboard does). Browsers ignore Strict-Transport-Security on plain HTTP, so it is safe on `make dev` too.
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _refusal(status: HTTPStatus, message: str) -> dict[str, Any]:
    """The answer to a body refused before routing."""
    if status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE:
        return _answer(status, "unsupported_media_type", message)
    if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        return _answer(status, "payload_too_large", message)
    field = {"field": "body", "message": message, "type": "json_invalid"}
    return _answer(status, "validation_error", "the request is invalid", fields=[field])


def _answer(status: HTTPStatus, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """An error answered outside the routes, as Powertools' resolve would have built it."""
    response = _error(status, code, message, **extra)
    return {
        "statusCode": response.status_code,
        "headers": dict(response.headers),
        "body": json.dumps(response.body),
        "isBase64Encoded": False,
    }


def create_resolver(*routers: tuple[Router, str | None], lazy: Sequence[LazyRouter] = ()) -> Resolver:
    """A resolver with validation, the given routers (and lazy ones), /openapi.json and the shared error mapping."""
    app = Resolver(enable_validation=True, json_body_deserializer=load_json_body, lazy=lazy)
    for router, prefix in routers:
        app.include_router(router, prefix=prefix)

    @app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
    def openapi_document() -> Response[dict[str, Any]]:
        from ttai.http import openapi  # noqa: PLC0415 - only this route needs the document's models

        app.load_routes()
        document = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi.complete(document))

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response[Any]:
        return _error(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "validation_error",
            "the request is invalid",
            fields=_field_errors(exc.errors()),
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_media_type(exc: RequestUnsupportedContentType) -> Response[Any]:
        return _error(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "this API reads application/json bodies"
        )

    @app.exception_handler(InvalidField)
    def invalid_field(exc: InvalidField) -> Response[Any]:
        field = {"field": exc.field, "message": str(exc), "type": "value_error"}
        return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", "the request is invalid", fields=[field])

    for error_type, (status, code) in CLIENT_ERRORS.items():
        app.exception_handler(error_type)(_client_error(status, code))

    @app.exception_handler(D1ConstraintError)
    def conflict(exc: D1ConstraintError) -> Response[Any]:
        # A rule the request could not check by itself (a name taken, a row changed meanwhile).
        logger.info("write refused by a constraint", extra={"sqlstate": exc.sqlstate, "detail": str(exc)})
        return _error(HTTPStatus.CONFLICT, "conflict", "the change conflicts with existing data")

    @app.exception_handler(Unavailable)
    def unavailable(exc: Unavailable) -> Response[Any]:
        return _unavailable(app, exc)

    @app.exception_handler(Exception)
    def internal_error(exc: Exception) -> Response[Any]:
        # Whatever was not translated is our fault: its text (AWS messages, SQL, ARNs) goes to the log under the
        # correlation id, and the caller gets the id alone to quote.
        correlation_id = _correlation_id(app)
        transient = _untranslated_outage(exc)
        if transient is not None:
            # AWS unreachable or failing for now behind code that does not translate it (every binding does):
            # still a 503 to retry, never a 500, and logged as an error so the call site gets its translation.
            logger.error(
                "AWS failure not translated by a binding: answered 503",
                extra={"correlation_id": correlation_id, "error": describe_error(exc), **_error_details(exc)},
            )
            return _unavailable(app, transient)
        logger.error(
            "request failed: answered 500",
            extra={"correlation_id": correlation_id, "error": describe_error(exc), **_error_details(exc)},
        )
        return _error(
            HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", INTERNAL_ERROR_MESSAGE, correlation_id=correlation_id
        )

    @app.not_found
    def no_route(exc: Exception) -> Response[Any]:
        return _error(HTTPStatus.NOT_FOUND, "not_found", "no such route")

    return app


# What a 503 calls an AWS service whose failure reached the edge without a binding naming it.
UNNAMED_DEPENDENCY = "a backing service"


def _untranslated_outage(exc: Exception) -> Unavailable | None:
    """botocore's unreachable-endpoint, throttling and transient errors as ``Unavailable``; None for anything else."""
    from ttai.bindings.common import unavailable  # noqa: PLC0415 - classified on failure only

    return unavailable(exc, UNNAMED_DEPENDENCY)


def _unavailable(app: APIGatewayHttpResolver, exc: Unavailable) -> Response[Any]:
    """The 503: Retry-After, the message built from the dependency, the correlation id the log line also carries."""
    correlation_id = _correlation_id(app)
    logger.warning(
        "dependency unavailable: answered 503",
        extra={
            "correlation_id": correlation_id,
            "dependency": exc.dependency,
            "retry_after": exc.retry_after,
            "error": describe_error(exc),
        },
    )
    response = _error(
        HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", unavailable_message(exc), correlation_id=correlation_id
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


API = "/api/v1"


def _tenant(name: str) -> LazyRouter:
    return LazyRouter(f"ttai.http.routes.{name}", API, (f"{API}/{name}",))


# The api function's routers, each with the paths it serves.
API_ROUTERS: tuple[LazyRouter, ...] = (
    LazyRouter("ttai.http.routes.health", None, ("/health",)),
    LazyRouter("ttai.http.routes.dashboard", None, ("/dashboard",)),
    LazyRouter("ttai.http.routes.account", None, (f"{API}/me",)),
    LazyRouter("ttai.http.routes.auth", None, ("/auth/logout",)),  # sign-in is the auth function's
    LazyRouter("ttai.http.routes.market", API, (f"{API}/quotes", f"{API}/chains", f"{API}/company")),
    LazyRouter("ttai.http.routes.bars", API, (f"{API}/bars",)),
    *(
        _tenant(name)
        for name in (
            "watchlists",
            "preferences",
            "positions",
            "analyses",
            "screeners",
            "alerts",
            "journal",
            "exports",
            "workflows",
        )
    ),
    LazyRouter("ttai.http.routes.jobs", API, (f"{API}/jobs",)),
    LazyRouter("ttai.http.routes.knowledge", API, (f"{API}/knowledge",)),
    LazyRouter("ttai.http.routes.realtime", API, (f"{API}/realtime",)),
)


def create_app() -> Resolver:
    """The api function's resolver."""
    return create_resolver(lazy=API_ROUTERS)
