"""What a route answers when it is not its return value with a 200: a JSON body with 201 or 202, or a bare 204.

The statuses go with the ones the route documents (``ttai.http.openapi.responses(success=...)``).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TypeVar

from aws_lambda_powertools.event_handler import Response, content_types

T = TypeVar("T")


def created(body: T) -> Response[T]:
    """201 with ``body``: what a POST made."""
    return Response(status_code=HTTPStatus.CREATED.value, content_type=content_types.APPLICATION_JSON, body=body)


def accepted(body: T) -> Response[T]:
    """202 with ``body``: work queued, not yet done."""
    return Response(status_code=HTTPStatus.ACCEPTED.value, content_type=content_types.APPLICATION_JSON, body=body)


def no_content() -> Response[None]:
    """204: done, nothing to say."""
    return Response(status_code=HTTPStatus.NO_CONTENT.value)
