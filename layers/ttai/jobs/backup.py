"""The nightly backup: started on its schedule as an instance of the backup workflow (one per scheduled time), which
writes every table in steps and records the run; run in one go by ``ttai jobs run backup`` (a process of its own,
with no Lambda timeout to meet)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ttai.jobs.base import JobContext, JobOutcome, Trigger

if TYPE_CHECKING:
    from ttai.env import Env

BACKUP_JOB = "backup"


def backup_instance_id(scheduled_time: datetime) -> str:
    """The backup workflow's instance id for a scheduled time: a second start of the same time is refused."""
    return f"backup-{scheduled_time.astimezone(UTC).strftime('%Y-%m-%dT%H-%M-%SZ')}"


def start_backup(env: Env, scheduled_time: datetime, *, trigger: Trigger) -> dict[str, Any]:
    """Start the backup workflow for ``scheduled_time`` unless it was started already (a duplicate delivery)."""
    from ttai.bindings.workflows import InstanceAlreadyExists  # noqa: PLC0415 - the backup alone needs workflows

    instance_id = backup_instance_id(scheduled_time)
    try:
        env.BACKUP_WORKFLOW.create(
            id=instance_id, params={"scheduled_time": scheduled_time.astimezone(UTC).isoformat(), "trigger": trigger}
        )
    except InstanceAlreadyExists:
        return {"job_type": BACKUP_JOB, "workflow_id": instance_id, "started": False}
    return {"job_type": BACKUP_JOB, "workflow_id": instance_id, "started": True}


def run_backup_job(ctx: JobContext) -> JobOutcome:
    from ttai.services.backups import run_backup  # noqa: PLC0415 - only this job needs the bucket and its code

    written = run_backup(ctx.env, ctx.scheduled_time)
    tables = int(written["tables"])
    return JobOutcome(processed=tables, successful=tables, metadata={"unit": "tables", **written})
