"""``/api/v1/alerts``: the caller's alerts, newest first, and the events each one fired."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from ttai.cursors import Page
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.params import DEFAULT_PAGE_SIZE, Cursor, Limit, RowId
from ttai.http.replies import created, no_content
from ttai.models.alerts import Alert, AlertEvent, AlertIn, AlertStatusFilter
from ttai.services.alerts import AlertRepository

router = Router()  # type: ignore[no-untyped-call]
Status = Annotated[AlertStatusFilter, Query(description="which alerts to list")]


def _repository() -> AlertRepository:
    return AlertRepository(deps.env().DB, deps.tenant(router), cursors=deps.cursors())


@router.get("/alerts", summary="The caller's alerts, newest first", responses=responses(HTTPStatus.BAD_REQUEST))
def list_alerts(status: Status = "all", limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> Page[Alert]:
    return _repository().list(status, limit, cursor)


@router.post("/alerts", summary="Create an alert", responses=responses(HTTPStatus.CONFLICT, success=HTTPStatus.CREATED))
def create_alert(body: AlertIn) -> Response[Alert]:
    return created(_repository().create(body))


@router.delete(
    "/alerts/<alert_id>",
    summary="Cancel an active alert",
    responses=responses(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, success=HTTPStatus.NO_CONTENT),
)
def cancel_alert(alert_id: RowId) -> Response[None]:
    _repository().cancel(alert_id)
    return no_content()


@router.get(
    "/alerts/<alert_id>/events",
    summary="What an alert fired, newest first",
    responses=responses(HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND),
)
def list_alert_events(alert_id: RowId, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> Page[AlertEvent]:
    return _repository().events(alert_id, limit, cursor)
