"""Workflow runs as the API takes and gives them: an analysis asked for, a run started, a run's status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ttai.messages import ANALYSIS_SYMBOLS_MAX
from ttai.models.base import Output, Strict
from ttai.models.market import Symbol
from ttai.models.times import StoredInstant

RunWorkflow = Literal["analysis", "screener", "export"]
RunStatus = Literal[
    "queued", "running", "paused", "errored", "terminated", "complete", "waiting", "waitingForPause", "unknown"
]


class AnalysisRunIn(Strict):
    symbols: Annotated[list[Symbol], Field(min_length=1, max_length=ANALYSIS_SYMBOLS_MAX)]


class WorkflowStarted(Output):
    """A workflow the caller started: poll ``status_url`` (GET /api/v1/workflows/{id}) for its status and output."""

    id: str
    workflow: RunWorkflow
    status_url: str


class WorkflowRunError(Output):
    name: str
    message: str


class WorkflowRunStatus(Output):
    """Cloudflare's instance status: ``output`` once complete, ``error`` once errored."""

    id: str
    workflow: RunWorkflow
    status: RunStatus
    error: WorkflowRunError | None = None
    output: Any = None
    created_at: StoredInstant
