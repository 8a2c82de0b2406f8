"""The payload a schedule sends the scheduler function (EventBridge Scheduler's target input, and the local
scheduler's): the job type, the cron it fired on, and ``<aws.scheduler.scheduled-time>`` (ISO 8601, UTC)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ttai.jobs.registry import JOBS
from ttai.models.times import Timestamp


class SchedulePayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_type: str
    cron: Annotated[str, Field(min_length=9, max_length=100)]
    scheduled_time: Timestamp

    @field_validator("job_type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in JOBS:
            raise ValueError(f"unknown job type {value!r}: one of {', '.join(sorted(JOBS))}")
        return value


def describe(exc: ValidationError) -> list[dict[str, Any]]:
    """The validation errors, without echoing the input back into the logs."""
    return [{"field": ".".join(str(p) for p in e["loc"]) or "payload", "message": e["msg"]} for e in exc.errors()]
