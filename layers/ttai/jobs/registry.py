"""Every job type and the function that runs it. A new job (the integrator's 'backup') is one entry here, plus
its name in job_executions' CHECK (already there for backup) and its schedule in storage.json."""

from __future__ import annotations

from ttai.jobs.analysis import run_analysis
from ttai.jobs.base import JobSpec

JOBS: dict[str, JobSpec] = {spec.job_type: spec for spec in (JobSpec("analysis", run_analysis),)}
JOB_TYPES: tuple[str, ...] = tuple(JOBS)
