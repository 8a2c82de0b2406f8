"""``/api/v1/workflows/{id}``: a workflow run the caller started (an analysis, a screener run, an export), its status
and output; another user's run is not found."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from ttai.http import deps
from ttai.http.openapi import responses
from ttai.models.workflows import WorkflowRunStatus
from ttai.services.workflow_runs import WorkflowRuns

router = Router()  # type: ignore[no-untyped-call]
RunId = Annotated[str, Path(max_length=100, description="the id a run was started with (its status_url's end)")]


@router.get(
    "/workflows/<run_id>",
    summary="A workflow run the caller started: its status, and its output once complete (an export's with a fresh "
    "download link)",
    responses=responses(HTTPStatus.NOT_FOUND),
)
def workflow_status(run_id: RunId) -> WorkflowRunStatus:
    return WorkflowRuns(deps.env(), deps.tenant(router).user_id).status(run_id)
