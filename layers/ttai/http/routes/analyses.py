"""``/api/v1/analyses``: the caller's analysis history, newest first."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import TypeAdapter

from ttai.cursors import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.validation import parse
from ttai.models.analyses import Analysis, AnalysisIn
from ttai.models.market import Symbol
from ttai.services.analyses import AnalysisRepository
from ttai.services.cache import CacheService

router = Router()  # type: ignore[no-untyped-call]
_SYMBOL: TypeAdapter[str] = TypeAdapter(Symbol)
AnalysisId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(max_length=512)]
SymbolQuery = Annotated[str | None, Query(max_length=64)]


def _repository() -> AnalysisRepository:
    env = deps.env()
    return AnalysisRepository(env.DB, deps.tenant(router), CacheService(env.KV), cursors=deps.cursors())


@router.get(
    "/analyses",
    summary="The caller's analyses, newest first, optionally of one symbol",
    responses=responses(HTTPStatus.BAD_REQUEST),
)
def list_analyses(
    symbol: SymbolQuery = None, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
) -> Page[Analysis]:
    wanted = parse(_SYMBOL, symbol, ("query", "symbol")) if symbol is not None else None
    return _repository().list(limit, cursor, wanted)


@router.get("/analyses/<analysis_id>", summary="One analysis", responses=responses(HTTPStatus.NOT_FOUND))
def get_analysis(analysis_id: AnalysisId) -> Analysis:
    return _repository().get(analysis_id)


@router.post(
    "/analyses",
    summary="Record an analysis and cache it as the latest for its symbol",
    responses=responses(HTTPStatus.CONFLICT, success=HTTPStatus.CREATED),
)
def create_analysis(body: AnalysisIn) -> Response[Analysis]:
    analysis = _repository().create(body)
    return Response(status_code=HTTPStatus.CREATED.value, content_type=content_types.APPLICATION_JSON, body=analysis)
