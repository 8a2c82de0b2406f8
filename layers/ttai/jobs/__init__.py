"""Seed 002's scheduled market jobs: ``run_job(env, job_type, scheduled_time)``, each run recorded through seed 003's
job storage (``ttai.services.jobs``).

Imports ``holidays`` (the scheduler function's layer): never import this package from the api function.
"""

from ttai.jobs.registry import JOB_TYPES, JOBS
from ttai.jobs.runner import JobRun, UnknownJobType, run_job

__all__ = ["JOBS", "JOB_TYPES", "JobRun", "UnknownJobType", "run_job"]
