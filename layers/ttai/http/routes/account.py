"""The caller's own account: ``GET /api/v1/me`` and ``POST /auth/logout``."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ttai.auth.sessions import SessionStore
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.principal import current_principal
from ttai.models.account import Profile
from ttai.services.account import AccountService

router = Router()  # type: ignore[no-untyped-call]


@router.get(
    "/api/v1/me",
    summary="The signed-in user's profile and preferences",
    responses=responses(HTTPStatus.NOT_FOUND),
)
def me() -> Profile:
    principal = current_principal(router)
    return AccountService(deps.env().DB, principal.user_id).profile()


@router.post(
    "/auth/logout",
    summary="End the session of the token that made this request",
    responses=responses(success=HTTPStatus.NO_CONTENT),
)
def logout() -> Response[None]:
    principal = current_principal(router)
    SessionStore(deps.env()).revoke(principal.user_id, principal.session_id)
    return Response(status_code=204)
