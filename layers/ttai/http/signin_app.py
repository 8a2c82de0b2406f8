"""The auth function's resolver: the two public steps of signing in with TastyTrade, and syncing a user's positions
from TastyTrade (the one other route that opens a user's broker tokens, so their key stays in this function)."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from ttai.errors import TtaiError, Unauthorized, describe_error
from ttai.http import deps
from ttai.http.app import create_resolver
from ttai.http.openapi import responses
from ttai.models.account import SignInResult
from ttai.models.positions import BrokerSyncResult
from ttai.observability import logger

router = Router()  # type: ignore[no-untyped-call]
OAuthValue = Annotated[str, Query(min_length=1, max_length=2048, pattern=r"^[\x21-\x7e]+$")]
State = Annotated[str, Query(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/auth/login", summary="Start signing in: redirects to TastyTrade")
def login() -> Response[None]:
    start = deps.signin().begin()
    return Response(status_code=302, headers={"Location": start.authorize_url, "Cache-Control": "no-store"})


@router.get("/auth/callback", summary="Finish signing in: TastyTrade redirects here with a code")
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

    request_id = router.current_event.raw_event.get("requestContext", {}).get("requestId")
    try:
        return deps.broker_positions().sync(Tenant(user_id=user_id, request_id=request_id))
    except TtaiError as exc:
        logger.warning("position sync after sign-in failed", extra={"error": describe_error(exc)})
        return None


@router.post(
    "/api/v1/positions/sync",
    summary="Sync the caller's positions from their TastyTrade accounts (a full sync: the ones gone are closed)",
    responses=responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def sync_positions() -> BrokerSyncResult:
    return deps.broker_positions().sync(deps.tenant(router))


def create_app() -> APIGatewayHttpResolver:
    return create_resolver((router, None))


app = create_app()
