"""Entry point of the scheduler function: a schedule's payload in, one run of its job (ttai.jobs.run_job), or for
the nightly backup one instance of the backup workflow (which records the run as it goes)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ttai.env import Env
from ttai.jobs import run_job
from ttai.jobs.backup import BACKUP_JOB, start_backup
from ttai.jobs.payload import SchedulePayload, describe
from ttai.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        payload = SchedulePayload.model_validate(event)
    except ValidationError as exc:
        # Retrying cannot fix a payload: log it plainly and return, so Lambda does not retry it twice.
        logger.error("schedule payload rejected: no job run", extra={"errors": describe(exc)})
        return {"status": "rejected", "errors": describe(exc)}
    logger.append_keys(job_type=payload.job_type, scheduled_time=payload.scheduled_time.isoformat())
    if payload.job_type == BACKUP_JOB:
        return start_backup(Env.from_environ(), payload.scheduled_time, trigger="schedule")
    return run_job(Env.from_environ(), payload.job_type, payload.scheduled_time, trigger="schedule").summary()
