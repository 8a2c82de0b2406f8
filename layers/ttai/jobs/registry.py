"""Every job type and the function that runs it. A new job is one entry here, plus its name in job_executions'
CHECK and its schedule in storage.json."""

from __future__ import annotations

from ttai.jobs.analysis import run_analysis
from ttai.jobs.backup import run_backup_job
from ttai.jobs.base import JobSpec
from ttai.jobs.endofday import run_end_of_day
from ttai.jobs.intraday import run_intraday
from ttai.jobs.premarket import run_pre_market
from ttai.jobs.weekly import run_weekly

JOBS: dict[str, JobSpec] = {
    spec.job_type: spec
    for spec in (
        JobSpec("pre-market", run_pre_market),
        JobSpec("analysis", run_analysis),
        JobSpec("intraday", run_intraday),
        JobSpec("end-of-day", run_end_of_day),
        JobSpec("weekly", run_weekly),
        JobSpec("backup", run_backup_job, market_days_only=False),
    )
}
JOB_TYPES: tuple[str, ...] = tuple(JOBS)
