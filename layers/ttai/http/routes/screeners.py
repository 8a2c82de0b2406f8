"""``/api/v1/screeners``: the caller's saved screeners by name, and the stored runs of each."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import TypeAdapter

from ttai.cursors import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.validation import parse
from ttai.models.screeners import Screener, ScreenerIn, ScreenerName, ScreenerRun, ScreenerRunQueued
from ttai.services.screeners import ScreenerRepository

router = Router()  # type: ignore[no-untyped-call]
_NAME: TypeAdapter[str] = TypeAdapter(ScreenerName)
NamePath = Annotated[str, Path(max_length=300)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(max_length=512)]


def _repository() -> ScreenerRepository:
    return ScreenerRepository(deps.env().DB, deps.tenant(router), cursors=deps.cursors())


def _name(raw: str) -> str:
    return parse(_NAME, unquote(raw), ("path", "name"))


@router.get("/screeners", summary="The caller's screeners, by name", responses=responses(HTTPStatus.BAD_REQUEST))
def list_screeners(limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> Page[Screener]:
    return _repository().list(limit, cursor)


@router.get("/screeners/<name>", summary="One screener", responses=responses(HTTPStatus.NOT_FOUND))
def get_screener(name: NamePath) -> Screener:
    return _repository().get(_name(name))


@router.put("/screeners/<name>", summary="Create or replace a screener", responses=responses(HTTPStatus.CONFLICT))
def put_screener(name: NamePath, body: ScreenerIn) -> Screener:
    return _repository().put(_name(name), body)


@router.delete(
    "/screeners/<name>",
    summary="Delete a screener (its stored runs are kept)",
    responses=responses(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, success=HTTPStatus.NO_CONTENT),
)
def delete_screener(name: NamePath) -> Response[None]:
    _repository().delete(_name(name))
    return Response(status_code=204)


@router.get(
    "/screeners/<name>/results",
    summary="The screener's stored runs, newest first",
    responses=responses(HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND),
)
def list_screener_results(name: NamePath, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> Page[ScreenerRun]:
    return _repository().runs(_name(name), limit, cursor)


@router.post(
    "/screeners/<name>/run",
    summary="Run a screener now: queued, then evaluated over cached quotes and the latest analyses",
    responses=responses(HTTPStatus.NOT_FOUND, success=HTTPStatus.ACCEPTED),
)
def run_screener(name: NamePath) -> Response[ScreenerRunQueued]:
    # The evaluation service (and through it the cache, KV and queue bindings) loads with the first run asked for,
    # not with every screener read: ~20 ms of imports the other routes of this module never use.
    from ttai.services.screening import request_run  # noqa: PLC0415

    screener = _name(name)
    env = deps.env()
    task = request_run(env.DB, env.TASK_QUEUE, deps.tenant(router).user_id, screener)
    return Response(
        status_code=HTTPStatus.ACCEPTED.value,
        content_type=content_types.APPLICATION_JSON,
        body=ScreenerRunQueued(message_id=task.id, screener=screener),
    )
