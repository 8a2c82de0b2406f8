"""The workflows TTAI runs (Cloudflare Workflows on Lambda durable functions), one module each, by binding name.

- ``ANALYSIS_WORKFLOW``: a user's analysis of up to 500 symbols, a step per symbol per stage (``analysis``).
- ``SCREENER_WORKFLOW``: one run of a saved screener, evaluated, stored and announced (``screener``).
- ``EXPORT_WORKFLOW``: a dataset export or the account archive, written a multipart part per step (``export``).
- ``BACKUP_WORKFLOW``: the nightly backup, a part of one table's file per step in one snapshot (``backup``).

A class is imported by name when its function (or the local runner) needs it, so this module loads nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ttai.bindings.workflows import WorkflowEntrypoint

WORKFLOWS: dict[str, str] = {
    "ANALYSIS_WORKFLOW": "ttai.workflows.analysis:AnalysisWorkflow",
    "SCREENER_WORKFLOW": "ttai.workflows.screener:ScreenerWorkflow",
    "EXPORT_WORKFLOW": "ttai.workflows.export:ExportWorkflow",
    "BACKUP_WORKFLOW": "ttai.workflows.backup:BackupWorkflow",
}


def workflow_class(binding: str) -> type[WorkflowEntrypoint]:
    """The class that runs behind the binding ``binding`` (``ANALYSIS_WORKFLOW``...)."""
    module, _, name = WORKFLOWS[binding].partition(":")
    found: type[WorkflowEntrypoint] = getattr(importlib.import_module(module), name)
    return found
