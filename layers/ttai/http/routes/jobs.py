"""``/api/v1/jobs``: scheduled-job history, the latest run, one run's results (any signed-in user); runs on demand
(admin scope)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from ttai.cursors import Page
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.params import DEFAULT_PAGE_SIZE, Cursor, Limit, RowId, date_range
from ttai.http.principal import current_principal
from ttai.http.replies import accepted
from ttai.models.jobs import JobDetail, JobExecution, JobRunAccepted, JobStatus, JobType, LatestJob, RunnableJobType
from ttai.models.times import CalendarDate
from ttai.observability import logger
from ttai.services.jobs import HistoryFilter, JobStorage, request_run

router = Router()  # type: ignore[no-untyped-call]
TypePath = Annotated[RunnableJobType, Path(description="the job to run (a backup runs only on its schedule)")]
TypeQuery = Annotated[JobType | None, Query(alias="type", description="only runs of this job")]
StatusQuery = Annotated[JobStatus | None, Query(description="only runs that ended so")]
StartDate = Annotated[CalendarDate | None, Query(description="runs of this market date (New York) or later")]
EndDate = Annotated[CalendarDate | None, Query(description="runs of this market date (New York) or earlier")]


def _storage() -> JobStorage:
    current_principal(router)  # market-wide data, but only for signed-in callers
    return JobStorage(deps.env().DB, cursors=deps.cursors())


@router.get(
    "/jobs/history",
    summary="Job runs, newest market date first, optionally of one job, status or date range",
    responses=responses(HTTPStatus.BAD_REQUEST),
)
def job_history(
    job_type: TypeQuery = None,
    status: StatusQuery = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[JobExecution]:
    date_range(start_date, end_date, ("start_date", "end_date"))
    wanted = HistoryFilter(job_type=job_type, status=status, since=start_date, until=end_date)
    return _storage().history(wanted, limit, cursor)


@router.get(
    "/jobs/latest",
    summary="The latest run, of one job or of any, with its report's summary",
    responses=responses(HTTPStatus.NOT_FOUND),
)
def latest_job(job_type: TypeQuery = None) -> LatestJob:
    return _storage().latest(job_type)


@router.get(
    "/jobs/<execution_id>",
    summary="One run with its analysis results and report",
    responses=responses(HTTPStatus.NOT_FOUND),
)
def get_job(execution_id: RowId) -> JobDetail:
    return _storage().get(execution_id)


@router.post(
    "/jobs/<job_type>/run",
    summary="Run a job now, through the task queue (admin scope)",
    responses=responses(success=HTTPStatus.ACCEPTED),
)
def run_job(job_type: TypePath) -> Response[JobRunAccepted]:
    principal = current_principal(router)
    principal.require("admin")
    run = request_run(deps.env().TASK_QUEUE, principal.user_id, job_type)
    logger.info(
        "job run requested",
        extra={"job_type": job_type, "message_id": run.message_id, "requested_by": principal.user_id},
    )
    return accepted(run)
