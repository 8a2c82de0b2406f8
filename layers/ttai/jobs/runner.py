"""``run_job``: one run of a job per (job type, scheduled time), recorded from claim to outcome.

A duplicate invocation (EventBridge Scheduler delivers at least once; Lambda retries a failed asynchronous
invocation twice) finds the row claimed and returns it without running anything. A run that raises is recorded as
'failure' with the error, then the exception propagates so the function's error metric and alarm see it; the
retries Lambda then makes find the row and do nothing: a (job type, scheduled time) runs at most once, and a
failed run is re-run on purpose (a manual run, which has its own scheduled time). Only a row left 'running' by an
invocation that died without recording anything (a timeout) is taken over, once it is STALE_AFTER old
(ttai.services.jobs).

A run's queue messages are staged in the outbox by the statement that records it finished and sent right after
(ttai.jobs.outbox); every run first sends what earlier runs could not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ttai.env import Env
from ttai.errors import TtaiError, describe_error
from ttai.jobs.base import JobContext, Trigger
from ttai.jobs.calendar import closed_reason, market_date, utc
from ttai.jobs.outbox import Outgoing, relay, relay_waiting, staged_rows
from ttai.jobs.registry import JOBS
from ttai.models.jobs import JobRecord
from ttai.observability import logger
from ttai.services.jobs import JobStorage


class UnknownJobType(TtaiError, ValueError):
    """A job type no job is registered for."""


@dataclass(frozen=True, slots=True)
class JobRun:
    """What ``run_job`` did: the run's row as it stands, and whether this call ran it (False for a duplicate)."""

    id: int
    job_type: str
    scheduled_time: datetime
    execution_date: date
    status: str
    ran: bool
    execution: JobRecord

    def summary(self) -> dict[str, Any]:
        e = self.execution
        return {
            "id": self.id,
            "job_type": self.job_type,
            "scheduled_time": self.scheduled_time.isoformat(),
            "execution_date": self.execution_date.isoformat(),
            "status": self.status,
            "ran": self.ran,
            "duration_ms": e.duration_ms,
            "symbols_processed": e.symbols_processed,
            "symbols_successful": e.symbols_successful,
            "symbols_failed": e.symbols_failed,
            "error_message": e.error_message,
        }


def _run(execution: JobRecord, scheduled_time: datetime, execution_date: date, *, ran: bool) -> JobRun:
    # The run's key as the runner computed it: the row holds the same values (it was claimed by them), typed as
    # stored values a reader may find outside Python's range.
    return JobRun(
        id=execution.id,
        job_type=execution.job_type,
        scheduled_time=scheduled_time,
        execution_date=execution_date,
        status=execution.status,
        ran=ran,
        execution=execution,
    )


def run_job(env: Env, job_type: str, scheduled_time: datetime, *, trigger: Trigger = "schedule") -> JobRun:
    """Run ``job_type`` for ``scheduled_time`` (aware) unless that run exists; returns the run's row.

    Scheduled runs on weekends and NYSE holidays record 'skipped' (market jobs only); a manual run is what an
    operator asked for and runs whatever the day.
    """
    spec = JOBS.get(job_type)
    if spec is None:
        raise UnknownJobType(f"unknown job type {job_type!r}: one of {', '.join(sorted(JOBS))}")
    if trigger not in ("schedule", "manual"):
        raise ValueError(f"trigger is 'schedule' or 'manual', not {trigger!r}")
    scheduled = utc(scheduled_time)
    day = market_date(scheduled)
    _relay_waiting(env)
    storage = JobStorage(env.DB)
    log = {"job_type": job_type, "scheduled_time": scheduled.isoformat(), "market_date": day.isoformat()}
    started = datetime.now(UTC)
    execution, owned = storage.claim(job_type, scheduled, day, started, {"trigger": trigger})
    if not owned:
        logger.info(
            "job run already claimed: nothing to do", extra={**log, "id": execution.id, "status": execution.status}
        )
        return _run(execution, scheduled, day, ran=False)
    clock = time.monotonic()

    def elapsed_ms() -> int:
        return round((time.monotonic() - clock) * 1000)

    reason = closed_reason(day) if spec.market_days_only and trigger == "schedule" else None
    if reason is not None:
        execution = storage.finish(
            execution.id,
            status="skipped",
            finished_at=datetime.now(UTC),
            duration_ms=elapsed_ms(),
            metadata={"skipped_because": f"market closed: {reason}"},
        )
        logger.info("job skipped: market closed", extra={**log, "id": execution.id, "reason": reason})
        return _run(execution, scheduled, day, ran=True)

    context = JobContext(
        env=env,
        execution_id=execution.id,
        job_type=job_type,
        scheduled_time=scheduled,
        market_date=day,
        trigger=trigger,
        storage=storage,
    )
    try:
        outcome = spec.run(context)
    except Exception as exc:
        logger.exception("job failed", extra={**log, "id": execution.id})
        storage.finish(
            execution.id,
            status="failure",
            finished_at=datetime.now(UTC),
            duration_ms=elapsed_ms(),
            error_message=f"{type(exc).__name__}: {exc}",
        )
        raise
    metadata = dict(outcome.metadata)
    if outcome.errors:
        metadata["errors"] = dict(sorted(outcome.errors.items()))
    execution = storage.finish(
        execution.id,
        status=outcome.status,
        finished_at=datetime.now(UTC),
        duration_ms=elapsed_ms(),
        processed=outcome.processed,
        successful=outcome.successful,
        failed=outcome.failed,
        error_message=(f"{outcome.failed} of {outcome.processed} failed" if outcome.errors else None),
        metadata=metadata,
        outbox=staged_rows(context.outgoing),
    )
    if context.outgoing:
        _relay(env, context.outgoing, log)
    logger.info("job finished", extra={**log, **_run(execution, scheduled, day, ran=True).summary()})
    return _run(execution, scheduled, day, ran=True)


# What a relay can meet that leaves its messages waiting in the outbox for the next run, logged: the queue or the
# database away (Unavailable) or refusing (a binding's error, a D1Error). The run is recorded either way; anything
# else (AWS refusing access, a queue that does not exist) rises after the commit, and the messages wait all the same.
_RELAY_FAILURES = TtaiError  # Unavailable and D1Error among them


def _relay(env: Env, outgoing: list[Outgoing], log: dict[str, Any]) -> None:
    """The run's messages to their queues, right after the commit that staged them."""
    try:
        relay(env, outgoing)
    except _RELAY_FAILURES as exc:
        logger.warning(
            "job messages not sent yet: waiting in the outbox for the next run",
            extra={**log, "messages": len(outgoing), "error": describe_error(exc)},
        )


def _relay_waiting(env: Env) -> None:
    """Messages earlier runs could not send, sent before this run starts (best effort: they wait for the next)."""
    try:
        relay_waiting(env)
    except _RELAY_FAILURES as exc:
        logger.warning("outbox: waiting messages not sent yet", extra={"error": describe_error(exc)})
