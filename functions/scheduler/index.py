"""Entry point of the scheduler function: a schedule's payload in, one run of its job (ttai.jobs.run_job), or for
the nightly backup one instance of the backup workflow (which records the run as it goes)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ttai.env import Env
from ttai.jobs import run_job
from ttai.jobs.backup import BACKUP_JOB, start_backup
from ttai.jobs.payload import SchedulePayload, describe
from ttai.observability import logger, metrics
from ttai.realtime.deployed import user_events


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A scheduled run has no HTTP request to take an id from: its invocation's id correlates its log lines and
    # the messages it sends.
    logger.set_correlation_id(context.aws_request_id)
    try:
        payload = SchedulePayload.model_validate(event)
    except ValidationError as exc:
        # Retrying cannot fix a payload: log it plainly and return, so Lambda does not retry it twice.
        logger.error("schedule payload rejected: no job run", extra={"errors": describe(exc)})
        return {"status": "rejected", "errors": describe(exc)}
    logger.append_keys(job_type=payload.job_type, scheduled_time=payload.scheduled_time.isoformat())
    env = Env.from_environ()
    if payload.job_type == BACKUP_JOB:
        return start_backup(env, payload.scheduled_time, trigger="schedule")
    summary = run_job(env, payload.job_type, payload.scheduled_time, trigger="schedule").summary()
    try:
        user_events(env).job_finished(summary)  # on `jobs` in real time; a duplicate invocation's run is not told
    except Exception:  # noqa: BLE001 - the run is recorded; a missed push is not worth Lambda's retry of the run
        logger.exception("job run not published in real time")
    return summary
