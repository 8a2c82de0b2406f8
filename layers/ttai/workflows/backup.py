"""BackupWorkflow: the nightly backup (``ttai.services.backups``), a step per part of each table's file.

A step claims the run in job_executions (one per scheduled time, as the scheduled job did), one plans the tables,
one opens the snapshot (a read-only transaction every later step reads in, by its id), one per part of about 5 MiB
compressed writes a table's rows, one writes the manifest and ends the snapshot, one records the outcome. So the
database's size never meets a Lambda timeout: each step reads one part. A snapshot that ends early (the Data API
drops a transaction unused for 3 minutes) starts the tables again in a new one; any other failure that outlasts
its step's retries is recorded as the run's failure and errors the instance.

Params: ``{"scheduled_time": "<ISO 8601 with a zone>", "trigger": "schedule" | "manual"}``. Output: the backup's
counts (prefix, tables, rows, bytes, parts, schema_version) and the run's ``execution_id``, or ``{"ran": false}``
when another instance or job already claimed that scheduled time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from ttai.bindings.workflows import (
    NonRetryableError,
    WorkflowEntrypoint,
    WorkflowEvent,
    WorkflowStep,
    WorkflowStepError,
)
from ttai.env import Env
from ttai.jobs.calendar import market_date
from ttai.services import backups
from ttai.services.jobs import JobStorage
from ttai.workflows.base import IO_STEP, PART_STEP, as_stages, parse_params

T = TypeVar("T")
JOB_TYPE = "backup"


class SnapshotLost(NonRetryableError):
    """The backup's snapshot ended: retrying the step cannot bring it back, the backup starts a new one."""


class BackupParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scheduled_time: AwareDatetime
    trigger: Literal["schedule", "manual"] = "schedule"


class BackupWorkflow(WorkflowEntrypoint):
    env: Env

    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        params = parse_params(BackupParams, event.payload)
        scheduled = params.scheduled_time.astimezone(UTC)
        storage = JobStorage(self.env.DB)

        @step.do("claim", config=IO_STEP)
        def claimed() -> dict[str, Any]:
            execution, owned = storage.claim(
                JOB_TYPE,
                scheduled,
                market_date(scheduled),
                datetime.now(UTC),
                {"trigger": params.trigger, "workflow_id": event.instance_id},
            )
            # This step's own claim, made by an attempt whose result was not checkpointed, is ours too.
            ours = owned or (
                execution.status == "running" and execution.metadata.get("workflow_id") == event.instance_id
            )
            return {"execution_id": execution.id, "owned": ours, "status": execution.status}

        claim = claimed()
        if not claim["owned"]:
            return {"ran": False, "execution_id": claim["execution_id"], "status": claim["status"]}
        execution_id = int(claim["execution_id"])
        stage = _without_retrying_lost_snapshots(as_stages(step, PART_STEP))
        try:
            written = backups.write_backup(
                self.env.DB,
                self.env.R2,
                scheduled,
                stage,
                failures=(WorkflowStepError,),
                lost=lambda exc: isinstance(exc, WorkflowStepError) and exc.name == SnapshotLost.__name__,
            )
        except WorkflowStepError as failure:
            reason = f"{failure.name}: {failure.message}"

            @step.do("record failure", config=IO_STEP)
            def record_failure() -> None:
                _finish(storage, execution_id, "failure", error_message=reason)

            record_failure()
            raise

        @step.do("record", config=IO_STEP)
        def record() -> None:
            tables = int(written["tables"])
            _finish(
                storage,
                execution_id,
                "success",
                processed=tables,
                successful=tables,
                metadata={"unit": "tables", **written},
            )

        record()
        return {**written, "execution_id": execution_id}


def _without_retrying_lost_snapshots(
    stage: Callable[[str, Callable[[], Any]], Any],
) -> Callable[[str, Callable[[], Any]], Any]:
    def run(name: str, work: Callable[[], Any]) -> Any:
        def attempt() -> Any:
            try:
                return work()
            except backups.SnapshotLost as exc:
                raise SnapshotLost(str(exc)) from exc

        return stage(name, attempt)

    return run


def _finish(storage: JobStorage, execution_id: int, status: str, **outcome: Any) -> None:
    """The run's outcome, its duration from the claim to now (the steps' wall time, waits included)."""
    execution = storage.db.prepare("SELECT started_at FROM job_executions WHERE id = ?").bind(execution_id).first()
    started = execution["started_at"] if execution else datetime.now(UTC)
    now = datetime.now(UTC)
    storage.finish(
        execution_id,
        status=status,
        finished_at=now,
        duration_ms=int((now - started).total_seconds() * 1000),
        **outcome,
    )
