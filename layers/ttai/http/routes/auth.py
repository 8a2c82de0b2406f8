"""``/auth``: signing in with TastyTrade and signing out, in one module although two functions serve them.

API Gateway sends the two public sign-in steps to the auth function (it alone holds the OAuth client and the token
encryption key) and ``POST /auth/logout``, behind the authorizer, to the api function. So there are two routers:
``signin``, which the auth function's resolver includes (``ttai.http.signin_app``), and ``router``, the api
function's, which it includes with the first request under ``/auth/logout`` (``API_ROUTERS``). Nothing here imports
what only one of them needs until a request does: the auth function starts as small as it did.
"""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from ttai.errors import TtaiError, Unauthorized, describe_error
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.principal import current_principal
from ttai.http.replies import no_content
from ttai.models.account import SignInResult
from ttai.observability import logger

if TYPE_CHECKING:
    from ttai.models.positions import BrokerSyncResult

signin = Router()  # type: ignore[no-untyped-call]
router = Router()  # type: ignore[no-untyped-call]
OAuthValue = Annotated[str, Query(min_length=1, max_length=2048, pattern=r"^[\x21-\x7e]+$")]
State = Annotated[str, Query(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


@signin.get("/auth/login", summary="Start signing in: redirects to TastyTrade")
def login() -> Response[None]:
    start = deps.signin().begin()
    return Response(status_code=302, headers={"Location": start.authorize_url, "Cache-Control": "no-store"})


@signin.get("/auth/callback", summary="Finish signing in: TastyTrade redirects here with a code")
def callback(
    state: State, code: OAuthValue | None = None, error: Annotated[str | None, Query(max_length=200)] = None
) -> SignInResult:
    if error is not None or code is None:
        raise Unauthorized(f"sign-in was not completed: {error or 'no authorization code'}")
    signed_in = deps.signin().complete(code, state)
    return SignInResult(
        token=signed_in.session.token,
        expires_at=datetime.fromtimestamp(signed_in.session.claims.expires_at, UTC),
        user=signed_in.user,
        positions=_sync_after_sign_in(signed_in.session.claims.user_id),
    )


def _sync_after_sign_in(user_id: str) -> BrokerSyncResult | None:
    """The positions of who just signed in; a sync that fails leaves them signed in and is logged."""
    from ttai.services.tenancy import Tenant  # noqa: PLC0415

    request_id = signin.current_event.raw_event.get("requestContext", {}).get("requestId")
    try:
        return deps.broker_positions().sync(Tenant(user_id=user_id, request_id=request_id))
    except TtaiError as exc:
        logger.warning("position sync after sign-in failed", extra={"error": describe_error(exc)})
        return None


@router.post(
    "/auth/logout",
    summary="End the session of the token that made this request",
    responses=responses(success=HTTPStatus.NO_CONTENT),
)
def logout() -> Response[None]:
    from ttai.auth.sessions import SessionStore  # noqa: PLC0415 - the auth function does not load it at start

    principal = current_principal(router)
    SessionStore(deps.env()).revoke(principal.user_id, principal.session_id)
    return no_content()
