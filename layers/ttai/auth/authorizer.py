"""The HTTP API's Lambda REQUEST authorizer (payload 2.0, simple responses): verify, then look up the session."""

from __future__ import annotations

from typing import Any

from ttai.auth.sessions import SessionStore
from ttai.env import Env
from ttai.errors import Unauthorized, describe_error
from ttai.http.session_cookies import SESSION_COOKIE, request_cookies
from ttai.observability import logger

DENY: dict[str, Any] = {"isAuthorized": False}


def bearer_token(event: dict[str, Any]) -> str | None:
    """The token from ``Authorization: Bearer <token>`` (identity source first, then the header itself), else a
    browser's session cookie. A request carrying both is judged on the header (``ttai.http.csrf`` relies on it)."""
    sources = event.get("identitySource") or []
    header = sources[0] if sources else (event.get("headers") or {}).get("authorization")
    if not isinstance(header, str):
        return session_cookie(event)
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def session_cookie(event: dict[str, Any]) -> str | None:
    """The session token a browser sends in its HttpOnly cookie (``ttai.http.session_cookies``)."""
    token = request_cookies(event).get(SESSION_COOKIE, "").strip()
    return token or None


def request_id(event: dict[str, Any]) -> str | None:
    """API Gateway's id of the request being authorized (the correlation id the api function logs too)."""
    value = (event.get("requestContext") or {}).get("requestId")
    return value if isinstance(value, str) else None


def authorize(env: Env, event: dict[str, Any]) -> dict[str, Any]:
    """Allow with the caller's identity as context, or deny. Signature and expiry are checked before any I/O,
    so forged and expired tokens cost no AWS call; only a well-signed token costs one session lookup."""
    token = bearer_token(event)
    if token is None:
        logger.info("denied", extra={"reason": "no bearer token", "route": event.get("routeKey")})
        return DENY
    try:
        claims = SessionStore(env).verify(token)
    except Unauthorized as exc:
        logger.info("denied", extra={"reason": str(exc), "route": event.get("routeKey")})
        return DENY
    except Exception as exc:
        # Neither allow nor deny: API Gateway answers its own bare 500 (an HTTP API has no gateway responses to
        # shape it), so this line, under the request's id, is where the cause is found. A throttled session read
        # lands here too; denying would tell a caller with a good token that it is bad.
        logger.error(
            "authorizer failed: API Gateway answers 500",
            extra={"correlation_id": request_id(event), "route": event.get("routeKey"), "error": describe_error(exc)},
        )
        raise
    logger.append_keys(user_id=claims.user_id)
    return {
        "isAuthorized": True,
        "context": {
            "user_id": claims.user_id,
            "session_id": claims.session_id,
            "scopes": " ".join(sorted(claims.scopes)),
        },
    }
