"""The auth function's resolver: the two public steps of signing in with TastyTrade."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from ttai.errors import Unauthorized
from ttai.http import deps
from ttai.http.app import create_resolver
from ttai.models.account import SignInResult

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
    )


def create_app() -> APIGatewayHttpResolver:
    return create_resolver((router, None))


app = create_app()
