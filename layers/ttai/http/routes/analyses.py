"""``/api/v1/analyses``: the caller's analysis history, newest first, and analyses run now by a workflow."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ttai.cursors import Page
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.params import DEFAULT_PAGE_SIZE, Cursor, Limit, RowId, symbol_filter, symbol_value
from ttai.http.replies import accepted, created
from ttai.models.analyses import Analysis, AnalysisIn
from ttai.models.workflows import AnalysisRunIn, WorkflowStarted
from ttai.services.analyses import AnalysisRepository
from ttai.services.cache import CacheService

router = Router()  # type: ignore[no-untyped-call]
SymbolQuery = Annotated[str | None, symbol_filter()]


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
    return _repository().list(limit, cursor, symbol_value(symbol))


@router.get("/analyses/<analysis_id>", summary="One analysis", responses=responses(HTTPStatus.NOT_FOUND))
def get_analysis(analysis_id: RowId) -> Analysis:
    return _repository().get(analysis_id)


@router.post(
    "/analyses",
    summary="Record an analysis and cache it as the latest for its symbol",
    responses=responses(HTTPStatus.CONFLICT, success=HTTPStatus.CREATED),
)
def create_analysis(body: AnalysisIn) -> Response[Analysis]:
    analysis = _repository().create(body)
    return created(analysis)


@router.post(
    "/analyses/run",
    summary="Analyse symbols now (daily bars: SMA 20/50, RSI 14, 20-day volatility): a workflow stores each "
    "analysis under the caller's analyses and announces the run once; poll status_url",
    responses=responses(success=HTTPStatus.ACCEPTED),
)
def run_analysis(body: AnalysisRunIn) -> Response[WorkflowStarted]:
    from ttai.services.workflow_runs import WorkflowRuns  # noqa: PLC0415 - the workflow binding loads with a run

    started = WorkflowRuns(deps.env(), deps.tenant(router).user_id).start("analysis", {"symbols": body.symbols})
    return accepted(started)
