"""``/api/v1/screeners``: the caller's saved screeners by name, and the stored runs of each."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import TypeAdapter

from ttai.cursors import Page
from ttai.http import deps
from ttai.http.named import Collection, add_named_routes
from ttai.http.openapi import responses
from ttai.http.params import DEFAULT_PAGE_SIZE, Cursor, Limit, NamePath
from ttai.http.replies import accepted
from ttai.models.screeners import Screener, ScreenerIn, ScreenerName, ScreenerRun, ScreenerRunStarted
from ttai.services.screeners import ScreenerRepository

router = Router()  # type: ignore[no-untyped-call]
SCREENERS = Collection(
    "/screeners", "screener", Screener, ScreenerIn, TypeAdapter(ScreenerName), " (its stored runs are kept)"
)


def _repository() -> ScreenerRepository:
    return ScreenerRepository(deps.env().DB, deps.tenant(router), cursors=deps.cursors())


_name = add_named_routes(router, SCREENERS, _repository)


@router.get(
    "/screeners/<name>/results",
    summary="The screener's stored runs, newest first",
    responses=responses(HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND),
)
def list_screener_results(name: NamePath, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> Page[ScreenerRun]:
    return _repository().runs(_name(name), limit, cursor)


@router.post(
    "/screeners/<name>/run",
    summary="Run a screener now: a workflow evaluates it over cached quotes and the latest analyses, stores and "
    "announces the run; poll status_url",
    responses=responses(HTTPStatus.NOT_FOUND, success=HTTPStatus.ACCEPTED),
)
def run_screener(name: NamePath) -> Response[ScreenerRunStarted]:
    # The evaluation service loads with the first run asked for, not with every screener read: ~20 ms of imports
    # the other routes of this module never use.
    from ttai.services.screeners.evaluation import runnable_screener  # noqa: PLC0415
    from ttai.services.workflow_runs import WorkflowRuns  # noqa: PLC0415

    screener = _name(name)
    env = deps.env()
    user_id = deps.tenant(router).user_id
    screener_id = runnable_screener(env.DB, user_id, screener)
    started = WorkflowRuns(env, user_id).start("screener", {"screener_id": screener_id})
    return accepted(ScreenerRunStarted(**started.model_dump(), screener=screener))
