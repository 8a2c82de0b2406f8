"""``/api/v1/journal``: the caller's trade journal, latest entries first; closing an entry computes its pnl."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import TypeAdapter

from ttai.cursors import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.validation import parse
from ttai.models.journal import JournalClose, JournalEntry, JournalEntryIn
from ttai.models.market import Symbol
from ttai.models.times import CalendarDate
from ttai.services.journal import JournalRepository

router = Router()  # type: ignore[no-untyped-call]
_SYMBOL: TypeAdapter[str] = TypeAdapter(Symbol)
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(max_length=512)]
SymbolQuery = Annotated[str | None, Query(max_length=64, description="only entries of this symbol")]
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
    if since is not None and until is not None and since > until:
        raise RequestValidationError([{"loc": ("query", "to"), "msg": "'to' is before 'from'", "type": "date_range"}])
    normalized = parse(_SYMBOL, symbol, ("query", "symbol")) if symbol is not None else None
    return _repository().list(normalized, since, until, limit, cursor)


@router.post(
    "/journal",
    summary="Record a trade as it was opened",
    responses=responses(HTTPStatus.CONFLICT, success=HTTPStatus.CREATED),
)
def create_entry(body: JournalEntryIn) -> Response[JournalEntry]:
    return Response(
        status_code=HTTPStatus.CREATED.value,
        content_type=content_types.APPLICATION_JSON,
        body=_repository().create(body),
    )


@router.patch(
    "/journal/<entry_id>",
    summary="Close an entry: its exit, and the pnl computed from it",
    responses=responses(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def close_entry(entry_id: EntryId, body: JournalClose) -> JournalEntry:
    return _repository().close(entry_id, body)
