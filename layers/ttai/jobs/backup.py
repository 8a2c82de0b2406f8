"""The nightly backup as a job: every table written to backups/ (ttai.services.backups), its counts recorded."""

from __future__ import annotations

from ttai.jobs.base import JobContext, JobOutcome


def run_backup_job(ctx: JobContext) -> JobOutcome:
    from ttai.services.backups import run_backup  # noqa: PLC0415 - only this job needs the bucket and its code

    written = run_backup(ctx.env, ctx.scheduled_time)
    tables = int(written["tables"])
    return JobOutcome(processed=tables, successful=tables, metadata={"unit": "tables", **written})
