"""``POST /api/v1/realtime/ticket``: a single-use ticket to open the real-time WebSocket (browsers cannot send an
Authorization header on a WebSocket, and a session token in a URL would end up in logs)."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import Field

from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.principal import current_principal
from ttai.models.base import Output

router = Router()  # type: ignore[no-untyped-call]


class RealtimeTicket(Output):
    ticket: str = Field(description="good for one connection")
    url: str = Field(description="the WebSocket URL to connect to, the ticket in its query")
    expires_at: datetime = Field(description="connect before this (60 seconds after issue)")


@router.post(
    "/realtime/ticket",
    summary="A single-use ticket to connect to the real-time WebSocket within 60 seconds",
    responses=responses(success=HTTPStatus.CREATED),
)
def create_ticket() -> Response[RealtimeTicket]:
    principal = current_principal(router)
    ticket = deps.tickets().issue(principal.user_id)
    body = RealtimeTicket(ticket=ticket.ticket, url=ticket.url, expires_at=ticket.expires_at)
    return Response(status_code=HTTPStatus.CREATED.value, content_type=content_types.APPLICATION_JSON, body=body)
