"""``/auth``: signing in with TastyTrade and signing out, in one module although two functions serve them.

API Gateway sends the two public sign-in steps to the auth function (it alone holds the OAuth client and the token
encryption key) and ``POST /auth/logout``, behind the authorizer, to the api function. So there are two routers:
``signin``, which the auth function's resolver includes (``ttai.http.signin_app``), and ``router``, the api
function's, which it includes with the first request under ``/auth/logout`` (``API_ROUTERS``). Nothing here imports
what only one of them needs until a request does: the auth function starts as small as it did.

A sign-in started with ``return_to`` is a browser's: it ends with a redirect to that page and the session in cookies
(``ttai.http.session_cookies``), and only in the browser that started it; sign-out clears those cookies.
"""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from ttai.errors import TtaiError, Unauthorized, describe_error
from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.principal import current_principal
from ttai.http.session_cookies import (
    RETURN_PATH,
    SIGN_IN_COOKIE,
    SignInCookie,
    cleared_session_cookies,
    request_cookies,
    session_cookies,
    set_cookie,
)
from ttai.models.account import SignInResult
from ttai.observability import logger

if TYPE_CHECKING:
    from ttai.models.positions import BrokerSyncResult

signin = Router()  # type: ignore[no-untyped-call]
router = Router()  # type: ignore[no-untyped-call]
OAuthValue = Annotated[str, Query(min_length=1, max_length=2048, pattern=r"^[\x21-\x7e]+$")]
State = Annotated[str, Query(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
ReturnTo = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=RETURN_PATH,
        description="a page of this site to return to, signed in with a session cookie, instead of the JSON answer",
    ),
]


@signin.get(
    "/auth/login",
    summary="Start signing in: redirects to TastyTrade",
    responses={HTTPStatus.FOUND.value: {"description": "to TastyTrade's authorization page", "content": {}}},
)
def login(return_to: ReturnTo = None) -> Response[None]:
    from ttai.services.signin import STATE_TTL_SECONDS  # noqa: PLC0415 - loaded by deps.signin() anyway

    start = deps.signin().begin()
    cookies = []
    if return_to is not None:
        # A browser's sign-in: the state is bound to this browser, and the callback returns it to the page.
        pending = SignInCookie(start.state, return_to).value()
        cookies.append(set_cookie(SIGN_IN_COOKIE, pending, max_age=STATE_TTL_SECONDS))
    return Response(
        status_code=302, headers={"Location": start.authorize_url, "Cache-Control": "no-store"}, cookies=cookies
    )


@signin.get(
    "/auth/callback",
    summary="Finish signing in: TastyTrade redirects here with a code",
    responses={
        **responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.SERVICE_UNAVAILABLE),
        HTTPStatus.OK.value: {
            "description": "the new session (a sign-in started without return_to)",
            "content": {"application/json": {"model": SignInResult}},
        },
        HTTPStatus.SEE_OTHER.value: {
            "description": "a browser's sign-in (started with return_to): the session is in its cookies, and it "
            "returns to the page it came from",
            "content": {},
        },
    },
)
def callback(
    state: State, code: OAuthValue | None = None, error: Annotated[str | None, Query(max_length=200)] = None
) -> Response[Any]:
    browser = SignInCookie.parse(request_cookies(signin.current_event.raw_event).get(SIGN_IN_COOKIE))
    if browser is not None and not hmac.compare_digest(browser.state.encode(), state.encode()):
        # This browser started another sign-in: a callback link from elsewhere must not sign it in as someone else.
        raise Unauthorized("this sign-in was not started in this browser: start again at /auth/login")
    if error is not None or code is None:
        raise Unauthorized(f"sign-in was not completed: {error or 'no authorization code'}")
    signed_in = deps.signin().complete(code, state)
    session = signed_in.session
    positions = _sync_after_sign_in(session.claims.user_id)
    if browser is not None:
        max_age = session.claims.expires_at - int(time.time())
        cookies = [
            *session_cookies(session.token, session.claims.session_id, max_age),
            set_cookie(SIGN_IN_COOKIE, "", max_age=0),
        ]
        headers = {"Location": browser.return_to, "Cache-Control": "no-store"}
        return Response(status_code=HTTPStatus.SEE_OTHER.value, headers=headers, cookies=cookies)
    result = SignInResult(
        token=session.token,
        expires_at=datetime.fromtimestamp(session.claims.expires_at, UTC),
        user=signed_in.user,
        positions=positions,
    )
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type=content_types.APPLICATION_JSON,
        body=result,
        headers={"Cache-Control": "no-store"},
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
    # A browser signed in with cookies forgets them (a bearer client has none: the expired cookies are moot).
    return Response(status_code=HTTPStatus.NO_CONTENT.value, cookies=cleared_session_cookies())
