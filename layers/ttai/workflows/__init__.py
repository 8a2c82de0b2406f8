"""The workflows TTAI runs (Cloudflare Workflows on Lambda durable functions), one module each, by binding name.

- ``ANALYSIS_WORKFLOW``: a user's analysis of up to 500 symbols, a step per symbol per stage (``analysis``).
- ``SCREENER_WORKFLOW``: one run of a saved screener, evaluated, stored and announced (``screener``).
- ``EXPORT_WORKFLOW``: a dataset export or the account archive, written a multipart part per step (``export``).
- ``BACKUP_WORKFLOW``: the nightly backup, a part of one table's file per step in one snapshot (``backup``).

A class is imported by name when its function (or the local runner) needs it, so this module loads nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ttai.bindings.workflows import WorkflowEntrypoint


class WorkflowSpec(NamedTuple):
    name: str  # the workflow's name (Cloudflare's ``name`` in wrangler.toml): instance records and blob keys use it
    entrypoint: str  # "module:Class"


# By binding name (env.ANALYSIS_WORKFLOW). Every instance id the API makes starts with the workflow's name.
WORKFLOWS: dict[str, WorkflowSpec] = {
    "ANALYSIS_WORKFLOW": WorkflowSpec("analysis", "ttai.workflows.analysis:AnalysisWorkflow"),
    "SCREENER_WORKFLOW": WorkflowSpec("screener", "ttai.workflows.screener:ScreenerWorkflow"),
    "EXPORT_WORKFLOW": WorkflowSpec("export", "ttai.workflows.export:ExportWorkflow"),
    "BACKUP_WORKFLOW": WorkflowSpec("backup", "ttai.workflows.backup:BackupWorkflow"),
}


def workflow_class(binding: str) -> type[WorkflowEntrypoint]:
    """The class that runs behind the binding ``binding`` (``ANALYSIS_WORKFLOW``...)."""
    module, _, name = WORKFLOWS[binding].entrypoint.partition(":")
    found: type[WorkflowEntrypoint] = getattr(importlib.import_module(module), name)
    return found


def lambda_handler(binding: str) -> Callable[[Any, Any], Any]:
    """The handler of ``binding``'s durable function: each invocation replays the workflow's run, with the function's
    ``Env`` and what a running workflow needs of it (the workflows table, the bucket)."""
    from ttai.bindings.workflows import durable_handler  # noqa: PLC0415 - loads the durable SDK's wrapper
    from ttai.env import Env  # noqa: PLC0415

    return durable_handler(
        workflow_class(binding), backend=lambda: Env.from_environ().workflow_runtime(), env=Env.from_environ
    )
