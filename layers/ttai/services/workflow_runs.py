"""Workflows a user starts through the API, and their status for that user alone.

``start`` records the run in workflow_runs (its id, which workflow, whose) and then creates the instance, the
caller's user id in its params; if the instance cannot be created the row goes again. ``status`` reads the row for
the caller, so another user's run is not found exactly as an unknown id is, then asks the workflow. A complete
export's output gets a fresh download link: the one it made lasts five minutes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ttai.env import Env
from ttai.errors import NotFound
from ttai.models.workflows import RunWorkflow, WorkflowRunStatus, WorkflowStarted
from ttai.observability import logger

STATUS_PATH = "/api/v1/workflows/"
BINDINGS: dict[str, str] = {  # the workflows a user starts, by name; the backup is nobody's
    "analysis": "ANALYSIS_WORKFLOW",
    "screener": "SCREENER_WORKFLOW",
    "export": "EXPORT_WORKFLOW",
}
_RECORD = "INSERT INTO workflow_runs (id, workflow, user_id, created_at) VALUES (?1, ?2, ?3, ?4)"
_FORGET = "DELETE FROM workflow_runs WHERE id = ?1"
_OWNED = "SELECT workflow, created_at FROM workflow_runs WHERE id = ?1 AND user_id = ?2"


class WorkflowRuns:
    def __init__(self, env: Env, user_id: str) -> None:
        self.env = env
        self.user_id = user_id

    def start(self, workflow: RunWorkflow, params: dict[str, Any]) -> WorkflowStarted:
        """Start ``workflow`` for the caller with ``params`` (the user is added to them)."""
        instance_id = f"{workflow}-{uuid.uuid4().hex}"
        db = self.env.DB
        db.prepare(_RECORD).bind(instance_id, workflow, self.user_id, datetime.now(UTC)).run()
        try:
            self.env.workflow(BINDINGS[workflow]).create(id=instance_id, params={**params, "user": self.user_id})
        except BaseException:
            db.prepare(_FORGET).bind(instance_id).run()
            raise
        # Under the request's correlation id, which the instance runs under and carries into what it sends.
        logger.info("workflow started", extra={"workflow": workflow, "instance_id": instance_id})
        return WorkflowStarted(id=instance_id, workflow=workflow, status_url=f"{STATUS_PATH}{instance_id}")

    def status(self, instance_id: str) -> WorkflowRunStatus:
        row = self.env.DB.prepare(_OWNED).bind(instance_id, self.user_id).first()
        if row is None:
            raise NotFound(f"no workflow run {instance_id!r}")
        workflow: RunWorkflow = row["workflow"]
        status = self.env.workflow(BINDINGS[workflow]).get(instance_id).status()
        output = status["output"]
        if workflow == "export" and status["status"] == "complete" and isinstance(output, dict) and "name" in output:
            output = {**output, **self._fresh_link(str(output["name"]))}
        return WorkflowRunStatus(
            id=instance_id,
            workflow=workflow,
            status=status["status"],
            error=status["error"],
            output=output,
            created_at=row["created_at"],
        )

    def _fresh_link(self, name: str) -> dict[str, str]:
        from ttai.services.storage import StorageService  # noqa: PLC0415 - exports only

        link = StorageService(self.env.R2, self.user_id).export_url(name)
        return {"url": link.url, "expires_at": link.expires_at.isoformat()}
