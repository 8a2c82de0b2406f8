"""Every job type and the function that runs it. A new job is one entry here, plus its name in job_executions'
CHECK and its schedule in storage.json."""

from __future__ import annotations

from ttai.jobs.base import JobSpec

JOBS: dict[str, JobSpec] = {
    spec.job_type: spec
    for spec in (
        JobSpec("pre-market", "ttai.jobs.premarket:run_pre_market"),
        JobSpec("analysis", "ttai.jobs.analysis:run_analysis"),
        JobSpec("intraday", "ttai.jobs.intraday:run_intraday"),
        JobSpec("end-of-day", "ttai.jobs.endofday:run_end_of_day"),
        JobSpec("weekly", "ttai.jobs.weekly:run_weekly"),
        JobSpec("backup", "ttai.jobs.backup:run_backup_job", market_days_only=False),
    )
}
JOB_TYPES: tuple[str, ...] = tuple(JOBS)
