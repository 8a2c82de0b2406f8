"""``/api/v1/journal``: the caller's trade journal, latest entries first; closing an entry computes its pnl."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from ttai.cursors import Page
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.params import DEFAULT_PAGE_SIZE, Cursor, Limit, RowId, date_range, symbol_filter, symbol_value
from ttai.http.replies import created
from ttai.models.journal import JournalClose, JournalEntry, JournalEntryIn
from ttai.models.times import CalendarDate
from ttai.services.journal import JournalRepository

router = Router()  # type: ignore[no-untyped-call]
SymbolQuery = Annotated[str | None, symbol_filter("only entries of this symbol")]
Since = Annotated[CalendarDate | None, Query(alias="from", description="entries opened on or after this date")]
Until = Annotated[CalendarDate | None, Query(alias="to", description="entries opened on or before this date")]


def _repository() -> JournalRepository:
    return JournalRepository(deps.env().DB, deps.tenant(router), cursors=deps.cursors())


@router.get(
    "/journal", summary="The caller's journal, latest entry date first", responses=responses(HTTPStatus.BAD_REQUEST)
)
def list_journal(
    symbol: SymbolQuery = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[JournalEntry]:
    date_range(since, until, ("from", "to"))
    return _repository().list(symbol_value(symbol), since, until, limit, cursor)


@router.post(
    "/journal",
    summary="Record a trade as it was opened",
    responses=responses(HTTPStatus.CONFLICT, success=HTTPStatus.CREATED),
)
def create_entry(body: JournalEntryIn) -> Response[JournalEntry]:
    return created(_repository().create(body))


@router.patch(
    "/journal/<entry_id>",
    summary="Close an entry: its exit, and the pnl computed from it",
    responses=responses(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def close_entry(entry_id: RowId, body: JournalClose) -> JournalEntry:
    return _repository().close(entry_id, body)
