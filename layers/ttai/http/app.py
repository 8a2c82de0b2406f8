"""The api function's resolver: routes, OpenAPI, and the one place errors become statuses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from ttai.errors import BindingError, ConfigurationError, Forbidden, NotFound, Unauthorized
from ttai.http.routes import health, market
from ttai.observability import logger

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


def create_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    app.include_router(health.router)
    app.include_router(market.router, prefix="/api/v1")

    @app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=app.get_openapi_json_schema(title=TITLE, version=VERSION),
        )

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response[Any]:
        return _error(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "validation_error",
            "the request is invalid",
            fields=_field_errors(exc.errors()),
        )

    @app.exception_handler(NotFound)
    def not_found(exc: NotFound) -> Response[Any]:
        return _error(HTTPStatus.NOT_FOUND, "not_found", str(exc))

    @app.exception_handler(Unauthorized)
    def unauthorized(exc: Unauthorized) -> Response[Any]:
        return _error(HTTPStatus.UNAUTHORIZED, "unauthorized", str(exc))

    @app.exception_handler(Forbidden)
    def forbidden(exc: Forbidden) -> Response[Any]:
        return _error(HTTPStatus.FORBIDDEN, "forbidden", str(exc))

    @app.exception_handler(BindingError)
    def bad_binding_input(exc: BindingError) -> Response[Any]:
        return _error(HTTPStatus.BAD_REQUEST, "bad_request", str(exc))

    @app.exception_handler(ConfigurationError)
    def misconfigured(exc: ConfigurationError) -> Response[Any]:
        logger.exception("function is misconfigured")
        return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "the service is misconfigured")

    @app.not_found
    def no_route(exc: Exception) -> Response[Any]:
        return _error(HTTPStatus.NOT_FOUND, "not_found", "no such route")

    return app


app = create_app()
