"""ExportWorkflow: a user's dataset export or account archive, written into their exports a part per step.

The first step plans the file (its name, and its sections: ``ttai.services.export_file``); each following step fills
one part of about 5 MiB from where the last stopped and uploads it, checkpointing the position and the multipart
upload's id; a last step completes the upload (a file that fits one part is one PutObject, with nothing to
complete) and one makes a download link. No step reads more than a part's worth of rows, so no export is bounded
by a request's 30 seconds or an invocation's 15 minutes. A part that fails for good aborts the upload and errors
the instance.

Params: ``{"user": "<user id>", "dataset": "analyses" | "journal" | "positions" | "account", "format": "csv" |
"json"}`` (the account archive is JSON). Output: ``{"name", "size", "uploaded", "content_type", "rows", "url",
"expires_at"}``; the link lasts five minutes, and ``GET /api/v1/exports/{name}`` makes a new one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from ttai.bindings.workflows import WorkflowEntrypoint, WorkflowEvent, WorkflowStep, WorkflowStepError
from ttai.env import Env
from ttai.messages import UserId
from ttai.services.data_rights import DataRightsService
from ttai.services.export_file import ExportPlan, ExportWriter, write_export
from ttai.services.exports import Dataset, ExportRequest, ExportService, Format
from ttai.services.storage import StorageService
from ttai.workflows.base import IO_STEP, PART_STEP, as_stages, parse_params

ACCOUNT = "account"  # the dataset name of the account archive (seed 004's export of everything)


class ExportParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: UserId
    dataset: Dataset | Literal["account"]
    format: Format = "csv"

    @model_validator(mode="after")
    def _archive_is_json(self) -> ExportParams:
        if self.dataset == ACCOUNT and self.format != "json":
            raise ValueError("the account archive is a JSON document")
        return self


class ExportWorkflow(WorkflowEntrypoint):
    env: Env

    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        params = parse_params(ExportParams, event.payload)
        storage = StorageService(self.env.R2, params.user)

        @step.do("plan", config=IO_STEP)
        def planned() -> dict[str, Any]:
            return self._plan(params, storage).to_json()

        plan = ExportPlan.from_json(planned())
        exported = write_export(
            plan, self._writer(params, storage), as_stages(step, PART_STEP), failures=(WorkflowStepError,)
        )

        @step.do("link", config=IO_STEP)
        def link() -> dict[str, str]:
            made = storage.export_url(plan.name)
            return {"url": made.url, "expires_at": made.expires_at.isoformat()}

        return {**exported.file.model_dump(mode="json"), "rows": exported.rows, **link()}

    def _plan(self, params: ExportParams, storage: StorageService) -> ExportPlan:
        if params.dataset == ACCOUNT:
            return self._account(params).archive_plan()
        request = ExportRequest(dataset=params.dataset, format=params.format)
        return ExportService(self.env.DB, storage).plan(request)

    def _writer(self, params: ExportParams, storage: StorageService) -> ExportWriter:
        if params.dataset == ACCOUNT:
            return self._account(params).writer(storage)
        return ExportService(self.env.DB, storage).writer()

    def _account(self, params: ExportParams) -> DataRightsService:
        return DataRightsService(self.env.DB, self.env.KV, self.env.R2, params.user)
