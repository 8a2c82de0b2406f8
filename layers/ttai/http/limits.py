"""Per-user limits and revoked sessions at the door of the api and auth functions: every request the authorizer let
through costs one UpdateItem (ttai.auth.admission) before anything else runs; a public one (signing in) none.

A request past its bucket is a 429 with Retry-After, one whose session has ended a 401, both with the standard
error body; nothing of the route runs, no Idempotency-Key is claimed. While the limits table cannot be reached,
requests go on without it (logged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from ttai.errors import Unavailable, describe_error
from ttai.observability import logger

Answer = Callable[..., dict[str, Any]]


def _caller(event: Mapping[str, Any]) -> tuple[str, str, frozenset[str]] | None:
    context = (event.get("requestContext") or {}).get("authorizer", {}).get("lambda") or {}
    user_id, session_id = context.get("user_id"), context.get("session_id")
    if not isinstance(user_id, str) or not user_id or not isinstance(session_id, str) or not session_id:
        return None
    return user_id, session_id, frozenset(str(context.get("scopes", "")).split())


def refusal(event: Mapping[str, Any], answer: Answer) -> dict[str, Any] | None:
    """None to go on; else the answer (429, 401 or 503) that ends the request. ``answer(status, code, message,
    **extra)`` builds an error answer as the resolver does."""
    caller = _caller(event)
    if caller is None:
        return None  # a public route: nobody's bucket to draw on
    user_id, session_id, scopes = caller
    from ttai.auth.admission import SERVICE_SCOPE, Admission  # noqa: PLC0415 - not on public routes' path
    from ttai.env import Env  # noqa: PLC0415

    try:
        verdict = Admission.from_env(Env.from_environ()).admit(user_id, session_id, service=SERVICE_SCOPE in scopes)
    except Unavailable as exc:
        # A guard, not a dependency: while the limits table cannot be reached (throttled, DynamoDB away) the request
        # goes on, and meets its route's own dependencies, each answering its own 503; the authorizer still checks
        # the session whenever API Gateway's cache of its answer lapses.
        logger.warning("request limits unavailable: admitted without them", extra={"error": describe_error(exc)})
        return None
    if verdict.outcome == "revoked":
        logger.info("refused: session revoked", extra={"user_id": user_id})
        return answer(HTTPStatus.UNAUTHORIZED, "unauthorized", "session revoked")
    if verdict.outcome == "limited" and verdict.bucket is not None:
        bucket = verdict.bucket
        unit = "second" if verdict.retry_after == 1 else "seconds"
        logger.info("refused: rate limited", extra={"user_id": user_id, "retry_after": verdict.retry_after})
        refused = answer(
            HTTPStatus.TOO_MANY_REQUESTS,
            "rate_limited",
            f"too many requests: {bucket.burst} per {bucket.window_seconds:g} seconds for this token; "
            f"retry in {verdict.retry_after} {unit}",
        )
        refused["headers"]["Retry-After"] = str(verdict.retry_after)
        return refused
    return None
