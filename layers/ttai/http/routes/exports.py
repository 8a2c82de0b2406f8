"""``/api/v1/exports``: the caller's data as files in their exports (written by a workflow), and short-lived links to
download them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ttai.cursors import Page
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.params import DEFAULT_PAGE_SIZE, Limit, StorageCursor, name_path
from ttai.http.replies import accepted
from ttai.models.workflows import WorkflowStarted
from ttai.services.exports import ExportRequest
from ttai.services.storage import ExportLink, ListedExport, StorageService

router = Router()  # type: ignore[no-untyped-call]
NamePath = Annotated[str, name_path("an export's name, as listed")]


def _storage() -> StorageService:
    env = deps.env()
    return StorageService(env.R2, deps.tenant(router).user_id, cursors=deps.cursors())


@router.post(
    "/exports",
    summary="Export the caller's analyses, journal or positions as a CSV or JSON file in their exports: a workflow "
    "writes it a part at a time; poll status_url for its download link",
    responses=responses(success=HTTPStatus.ACCEPTED),
)
def create_export(body: ExportRequest) -> Response[WorkflowStarted]:
    from ttai.services.workflow_runs import WorkflowRuns  # noqa: PLC0415 - the workflow binding loads with a run

    started = WorkflowRuns(deps.env(), deps.tenant(router).user_id).start("export", body.model_dump())
    return accepted(started)


@router.get(
    "/exports",
    summary="The caller's exports, by name, each with a link to download it valid for five minutes",
    responses=responses(HTTPStatus.BAD_REQUEST),
)
def list_exports(limit: Limit = DEFAULT_PAGE_SIZE, cursor: StorageCursor = None) -> Page[ListedExport]:
    return _storage().list_exports(limit, cursor)


@router.get(
    "/exports/<name>",
    summary="A link to download one of the caller's exports, valid for five minutes",
    responses=responses(HTTPStatus.NOT_FOUND),
)
def export_link(name: NamePath) -> ExportLink:
    return _storage().export_url(unquote(name))
