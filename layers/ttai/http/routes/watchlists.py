"""``/api/v1/watchlists``: the caller's watchlists by name."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import TypeAdapter

from ttai.cursors import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.validation import parse
from ttai.models.watchlists import Watchlist, WatchlistIn, WatchlistName
from ttai.services.watchlists import WatchlistRepository

router = Router()  # type: ignore[no-untyped-call]
_NAME: TypeAdapter[str] = TypeAdapter(WatchlistName)
NamePath = Annotated[str, Path(max_length=300)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(max_length=512)]


def _repository() -> WatchlistRepository:
    return WatchlistRepository(deps.env().DB, deps.tenant(router), cursors=deps.cursors())


def _name(raw: str) -> str:
    return parse(_NAME, unquote(raw), ("path", "name"))


@router.get("/watchlists", summary="The caller's watchlists, by name", responses=responses(HTTPStatus.BAD_REQUEST))
def list_watchlists(limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> Page[Watchlist]:
    return _repository().list(limit, cursor)


@router.get("/watchlists/<name>", summary="One watchlist", responses=responses(HTTPStatus.NOT_FOUND))
def get_watchlist(name: NamePath) -> Watchlist:
    return _repository().get(_name(name))


@router.put("/watchlists/<name>", summary="Create or replace a watchlist", responses=responses(HTTPStatus.CONFLICT))
def put_watchlist(name: NamePath, body: WatchlistIn) -> Watchlist:
    return _repository().put(_name(name), body)


@router.delete(
    "/watchlists/<name>",
    summary="Delete a watchlist",
    responses=responses(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, success=HTTPStatus.NO_CONTENT),
)
def delete_watchlist(name: NamePath) -> Response[None]:
    _repository().delete(_name(name))
    return Response(status_code=204)
