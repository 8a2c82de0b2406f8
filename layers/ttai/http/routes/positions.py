"""``/api/v1/positions``: the caller's positions, listed by status, read by id, synced from the broker, deleted."""

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
from ttai.http.replies import no_content
from ttai.models.positions import Position, PositionSync, StatusFilter, SyncResult
from ttai.services.positions import PositionRepository

router = Router()  # type: ignore[no-untyped-call]
Status = Annotated[StatusFilter, Query()]


def _repository() -> PositionRepository:
    env = deps.env()
    return PositionRepository(env.DB, deps.tenant(router), env.KV, cursors=deps.cursors())


@router.get(
    "/positions",
    summary="The caller's positions by status (open by default), oldest first",
    responses=responses(HTTPStatus.BAD_REQUEST),
)
def list_positions(status: Status = "open", limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> Page[Position]:
    return _repository().list(status, limit, cursor)


@router.get("/positions/<position_id>", summary="One position", responses=responses(HTTPStatus.NOT_FOUND))
def get_position(position_id: RowId) -> Position:
    return _repository().get(position_id)


@router.put(
    "/positions",
    summary="Sync positions from the broker (full_sync also closes the ones left out)",
    responses=responses(HTTPStatus.CONFLICT),
)
def sync_positions(body: PositionSync) -> SyncResult:
    return _repository().sync(body)


@router.delete(
    "/positions/<position_id>",
    summary="Delete a position, open or closed (a sync does not bring back a closed one)",
    responses=responses(HTTPStatus.NOT_FOUND, success=HTTPStatus.NO_CONTENT),
)
def delete_position(position_id: RowId) -> Response[None]:
    _repository().delete(position_id)
    return no_content()
