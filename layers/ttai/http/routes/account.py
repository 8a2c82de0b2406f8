"""The caller's own account: ``GET /api/v1/me``, its export and erasure (seed 004). Signing out is in ``auth``."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.principal import current_principal
from ttai.http.replies import no_content
from ttai.models.account import Profile
from ttai.models.workflows import WorkflowStarted
from ttai.services.account import AccountService
from ttai.services.data_rights import DataRightsService

router = Router()  # type: ignore[no-untyped-call]


@router.get(
    "/api/v1/me",
    summary="The signed-in user's profile and preferences",
    responses=responses(HTTPStatus.NOT_FOUND),
)
def me() -> Profile:
    principal = current_principal(router)
    return AccountService(deps.env().DB, principal.user_id).profile()


@router.get(
    "/api/v1/me/export",
    summary="Everything the caller owns as one JSON archive in their exports: a workflow writes it a part at a "
    "time; poll status_url for its download link",
    responses=responses(success=HTTPStatus.ACCEPTED),
)
def export_account() -> Response[WorkflowStarted]:
    from ttai.services.workflow_runs import WorkflowRuns  # noqa: PLC0415 - the workflow binding loads with a run

    user_id = current_principal(router).user_id
    started = WorkflowRuns(deps.env(), user_id).start("export", {"dataset": "account", "format": "json"})
    return Response(status_code=HTTPStatus.ACCEPTED.value, content_type=content_types.APPLICATION_JSON, body=started)


@router.delete(
    "/api/v1/me",
    summary="Erase the caller: every row, cache entry and stored object; sessions end; the audit trail is redacted",
    responses=responses(success=HTTPStatus.NO_CONTENT),
)
def erase_account() -> Response[None]:
    from ttai.auth.admission import Admission  # noqa: PLC0415 - erasure alone ends sessions here

    erasure = _data_rights().erase()
    # Their records are gone; the marks refuse the sessions while the authorizer's cache may still answer for them.
    Admission.from_env(deps.env()).revoke(current_principal(router).user_id, erasure.session_ids)
    return no_content()


def _data_rights() -> DataRightsService:
    env = deps.env()
    return DataRightsService(env.DB, env.KV, env.R2, current_principal(router).user_id)
