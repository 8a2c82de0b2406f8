"""job_run: a manual run of a scheduled job (``POST /api/v1/jobs/{type}/run``), through ``ttai.jobs.run_job``.

run_job is idempotent per (job type, scheduled time) on its own: a redelivered task finds the run claimed and
returns it. A run that fails is recorded as 'failure' by run_job and re-raised, so this delivery is retried; the
retry finds the recorded run and acks. An unknown job type is retried until the DLQ like any other failure.
"""

from __future__ import annotations

from typing import Any

from ttai.env import Env
from ttai.messages import JobRunRequested


def handle(env: Env, message: JobRunRequested) -> dict[str, Any]:
    # ttai.jobs needs holidays (the scheduler function's layer): only a job_run pays for loading it.
    from ttai.jobs import run_job  # noqa: PLC0415

    run = run_job(env, message.job_type, message.scheduled_time, trigger="manual")
    return run.summary()
